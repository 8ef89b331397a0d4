"""Run one lab simulator in the background: start, status, stop, reset.

The running simulator is described by a state file (``sim.json``, mode 0600)
in :func:`labkit.sim.paths.state_dir`. A start while one is running reuses
it; a state file whose process has died is detected and replaced by the next
start. Stopping goes by the recorded PID, checked against the process start
time so a recycled PID is never signalled.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import SimulatorError, SimulatorNotBuilt
from . import builder, paths

#: The lab simulator's login. It is a loopback lab, so the pair is public and
#: documented; override with $LABKIT_SIM_USER / $LABKIT_SIM_PASSWORD.
DEFAULT_USER = "student@vsphere.local"
DEFAULT_PASSWORD = "VMware1!"

ANNOUNCE = re.compile(r"export GOVC_URL=(?P<url>\S+) GOVC_SIM_PID=(?P<pid>\d+)")
START_TIMEOUT_S = 60.0


@dataclasses.dataclass
class SimState:
    pid: int
    url: str  # without credentials
    username: str
    password: str = dataclasses.field(repr=False)
    binary: str = ""
    args: list[str] = dataclasses.field(default_factory=list)
    log: str = ""
    started: float = 0.0
    proc_start: str = ""  # /proc/<pid>/stat start time, guards against PID reuse
    scenario: str = ""  # the lab scenario it serves ("" for a generated inventory)

    @property
    def host_port(self) -> tuple[str, int]:
        u = urlsplit(self.url)
        return u.hostname or "127.0.0.1", u.port or 443


@dataclasses.dataclass
class SimStatus:
    state: str  # "running", "unreachable", "dead" or "stopped"
    sim: SimState | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        if self.sim is None:
            return "stopped: no lab simulator is running (start one with: labkit sim start)"
        s = self.sim
        if self.state == "running":
            return f"running: pid {s.pid}, {s.url}"
        if self.state == "unreachable":
            return f"unreachable: pid {s.pid} is alive but {s.url} does not answer (restart with: labkit sim stop && labkit sim start)"
        return f"dead: pid {s.pid} is gone; the next 'labkit sim start' starts a fresh simulator"


def _state_file(folder: Path | None = None) -> Path:
    return (folder or paths.state_dir()) / "sim.json"


@contextlib.contextmanager
def _locked(folder: Path | None = None):
    d = paths.make(folder or paths.state_dir(), "LABKIT_STATE_DIR", 0o700)
    with open(d / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_state(folder: Path | None = None) -> SimState | None:
    try:
        data = json.loads(_state_file(folder).read_text())
        return SimState(**data)
    except (OSError, ValueError, TypeError):
        return None


def _write_state(s: SimState, folder: Path | None = None) -> None:
    f = _state_file(folder)
    tmp = f.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(dataclasses.asdict(s), fh, indent=1)
    os.replace(tmp, f)


def _clear_state(folder: Path | None = None) -> None:
    with contextlib.suppress(FileNotFoundError):
        _state_file(folder).unlink()


def _proc_start_time(pid: int) -> str | None:
    """Start time of a live (non-zombie) process, or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it was our child
        return None
    return fields[19]


def _alive(s: SimState) -> bool:
    started = _proc_start_time(s.pid)
    return started is not None and (not s.proc_start or started == s.proc_start)


def _answers(s: SimState, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(s.host_port, timeout=timeout):
            return True
    except OSError:
        return False


def _recover(folder: Path | None = None) -> SimState | None:
    """The simulator a state folder's state file no longer describes (the file unreadable, or gone), found from
    the process itself: the announcement in its log (pid, address and login), checked against the process that
    holds that log open (so a reused pid is never taken for it). Its state file is written anew."""
    d = folder or paths.state_dir()
    log = d / "sim.log"
    try:
        m = ANNOUNCE.search(log.read_text(errors="replace"))
        if m is None:
            return None
        pid, target = int(m.group("pid")), str(log.resolve())
        if not any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
            return None
        argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]]
    except OSError:
        return None
    url = urlsplit(m.group("url"))
    args = argv[7:] if len(argv) > 7 and argv[1] == "-l" else []
    scenario = ""
    if "-scenario" in args[:-1]:
        scenario = Path(args[args.index("-scenario") + 1]).stem.removeprefix("scenario-")
    s = SimState(pid=pid, url=_strip_userinfo(m.group("url")), username=unquote(url.username or ""),
                 password=unquote(url.password or ""), binary=argv[0] if argv else "", args=args, log=str(log),
                 started=log.stat().st_mtime, proc_start=_proc_start_time(pid) or "", scenario=scenario)
    if not s.proc_start:
        return None
    with contextlib.suppress(OSError):
        _write_state(s, d)
    return s


