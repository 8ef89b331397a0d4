"""``labkit doctor``: what the lab needs on this machine, what is missing, and the command that fixes each.

Each check only looks; none installs, builds or starts anything. The checks
follow what ``make lab`` needs, in order: the Go toolchain and govmomi's
simulator sources (to build the simulator), the simulator build, the Python
packages of the course, a free port for JupyterLab (or the lab already serving
it), and QEMU with the lab guest for lesson 03b.
"""
from __future__ import annotations

import dataclasses
import errno
import importlib.metadata
import importlib.util
import shutil
import socket

from .errors import LabkitError

#: the course's Python packages, by the name pip knows and the name Python imports
PACKAGES = {"jupyterlab": "jupyterlab", "ipywidgets": "ipywidgets", "pyvmomi": "pyVmomi", "pandas": "pandas",
            "plotly": "plotly", "nbval": "nbval", "nbclient": "nbclient", "pyyaml": "yaml", "tqdm": "tqdm"}
APT = "sudo apt-get install"


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    @property
    def line(self) -> str:
        mark = "ok " if self.ok else "MISSING"
        text = f"[{mark:7}] {self.name}: {self.detail}"
        return text if self.ok else f"{text}\n          fix: {self.fix}"


def go_toolchain() -> Check:
    from .sim import builder

    try:
        go = builder.go_binary()
    except LabkitError:
        return Check("Go toolchain", False, "no `go` on PATH", f"{APT} golang-go")
    return Check("Go toolchain", True, builder.go_version(go) or go)


def govmomi_sources() -> Check:
    from .sim import builder

    where = builder.gopath() / "src" / builder.GOVMOMI_PACKAGE
    if where.is_dir():
        return Check("govmomi simulator sources", True, str(where))
    return Check("govmomi simulator sources", False, f"{where} is missing", f"{APT} golang-github-vmware-govmomi-dev")


def simulator_build() -> Check:
    from .sim import builder

    binary = builder.built_binary()
    if binary is None:
        return Check("lab simulator build", False, "not built for this source", "labkit sim build")
    return Check("lab simulator build", True, binary.name)


def python_packages(names=PACKAGES) -> Check:
    missing = [dist for dist, module in names.items() if importlib.util.find_spec(module) is None]
    if missing:
        return Check("Python packages", False, "missing: " + ", ".join(missing), "pip install -e . (or: make venv)")
    versions = []
    for dist in ("jupyterlab", "pyvmomi", "plotly"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(dist)
    return Check("Python packages", True, ", ".join(versions) + f" and {len(names) - 3} more")


def jupyterlab_port(port: int, host: str = "127.0.0.1") -> Check:
    """Free, or already serving this course's lab (both fine); taken by any other program, a gap to fix.

    The lab is recognised by the marker ``labkit lab`` leaves while it runs, checked against /proc
    (:func:`labkit.labserver.running`). Another Jupyter server is told apart from other programs by its
    answer at ``/api``.
    """
    from . import labserver

    name = f"port {port} for JupyterLab"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as JupyterLab (tornado) binds: a port left in TIME_WAIT by a lab just stopped is free to it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno != errno.EADDRINUSE:   # not a port taken, e.g. an address this machine does not have
                return Check(name, False, f"cannot be used on {host}: {e.strerror or e}",
                             f"labkit lab --port {_another_port()} (and --ip 127.0.0.1)")
        else:
            return Check(name, True, "free")
    lab = labserver.running(port)
    if lab is not None:
        return Check(name, True, f"the lab is already running here (pid {lab.pid}): open {lab.url}")
    version = labserver.jupyter_version(port, host)
    who = f"a Jupyter server (version {version}) that labkit lab did not start" if version else "another program"
    return Check(name, False, f"in use by {who}", f"labkit lab --port {_another_port()} (or stop that program)")


def _another_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def qemu_and_guest() -> Check:
    """Lesson 03b's real migrations: QEMU and the built lab guest (the other lessons do without)."""
    from .realmigration import guest

    if shutil.which("qemu-system-x86_64") is None:
        return Check("QEMU (lesson 03b)", False, "no qemu-system-x86_64", "make system (installs QEMU >= 9)")
    try:
        g = guest.load(build_if_missing=False)
    except LabkitError:
        return Check("QEMU (lesson 03b)", False, "the lab guest is not built", "labkit qemu build")
    return Check("QEMU (lesson 03b)", True, f"QEMU {g.version_text}, {g.accel.upper()}")


def run(port: int = 8888) -> list[Check]:
    return [go_toolchain(), govmomi_sources(), simulator_build(), python_packages(), jupyterlab_port(port),
            qemu_and_guest()]


def summary(checks: list[Check], port: int = 8888) -> str:
    """The last line: what is left to fix, else what to do now."""
    bad = [c for c in checks if not c.ok]
    if bad:
        return f"{len(bad)} thing(s) to fix, the commands above"
    from . import labserver

    lab = labserver.running(port)
    return f"ready: the lab is running, at {lab.url}" if lab else "ready: make lab starts the course"
