"""A pytest plugin for grading: records each nbval cell's outcome with its cell id and exercise.

Loaded by ``labkit grade`` as ``-p labkit._nbval_report --labkit-report-fd N``. The grader opens the
report file and hands this process descriptor N; nothing inside the sandbox can open the file by name.
Each record is one JSON line, written as its cell finishes, so that the cells run before a submission
was stopped keep their outcome. The last line, ``{"end": true, "leftovers": N}``, says the run ended
normally, and counts (in a sandbox) the processes the notebook left running besides the lab simulator
it started, which the sandbox then ends.

The plugin also caps what one cell may print (MAX_OUTPUT characters): output beyond it is dropped
before nbval keeps it, and the cell's record says so.
"""
from __future__ import annotations

import ctypes
import json
import os
import re

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")

MAX_MESSAGE = 2000
MAX_OUTPUT = 2 << 20          # characters of output kept per cell
OUTPUT_CUT = "output limit"   # in a record's message: the cell printed more than MAX_OUTPUT
DIED_HERE = "its kernel died while it ran"  # in a record's message: the kernel was gone when the cell's limit came
PR_SET_DUMPABLE = 4

_report = None
_current: dict = {"cell": None, "chars": 0}
_cut: set = set()


def pytest_addoption(parser):
    parser.addoption("--labkit-report-fd", type=int, default=None,
                     help="write cell outcomes, one JSON line each, to this inherited file descriptor")


def _undumpable() -> None:
    """Nothing else of this uid (the notebook's kernel) may read this process's memory or descriptors
    through /proc (prctl(2), PR_SET_DUMPABLE)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _cap_output() -> None:
    """Count each cell's output as nbval reads it from the kernel; past MAX_OUTPUT, drop it."""
    from nbval.plugin import IPyNbFile

    read = IPyNbFile.get_kernel_message

    def get_kernel_message(self, *args, **kwargs):
        msg = read(self, *args, **kwargs)
        kind, content = msg.get("msg_type"), msg.get("content", {})
        if kind == "stream":
            size = len(content.get("text", ""))
        elif kind in ("display_data", "execute_result", "update_display_data"):
            size = sum(len(str(v)) for v in content.get("data", {}).values())
        else:
            return msg
        _current["chars"] += size
        if _current["chars"] > MAX_OUTPUT:
            _cut.add(_current["cell"])
            if kind == "stream":
                content["text"] = ""
            else:
                content["data"] = {"text/plain": ""}
        return msg

    IPyNbFile.get_kernel_message = get_kernel_message


def _note_dead_kernels() -> None:
    """nbval interrupts a cell at its time limit, and reports a kernel that then does not answer in the same
    words whether it had died (os._exit, a crash) or ignores interrupts: whether it was alive tells them apart."""
    from nbval.kernel import RunningKernel

    interrupt = RunningKernel.interrupt

    def interrupt_noting_death(self):
        _current["dead"] = not self.is_alive()
        return interrupt(self)

    RunningKernel.interrupt = interrupt_noting_death


def pytest_configure(config):
    global _report
    fd = config.getoption("--labkit-report-fd")
    if fd is None:
        return
    os.set_inheritable(fd, False)
    _undumpable()
    _report = os.fdopen(fd, "w", encoding="utf-8")
    _cap_output()
    _note_dead_kernels()


def _message(report) -> str:
    text = ANSI.sub("", str(report.longrepr or ""))
    if "Failed to interrupt kernel" in text:  # nbval's words, for a kernel that died and one that would not stop
        if _current.get("dead"):
            return f"{DIED_HERE} (it crashed, exited or ran out of memory)"
        return "it ran past the time limit for one cell and ignored the interrupt, so its kernel was stopped"
    if "KeyboardInterrupt" in text or "Cell execution timed out" in text:
        return "it ran past the time limit for one cell and was stopped"
    for line in text.splitlines():
        if "ExerciseFailed:" in line:
            return line[line.index("ExerciseFailed:") + len("ExerciseFailed:"):].strip()[:MAX_MESSAGE]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:MAX_MESSAGE]


def _write(obj) -> None:
    if _report is not None:
        _report.write(json.dumps(obj) + "\n")
        _report.flush()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    cell = getattr(item, "cell", None)
    _current.update(cell=cell.get("id") if cell is not None else None, chars=0, dead=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if cell is None or report.when != "call":
        return
    meta = cell.get("metadata", {})
    message = "" if report.passed else _message(report)
    if cell.get("id") in _cut:
        message = (f"{message}; " if message else "") + f"{OUTPUT_CUT}: it printed more than {MAX_OUTPUT >> 20} MiB"
    _write({
        "cell": cell.get("id"),
        "exercise": meta.get("labkit", {}).get("exercise"),
        "tags": list(meta.get("tags", [])),
        "outcome": report.outcome,
        "message": message,
    })


def _leftovers() -> int:
    """Processes still running in this sandbox besides this one, its PID 1 and lab simulators."""
    me, count = os.getpid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) in (1, me):
            continue
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if fh.read().startswith("labsim"):
                    continue
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":  # a zombie is already gone
                    continue
        except OSError:
            continue
        count += 1
    return count


def pytest_unconfigure(config):
    global _report
    if _report is not None:
        try:
            with open("/proc/1/comm") as fh:
                sandboxed = fh.read().strip() == "bwrap"
        except OSError:
            sandboxed = False
        # in a PID namespace of its own, every other process is the notebook's
        _write({"end": True, "leftovers": _leftovers() if sandboxed else None})
        _report.close()
        _report = None
