"""A pytest plugin for grading: records each nbval cell's outcome with its cell id and exercise.

Loaded by ``labkit grade`` as ``-p labkit._nbval_report --labkit-report-fd N``. The grader opens the
report file and hands this process descriptor N; nothing inside the sandbox can open the file by name.
Each record is one JSON line, written as its cell finishes, so that the cells run before a submission
was stopped keep their outcome. The last line, ``{"end": true, "leftovers": N}``, says the run ended
normally, and counts (in a sandbox) the processes the notebook left running besides the lab simulator
it started, which the sandbox then ends.

Besides the human-readable ``message`` (whose words are partly the student's: an exception can say
anything), each record carries flags set from nbval's and the kernel's state, never from text:
``timed_out`` (nbval interrupted the cell at its time limit), ``died`` (its kernel was gone by then),
``dead_at_start`` (the kernel was gone before the cell) and ``output_cut`` (it printed more than
MAX_OUTPUT characters, which were dropped before nbval kept them). The grader judges by the flags.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: control characters (C0 but tab and newline, DEL, C1): no student text may drive the teacher's terminal
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

MAX_MESSAGE = 2000
MAX_OUTPUT = 2 << 20          # characters of output kept per cell
OUTPUT_CUT = "output limit"   # in a record's message: the cell printed more than MAX_OUTPUT
DIED_HERE = "its kernel died while it ran"  # in a record's message: the kernel was gone when the cell's limit came
PR_SET_DUMPABLE = 4

_report = None
_current: dict = {"cell": None, "chars": 0, "interrupted": False, "dead": False, "dead_at_start": False}
_status = {"exit": None}
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


def _note_interrupts() -> None:
    """nbval interrupts a cell only at its time limit, and then reports a kernel that does not answer in the
    same words whether it had died (os._exit, a crash) or ignores interrupts: note both, from the kernel."""
    from nbval.kernel import RunningKernel

    interrupt = RunningKernel.interrupt

    def interrupt_noting_death(self):
        _current.update(interrupted=True, dead=not self.is_alive())
        return interrupt(self)

    RunningKernel.interrupt = interrupt_noting_death


def pytest_configure(config):
    global _report
    fd = config.getoption("--labkit-report-fd")
    if fd is None:
        return
    os.set_inheritable(fd, False)
    _undumpable()
    # the notebook's kernel runs as the same user: a SIGINT from it would end this run as if it had finished
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _report = os.fdopen(fd, "w", encoding="utf-8")
    _cap_output()
    _note_interrupts()


def _message(report) -> str:
    """One line for the student and the teacher: nbval's verdict where the flags say what happened, else the
    check's words (ExerciseFailed) or the error's last line; no colours, no control characters."""
    if _current["interrupted"]:
        if _current["dead"]:
            return f"{DIED_HERE} (it crashed, exited or ran out of memory)"
        text = str(report.longrepr or "")
        if "Failed to interrupt kernel" in text:  # nbval's words; the flag above says it was not dead
            return "it ran past the time limit for one cell and ignored the interrupt, so its kernel was stopped"
        return "it ran past the time limit for one cell and was stopped"
    text = CONTROL.sub("", ANSI.sub("", str(report.longrepr or "")).replace("\r", "\n"))
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
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    _current.update(cell=cell.get("id") if cell is not None else None, chars=0, interrupted=False, dead=False,
                    dead_at_start=kernel is not None and not kernel.is_alive())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if cell is None or report.when != "call":
        return
    meta = cell.get("metadata", {})
    message = "" if report.passed else _message(report)
    cut = cell.get("id") in _cut
    if cut:
        message = (f"{message}; " if message else "") + f"{OUTPUT_CUT}: it printed more than {MAX_OUTPUT >> 20} MiB"
    _write({
        "cell": cell.get("id"),
        "exercise": meta.get("labkit", {}).get("exercise"),
        "tags": list(meta.get("tags", [])),
        "outcome": report.outcome,
        "message": message,
        "timed_out": _current["interrupted"],
        "died": _current["interrupted"] and _current["dead"],
        "dead_at_start": _current["dead_at_start"],
        "output_cut": cut,
    })


def _simulators() -> str:
    """The folder of labkit's built simulators: a process whose executable lies there is the lab's own."""
    from labkit.sim import paths

    return str((paths.cache_dir() / "sim").resolve()) + os.sep


def _leftovers() -> int:
    """Processes still running in this sandbox besides this one, its PID 1 and the lab simulators (known by
    their executable, not their name, which a process may set)."""
    me, count, sims = os.getpid(), 0, _simulators()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) in (1, me):
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] == b"Z":  # a zombie is already gone
                    continue
            if os.readlink(f"/proc/{pid}/exe").startswith(sims):
                continue
        except (OSError, IndexError):
            pass
        count += 1
    return count


def pytest_sessionfinish(session, exitstatus):
    _status["exit"] = int(exitstatus)


def pytest_unconfigure(config):
    global _report
    if _report is None:
        return
    end = {"end": True, "leftovers": None}
    try:
        with open("/proc/1/comm", "rb") as fh:
            sandboxed = fh.read().strip() == b"bwrap"
        if sandboxed:  # in a PID namespace of its own, every other process is the notebook's
            end["leftovers"] = _leftovers()
    except Exception:  # noqa: BLE001 - whatever a process did to /proc, the report ends
        pass
    finally:
        if _status["exit"] == int(pytest.ExitCode.INTERRUPTED):
            end["end"] = False  # interrupted: the run did not finish
        _write(end)
        _report.close()
        _report = None