def status(folder: Path | None = None) -> SimStatus:
    """The simulator of a state folder (default: :func:`paths.state_dir`). A state file that is unreadable or
    gone while its simulator runs is rebuilt from the process (:func:`_recover`): never a second simulator,
    never an orphan."""
    s = _read_state(folder) or _recover(folder)
    if s is None:
        return SimStatus("stopped")
    if not _alive(s):
        return SimStatus("dead", s)
    if not _answers(s):
        return SimStatus("unreachable", s)
    return SimStatus("running", s)


def credentials() -> tuple[str, str]:
    return (
        os.environ.get("LABKIT_SIM_USER", DEFAULT_USER),
        os.environ.get("LABKIT_SIM_PASSWORD", DEFAULT_PASSWORD),
    )


def resolve_binary(explicit: str | os.PathLike | None = None) -> Path:
    """Which simulator program to run.

    An explicit path, else ``$LABKIT_VCSIM`` (for example an official vcsim),
    else the project's own build, else a ``vcsim`` found on PATH.
    """
    chosen = explicit or os.environ.get("LABKIT_VCSIM")
    if chosen:
        p = Path(chosen)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise SimulatorError(f"The simulator program {p} does not exist or is not executable.",
                                 fix=("give --vcsim the path of a vcsim program, or leave it out for labkit's own"
                                      if explicit else
                                      "point LABKIT_VCSIM at a vcsim binary, or unset it to use labkit's own"))
        return p
    binary = builder.built_binary()
    if binary is not None:
        return binary
    on_path = shutil.which("vcsim")
    if on_path:
        return Path(on_path)
    raise SimulatorNotBuilt("The lab simulator is not built yet.")


def _strip_userinfo(url: str) -> str:
    u = urlsplit(url)
    netloc = u.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if u.port:
        netloc += f":{u.port}"
    return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


def _cause(log_text: str) -> str:
    """The line of a start-up log that says why: a Go panic's message, else the last line that is not a
    stack frame (a Go traceback never reaches the user)."""
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("panic: ", "fatal error: ")):
            return ln.split(": ", 1)[1][:300]
    frames = re.compile(r"^(goroutine \d+|[\w./*()\-]+\(.*\)$|/?[\w./\-]+\.go:\d+|_/|exit status)")
    said = [ln for ln in lines if not frames.match(ln)]
    return (said[-1] if said else "no message")[:300]


def _wait_for_announcement(proc: subprocess.Popen, log: Path, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        m = ANNOUNCE.search(text)
        if m:
            return m
        if proc.poll() is not None:
            raise SimulatorError(f"The lab simulator exited during start-up (code {proc.returncode}): "
                                 f"{_cause(text)}; the whole log is {log}.",
                                 fix="give -l a free port, or leave -l out" if "address already in use" in text
                                 else "correct the simulator flag it names (labkit sim start -- -h lists them)")
        time.sleep(0.05)
    _kill(proc)
    raise SimulatorError(f"The lab simulator did not announce itself within {timeout:.0f} s; see {log}.")


def start(args: list[str] | None = None, *, scenario: str | None = None, binary: str | os.PathLike | None = None,
          listen: str = "127.0.0.1:0", timeout: float = START_TIMEOUT_S, folder: Path | None = None,
          tied: bool = False) -> SimState:
    """Start the lab simulator in the background, or return the running one.

    ``scenario`` names a lab scenario (``labkit scenarios`` lists them);
    ``args`` are extra simulator flags (``-host 5`` …). Both only apply when a
    new simulator starts. ``folder`` is the state folder (default
    :func:`paths.state_dir`); ``tied=True`` ends the simulator when this
    process ends (a kernel's own world, :mod:`labkit.sim.worlds`).
    """
    d = folder or paths.state_dir()
    with _locked(d):
        current = status(d)
        if current.state == "running":
            return current.sim
        if current.state == "unreachable":
            _terminate(current.sim)
        _clear_state(d)  # dead or gone: recover by starting afresh
        extra = list(args or [])
        if scenario:
            from .. import scenarios

            compiled = scenarios.write(scenario, d)
            extra = ["-scenario", str(compiled), *extra]
        return _spawn(extra, resolve_binary(binary), listen, timeout, scenario or "", d, tied)


#: setpriv (util-linux) sets the parent-death signal, then runs the simulator: the kernel dies, so does its world
_SETPRIV = shutil.which("setpriv")
_spawner = None  # one long-lived thread starts tied simulators (the signal follows the thread that forks)


def _popen(cmd: list[str], out, tied: bool) -> subprocess.Popen:
    def launch():
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)

    if not (tied and _SETPRIV):
        return launch()
    global _spawner
    if _spawner is None:
        import concurrent.futures

        _spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="labkit-spawner")
    cmd[:0] = [_SETPRIV, "--pdeathsig", "TERM", "--"]
    return _spawner.submit(launch).result()


