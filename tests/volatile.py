"""Find committed notebook outputs that depend on the machine, the archive or the day.

nbval compares each executed cell with its committed output, after the sanitize
file's regexes have masked what may differ between runs. An output that still
holds a kernel package name, a program's version, a CPU model, a home or
temporary folder, a date, a host name or a core count passes on the machine
that wrote it and fails on one set up next month. :func:`scan` finds those
tokens the way nbval sees the output: only in cells and output keys nbval
compares, and only after sanitizing.
"""
from __future__ import annotations

import dataclasses
import os
import re
import socket
import tempfile
from pathlib import Path

import nbformat
from nbval.plugin import coalesce_streams, find_comment_markers, find_metadata_tags, get_sanitize_patterns

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"

# What nbval leaves out of its comparison: its own defaults, and plotly's JSON (labkit._nbval_plotly).
NOT_COMPARED = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg",
                "application/vnd.plotly.v1+json"}

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_PROGRAMS = (r"QEMU|qemu(?:-system-\w+)?|Go|go|Python|python3?|CPython|Chromium|chromium|Debian|Ubuntu|"
             r"pyVmomi|pyvmomi|pandas|numpy|NumPy|plotly|JupyterLab|jupyterlab|ipykernel|ipywidgets|nbval|"
             r"nbclient|pytest|IPython|tornado|Playwright|playwright|busybox|BusyBox|gcc|GCC|Linux|glibc")

#: (kind, pattern). Each is a token that differs between machines, archive updates or days.
PATTERNS: list[tuple[str, re.Pattern]] = [
    ("kernel package name", re.compile(r"linux-(?:image|headers|modules)-\d[\w.+~-]*")),
    ("kernel release", re.compile(r"\b\d+\.\d+\.\d+-\d+(?:-\w+)*-(?:amd64|arm64|generic|cloud|virtual)\b")),
    ("Debian package version", re.compile(r"\b\d+:\d+\.\d+[\w.+~-]*|\b\d+(?:\.\d+)+[\w.]*[+~]"
                                          r"(?:ds|dfsg|deb\d+|bpo\d+|ubuntu|build)[\w.+~-]*")),
    ("program version", re.compile(rf"\b(?:{_PROGRAMS})[ /:v-]*\d+\.\d+(?:\.\d+)?\b|\bgo1\.\d+(?:\.\d+)?\b")),
    ("CPU model name", re.compile(r"Intel\(R\)|Core\(TM\)|\bXeon\b|AMD (?:EPYC|Ryzen|Opteron|Athlon)|"
                                  r"QEMU Virtual CPU|model name\s*:|\bvendor_id\b")),
    ("accelerator verdict", re.compile(r"\bwith (?:KVM|TCG)\b|/dev/kvm|\bKVM (?:failed|works|is not)")),
    ("absolute home or temporary path", re.compile(r"(?<![\w.])/(?:root|home/[\w.-]+|tmp|var/tmp|run/user/\d+|"
                                                   r"private/var|Users/[\w.-]+)(?=/|\b)")),
    ("date", re.compile(rf"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b|\b[0-3]?\d {_MONTH},? (?:19|20)\d\d\b|"
                        rf"\b{_MONTH} [0-3]?\d,? (?:19|20)\d\d\b|(?<![:\w])[0-2]\d:[0-5]\d:[0-5]\d(?![:\w])")),
    ("core count", re.compile(r"\b\d+ (?:CPU |logical |physical )?(?:cores?|CPUs|processors)\b(?! of the VM)")),
]


def _machine_patterns() -> list[tuple[str, re.Pattern]]:
    """This machine's own facts: its host name, home and temporary folder, project folder and CPU model."""
    out = []
    host = socket.gethostname()
    if len(host) >= 4 and host not in ("localhost",):
        out.append(("host name", re.compile(rf"\b{re.escape(host)}\b")))
    for kind, path in (("home folder", Path.home()), ("temporary folder", Path(tempfile.gettempdir())),
                       ("project folder", ROOT)):
        if len(str(path)) > 1:
            out.append((kind, re.compile(re.escape(str(path)) + r"(?=/|\b)")))
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        out.append(("CPU model name", re.compile(re.escape(model))))
    except (OSError, StopIteration):
        pass
    if (os.cpu_count() or 0) > 1:
        out.append(("core count", re.compile(rf"\b{os.cpu_count()} (?:cores|CPUs)\b")))
    return out


@dataclasses.dataclass(frozen=True)
class Finding:
    notebook: str
    cell: int           # the code cell's number as nbval names its test item ("Cell N": code cells from 0)
    cell_id: str
    output: str         # "stream stdout", "text/plain", ...
    kind: str
    token: str

    def __str__(self) -> str:
        return (f"{self.notebook}::Cell {self.cell} (id {self.cell_id}, {self.output}): "
                f"{self.kind} {self.token!r}")


def sanitize_patterns(path: Path = SANITIZE) -> list[tuple[str, str]]:
    """The sanitize file's (regex, replacement) pairs, read by nbval's own parser."""
    return get_sanitize_patterns(path.read_text())


def sanitize(text: str, patterns: list[tuple[str, str]]) -> str:
    """What nbval compares: the text after every sanitize regex, in file order."""
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


def compared(cell) -> bool:
    """Does nbval (run with --nbval) compare this code cell's outputs?"""
    options = dict(find_metadata_tags(cell.get("metadata", {})))
    options.update(dict(find_comment_markers(cell.get("source", ""))))
    return options.get("check", True) and not options.get("skip", False)


def _texts(output):
    if output.get("output_type") == "stream":
        yield f"stream {output.get('name')}", output.get("text", "")
    for key, value in output.get("data", {}).items():
        if key not in NOT_COMPARED:
            yield key, value if isinstance(value, str) else "".join(value) if isinstance(value, list) else str(value)
    if output.get("output_type") == "error":
        yield "error", f"{output.get('ename')}: {output.get('evalue')}"


def scan(notebook, name: str = "", patterns: list[tuple[str, str]] | None = None) -> list[Finding]:
    """Every volatile token that nbval would compare in a notebook's committed outputs.

    ``notebook`` is a path or an nbformat notebook; ``patterns`` the sanitize
    pairs (default: the project's file). Returns findings in cell order.
    """
    if not isinstance(notebook, nbformat.NotebookNode):
        name = name or Path(notebook).name
        notebook = nbformat.read(str(notebook), as_version=4)
    patterns = sanitize_patterns() if patterns is None else patterns
    checks = PATTERNS + _machine_patterns()
    found = []
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for index, cell in enumerate(code):
        if not compared(cell):
            continue
        for output in coalesce_streams([nbformat.from_dict(dict(o)) for o in cell.get("outputs", [])]):
            for key, text in _texts(output):
                clean = sanitize(text, patterns)
                for kind, pattern in checks:
                    for m in pattern.finditer(clean):
                        found.append(Finding(name, index, cell.get("id", ""), key, kind, m.group(0)))
    return found
