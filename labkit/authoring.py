"""Authoring markers, cell roles and student releases.

An instructor's source notebook marks its exercise cells with tags and one
metadata field:

- a **solution** cell (tag ``solution``) holds the answer between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the release replaces that
  region by a placeholder (``answer = ...``, or ``metadata.labkit.placeholder``);
- a **test** cell (tag ``test``) calls ``labkit.exercises.check``, and nothing
  the learner cannot see: nbgrader's ``### BEGIN HIDDEN TESTS`` regions are
  refused, because a rule only the grader runs makes ``labkit grade`` disagree
  with the verdict the learner read (put the rule in the exercise's checker);
- both carry ``metadata.labkit.exercise``, the exercise id.

Every other cell is locked: grading always uses the source's version. These
are nbgrader's familiar markers, without nbgrader.
"""
from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

import nbformat

from .errors import LabkitError

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
DEFAULT_PLACEHOLDER = "answer = ...  # YOUR ANSWER HERE"


class AuthoringError(LabkitError):
    """A source notebook's markers or roles are inconsistent."""


def roles(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", [])) & {"solution", "test"}


def exercise_of(cell) -> str | None:
    return cell.get("metadata", {}).get("labkit", {}).get("exercise")


def _region(source: str, markers: tuple[str, str], replacement: str | None, where: str) -> str:
    begin, end = markers
    lines, out, inside = source.splitlines(), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise AuthoringError(f"{where}: '{begin}' inside an open region.")
            inside = True
            if replacement is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + r for r in replacement.splitlines())
            continue
        if stripped == end:
            if not inside:
                raise AuthoringError(f"{where}: '{end}' without '{begin}'.")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise AuthoringError(f"{where}: '{begin}' is never closed by '{end}'.")
    return "\n".join(out)


def without_markers(source: str, markers: tuple[str, str]) -> str:
    """The source with the marker lines dropped and the region kept."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in markers)


def read(path: str | Path):
    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise LabkitError(f"{path}: no such notebook.") from None
    except Exception as e:  # nbformat raises several kinds on a corrupt file
        raise LabkitError(f"{path}: not a readable notebook ({type(e).__name__}).",
                          fix="re-download it, or export it again from JupyterLab") from None
    return nb


def validate(nb, where: str) -> list[str]:
    """Check a source notebook's roles; returns its exercise ids in order."""
    ids: list[str] = []
    seen_cells = set()
    released = bool(nb.metadata.get("labkit", {}).get("lesson"))  # a student copy: solutions are answers now
    for i, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if not cid:
            raise AuthoringError(f"{where}: cell {i} has no id; save it with nbformat 4.5 or later.")
        if cid in seen_cells:
            raise AuthoringError(f"{where}: two cells share the id {cid}.")
        seen_cells.add(cid)
        r = roles(cell)
        if not r:
            continue
        ex = exercise_of(cell)
        if not ex:
            raise AuthoringError(f"{where}: cell {i} ({'/'.join(sorted(r))}) has no metadata.labkit.exercise.")
        if "solution" in r and not released and SOLUTION[0] not in cell.source:
            raise AuthoringError(f"{where}: solution cell {i} ({ex}) has no '{SOLUTION[0]}' region.")
        _region(cell.source, SOLUTION, "", f"{where} cell {i}")
        if any(line.strip() in HIDDEN for line in cell.source.splitlines()):
            raise AuthoringError(f"{where}: cell {i} ({ex}) has hidden tests. The learner's check and the grade must "
                                 "judge alike: put the rule in the exercise's checker (labkit/lessons/) instead.")
        if "test" in r and ex not in ids:
            ids.append(ex)
    if not ids:
        raise AuthoringError(f"{where}: no test cells (tag 'test' with metadata.labkit.exercise).")
    return ids


def released_source(cell) -> str:
    """What the student copy holds for this cell."""
    source = cell.source
    if "solution" in roles(cell):
        placeholder = cell.get("metadata", {}).get("labkit", {}).get("placeholder", DEFAULT_PLACEHOLDER)
        source = _region(source, SOLUTION, placeholder, "cell")
    source = _region(source, HIDDEN, None, "cell")
    return re.sub(r"\n{3,}", "\n\n", source).strip("\n")


def graded_source(cell) -> str:
    """What grading runs for a locked or test cell: the source, marker lines dropped."""
    return without_markers(without_markers(cell.source, HIDDEN), SOLUTION)


def fingerprint(nb) -> str:
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.get("id", "").encode() + b"\0" + cell.source.encode() + b"\0")
    return h.hexdigest()[:16]


def student_copy(nb, lesson: str):
    """The release: solutions replaced, outputs of exercise cells cleared."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        if roles(cell):
            cell.source = released_source(cell)
            cell.outputs = []
            cell.execution_count = None
    out.metadata["labkit"] = {"lesson": lesson, "source": fingerprint(nb)}
    return out


def release(source: Path, folder: Path, *, execute: bool = True, timeout: int = 120) -> Path:
    """Write the student copy of ``source`` into ``folder``; executed, so it carries its outputs.

    The copy records the fingerprint of its own cells (``metadata.labkit.released``), so that a later release
    into the same folder can tell an untouched copy (replaced) from an edited one (refused, see
    :func:`check_release_target`).
    """
    nb = read(source)
    validate(nb, str(source))
    target = check_release_target(source, folder)
    student = student_copy(nb, source.stem)
    student.metadata["labkit"]["released"] = fingerprint(student)
    folder.mkdir(parents=True, exist_ok=True)
    if execute:
        _execute(student, source.parent, timeout)
    nbformat.write(student, str(target))
    return target


def check_release_target(source: Path, folder: Path) -> Path:
    """Where the student copy of ``source`` goes in ``folder``; raises :class:`LabkitError` if writing it there
    would lose work: the source itself, a copy edited since labkit released it, or a notebook labkit did not
    release. A copy released before and untouched since is replaced (a release after the source changed)."""
    target = folder / source.name
    if target.resolve() == source.resolve():
        raise LabkitError(f"{source} would be overwritten by its own student copy in {folder}.",
                          fix="give -o a folder other than the sources' own")
    if not target.exists():
        return target
    try:
        there = read(target)
    except LabkitError:
        there = None
    mark = there.metadata.get("labkit", {}) if there is not None else {}
    if not mark.get("lesson"):
        raise LabkitError(f"{target} is already there, and it is not a student copy that labkit released.",
                          fix="move it away, or release into another folder (-o)")
    if mark.get("released") and mark["released"] != fingerprint(there):
        raise LabkitError(f"{target} was edited since it was released; releasing again would replace those edits.",
                          fix="move it away, or release into another folder (-o)")
    return target


def _remove_when_quiet(folder: Path, within_s: float = 5.0) -> None:
    """Remove a release's state folder. Its kernel has ended, but the kernel's worlds end a moment later (their
    parent-death signal) and may still write there: try again until the folder is gone, for ``within_s``."""
    import shutil
    import time

    deadline = time.monotonic() + within_s
    while True:
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists() or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _execute(nb, cwd: Path, timeout: int) -> None:
    """Run the student copy in a kernel of its own, against a simulator of its own."""
    import os
    import tempfile

    from nbclient import NotebookClient

    state = tempfile.mkdtemp(prefix="labkit-release-")
    old = os.environ.get("LABKIT_STATE_DIR")
    os.environ["LABKIT_STATE_DIR"] = state
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        from . import sim

        sim.stop()
        if old is None:
            os.environ.pop("LABKIT_STATE_DIR", None)
        else:
            os.environ["LABKIT_STATE_DIR"] = old
        _remove_when_quiet(Path(state))
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