def _spawn(args: list[str], program: Path, listen: str, timeout: float, scenario: str = "",
           folder: Path | None = None, tied: bool = False) -> SimState:
    user, password = credentials()
    d = folder or paths.state_dir()
    log = d / "sim.log"
    cmd = [str(program), "-l", listen, "-username", user, "-password", password, *args]
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # its first line carries the login
    with os.fdopen(fd, "w") as out:
        proc = _popen(cmd, out, tied)
    m = _wait_for_announcement(proc, log, timeout)
    pid = int(m.group("pid"))
    s = SimState(pid=pid, url=_strip_userinfo(m.group("url")), username=user, password=password,
                 binary=str(program), args=args, log=str(log), started=time.time(),
                 proc_start=_proc_start_time(pid) or "", scenario=scenario)
    deadline = time.monotonic() + timeout
    while not _answers(s, timeout=1.0):
        if time.monotonic() > deadline or proc.poll() is not None:
            _kill(proc)
            raise SimulatorError(f"The lab simulator announced {s.url} but does not answer there; see {log}.")
        time.sleep(0.05)
    _write_state(s, d)
    _reap_when_it_ends(proc)
    return s


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()


def _reap_when_it_ends(proc: subprocess.Popen) -> None:
    """Collect the simulator's exit status as soon as it ends, whoever stops it.

    A simulator is the child of the process that started it: a lesson's kernel,
    or ``labkit lab``. Another kernel's reset, or ``labkit sim stop``, ends it
    from elsewhere; without a wait in its parent it would stay a ``<defunct>``
    entry until that parent exits. A daemon thread blocked in ``wait`` costs
    nothing and ends with the simulator.
    """
    threading.Thread(target=proc.wait, name=f"labkit-reap-{proc.pid}", daemon=True).start()


def _terminate(s: SimState, grace: float = 5.0) -> None:
    if not _alive(s):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(s.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(s):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(s.pid, signal.SIGKILL)
    while _alive(s):
        time.sleep(0.05)


def stop(folder: Path | None = None) -> SimStatus:
    """Stop the lab simulator (of ``folder``, default :func:`paths.state_dir`). Returns the status it had before."""
    with _locked(folder):
        before = status(folder)
        if before.sim is not None:
            _terminate(before.sim)
        _clear_state(folder)
        return before


def reset(args: list[str] | None = None, *, scenario: str | None = None) -> SimState:
    """Restart the simulator from a pristine inventory.

    With ``scenario`` it serves that scenario; without, whatever it served
    before (same scenario, same flags).
    """
    before = _read_state()
    if scenario is None and args is None and before is not None:
        scenario = before.scenario or None
        args = _extra(before.args)
    stop()
    return start(args, scenario=scenario)


def _extra(args: list[str]) -> list[str]:
    """The flags given besides -scenario FILE."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "-scenario":
            skip = True
        else:
            out.append(a)
    return out


def url() -> str:
    s = status()
    if not s.running:
        raise SimulatorError(s.describe())
    return s.sim.url
