"""Contain one graded submission: a bubblewrap sandbox, an identity of its own, and limits.

``labkit grade`` runs each student's notebook (pytest, nbval, the kernel and the lab
simulator the notebook starts) inside one sandbox made by bubblewrap (Debian's
``bubblewrap`` package, ``bwrap``):

- **File system.** A fresh, empty root with read-only binds of what Python needs:
  ``/usr`` (and the ``/bin``, ``/lib`` links), ``/etc``, the interpreter's prefix,
  the virtual environment, the ``labkit`` package, ``datasets/`` and the simulator's
  built binary. The submission's home (``/home/student``, its working folder) and
  ``/tmp`` are size-capped tmpfs mounts that vanish with the sandbox. The instructor's
  tree, the other submissions, the grader's folders and the real home folder are
  not mounted at all: they do not exist inside.
- **Namespaces.** Its own PID, IPC, UTS and network namespace: the network holds
  loopback only, where the notebook's own simulator listens. ``--die-with-parent``
  and the PID namespace end every process the submission started when its run ends.
- **Identity.** Run by root, the job becomes a uid of its own (``setpriv``), with no
  capabilities and ``no_new_privs``; run by anyone else, bubblewrap's user namespace
  maps the caller's uid and drops every capability. Either way it cannot signal,
  trace or read the grader or another job.
- **Limits** (``Limits``): processes, open files, file size and CPU time as rlimits set
  inside the sandbox (``prlimit``), so that the process count is the job's own; memory
  and processes also as a cgroup (v1 ``memory`` and ``pids``) when the machine lets
  labkit make one, which the grader watches: the job is stopped at the first
  out-of-memory kill or refused fork, with that reason.

Sources: bwrap(1) (bubblewrap 0.8, the options used here); setpriv(1), prlimit(1);
setrlimit(2) for RLIMIT_NPROC counting per user (per user namespace since Linux 5.14);
the kernel's cgroup v1 documentation (Documentation/admin-guide/cgroup-v1/pids.rst and
memory.rst) for ``pids.max``, ``pids.events``, ``memory.limit_in_bytes`` and
``memory.oom_control``.
"""
from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .errors import LabkitError

HOME = "/home/student"
WORK = f"{HOME}/lesson"    # the submission's working folder: its notebook's folder, where its kernel starts
BWRAP = "bwrap"
CGROUP_V1 = Path("/sys/fs/cgroup")

# Why the grader stopped a job, in the words of the gradebook (see grading.REASONS).
PROCESS_LIMIT = "process limit"
MEMORY_LIMIT = "memory limit"

INSTALL = "install bubblewrap (sudo apt-get install bubblewrap)"
ALLOW = ("let users create user namespaces (docs/instructor-guide.md, 'The grading sandbox'), or run labkit grade "
         "as root")
NO_SANDBOX = "or pass --no-sandbox to grade unconfined (each student's code then runs with your rights)"


class SandboxUnavailable(LabkitError):
    """This machine cannot create the grading sandbox; the message says why, the fix what to do."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission may use. Sizes in MiB, time in seconds of CPU per process.

    ``memory_mb`` and ``processes`` cap the whole job when a cgroup can be made (else
    ``processes`` is the per-uid RLIMIT_NPROC and memory is capped per process by
    RLIMIT_DATA at ``memory_mb``); ``file_mb`` caps each file written (RLIMIT_FSIZE);
    ``disk_mb`` caps the home folder and ``/tmp`` together (two tmpfs mounts, half each);
    ``open_files`` is RLIMIT_NOFILE; ``cpu_s`` is RLIMIT_CPU.
    The defaults leave every lesson ample room: lesson 00's kernel, pytest and simulator take about
    300 MiB and 60 threads; lesson 03b's two QEMU guests take 128 MiB each, and its memory check writes
    each guest's memory (128 MiB) to a file in /tmp. The tmpfs mounts' pages count against ``memory_mb``
    too, so a full disk (1 GiB) still leaves the notebook room to run."""
    memory_mb: int = 2048
    processes: int = 256
    file_mb: int = 256
    disk_mb: int = 1024
    open_files: int = 1024
    cpu_s: int = 600


def _host_links() -> list[str]:
    """bwrap arguments for /bin, /sbin, /lib* : links where the host has merged /usr, else read-only binds."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    return args


def _python_roots() -> list[Path]:
    """What the grading interpreter needs, read-only: its base prefix, the venv, labkit, the datasets and the
    builds in labkit's cache (the simulator, the lab guest), but not the cache's ``run`` folder, where the
    instructor's own simulator keeps its address and password."""
    from . import datasets
    from .sim import paths

    roots = [Path(sys.base_prefix).resolve(), Path(sys.prefix), Path(__file__).resolve().parent,
             datasets.root().resolve()]
    for built in ("sim", "qemu"):  # the simulator's and the real-migration guest's builds; never "run"
        if (paths.cache_dir() / built).is_dir():
            roots.append((paths.cache_dir() / built).resolve())
    out: list[Path] = []
    for r in roots:  # drop what lies under a root already bound, and /usr (bound anyway)
        if Path("/usr") in (r, *r.parents) or any(r == o or o in r.parents for o in out):
            continue
        out = [o for o in out if r not in o.parents] + [r]
    return out


CONTROLLERS = ("pids", "memory", "cpu")  # cpu: no limit, but each job its own group, so CFS shares the CPU per job


def _own_cgroup(ctl: str) -> Path:
    """This process's cgroup v1 folder for a controller: the jobs' groups go under it, so that a limit on the
    grader's session or container holds for them too."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctls, path = line.split(":", 2)
            if ctl in ctls.split(","):
                return CGROUP_V1 / ctl / path.lstrip("/")
    except (OSError, ValueError):
        pass
    return CGROUP_V1 / ctl


def whole_job_limits() -> bool:
    """Whether this machine lets labkit cap memory and processes for a whole job (cgroup v1 groups it may make)."""
    return all(os.access(_own_cgroup(ctl), os.W_OK) for ctl in CONTROLLERS)


class _Cgroup:
    """A cgroup v1 ``pids``, ``memory`` and ``cpu`` group for one job, under the grader's own, or nothing when
    the machine does not let us make them."""

    def __init__(self, name: str, limits: Limits):
        self.dirs: dict[str, Path] = {}
        if not whole_job_limits():
            return
        _remove_stale_cgroups()
        try:
            for ctl in CONTROLLERS:
                d = _own_cgroup(ctl) / name
                d.mkdir()
                self.dirs[ctl] = d
            (self.dirs["pids"] / "pids.max").write_text(str(limits.processes))
            mem = str(limits.memory_mb << 20)
            (self.dirs["memory"] / "memory.limit_in_bytes").write_text(mem)
            swap = self.dirs["memory"] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(mem)
        except OSError:
            self.remove()

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def exceeded(self) -> str | None:
        """PROCESS_LIMIT after a refused fork, MEMORY_LIMIT after an out-of-memory kill, else None."""
        try:
            if "pids" in self.dirs:
                events = dict(line.split() for line in (self.dirs["pids"] / "pids.events").read_text().splitlines())
                if int(events.get("max", 0)):
                    return PROCESS_LIMIT
            if "memory" in self.dirs:
                oom = dict(line.split() for line in (self.dirs["memory"] / "memory.oom_control").read_text().splitlines())
                if int(oom.get("oom_kill", 0)):
                    return MEMORY_LIMIT
        except (OSError, ValueError):
            return None
        return None

    def kill(self) -> None:
        for d in self.dirs.values():
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass

    def remove(self, patience_s: float = 15.0) -> None:
        """Kill what is left and remove the groups; a fork bomb's hundreds of processes take a while to die."""
        import time

        deadline = time.monotonic() + patience_s
        for d in self.dirs.values():
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still holds a dying process
                    if time.monotonic() > deadline:
                        break
                    self.kill()
                    time.sleep(0.05)
        self.dirs = {}


def _remove_stale_cgroups() -> None:
    """Empty job groups left by a grader that died (their name holds its pid): removed."""
    for ctl in CONTROLLERS:
        for d in _own_cgroup(ctl).glob("labkit-grade-*"):
            try:
                owner = int(d.name.split("-")[2])
                if not Path(f"/proc/{owner}").exists():
                    d.rmdir()
            except (ValueError, IndexError, OSError):
                continue


class Sandbox:
    """One job's sandbox. ``command(argv)`` wraps a command; ``exceeded()`` says whether a cgroup limit was hit;
    ``close()`` ends whatever is left and removes the cgroup.

    ``files`` maps a host file to the path of its copy inside (the submission, the pytest config); ``env`` is
    the whole environment inside, besides PATH, HOME, TMPDIR and LANG."""

    def __init__(self, limits: Limits = Limits(), files: dict[Path, str] | None = None, env: dict[str, str] | None = None):
        self.limits = limits
        self.files = files or {}
        self.env = env or {}
        self.uid = random.randrange(2_000_000_000, 2_100_000_000) if os.geteuid() == 0 else None
        self.cgroup = _Cgroup(f"labkit-grade-{os.getpid()}-{random.randrange(1 << 32):08x}", limits)
        self.pass_fds: list[int] = []  # what command() opened for the sandbox to read: Popen(pass_fds=...)

    @property
    def cgroup_limits(self) -> bool:
        """Whether memory and processes are capped for the whole job (a cgroup), not only per process."""
        return bool(self.cgroup.dirs)

    def command(self, argv: list[str]) -> list[str]:
        """The argv that runs ``argv`` inside this sandbox, in WORK, with only ``env`` (plus PATH, HOME, TMPDIR)."""
        lim = self.limits
        size = str((lim.disk_mb << 20) // 2)  # the home folder and /tmp, half each
        args = [BWRAP, "--ro-bind", "/usr", "/usr", *_host_links(), "--ro-bind", "/etc", "/etc",
                "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
                "--perms", "0777", "--size", size, "--tmpfs", HOME]
        made: set[Path] = set()
        for root in _python_roots():
            for parent in reversed(root.parents[:-1]):  # bwrap would make them 0700: the job could not pass
                if parent not in made:
                    made.add(parent)
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(root), str(root)]
        args += ["--perms", "0777", "--dir", WORK]
        for host, inside in self.files.items():  # copies the notebook may change or delete, as in any folder
            fd = os.open(host, os.O_RDONLY)
            self.pass_fds.append(fd)
            args += ["--perms", "0644", "--file", str(fd), inside]
        venv_bin = str(Path(sys.prefix) / "bin")
        env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "HOME": HOME, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               **self.env}
        args += ["--clearenv"]
        for k, v in env.items():
            args += ["--setenv", k, v]
        args += ["--chdir", WORK, "--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "grading"]
        if self.uid is None:
            args += ["--unshare-user", "--cap-drop", "ALL"]
        args.append("--")
        if self.uid is not None:
            args += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        data = f"--data={lim.memory_mb << 20}" if not self.cgroup_limits else "--data=unlimited"
        # with a cgroup, its pids.max (watched) must be what a fork bomb meets first
        nproc = lim.processes + 64 if self.cgroup_limits else lim.processes
        args += ["prlimit", f"--nproc={nproc}", f"--nofile={lim.open_files}", f"--fsize={lim.file_mb << 20}",
                 f"--cpu={lim.cpu_s}", data, "--core=0", "--"]
        if self.cgroup_limits:  # enter the job's cgroups, then become the sandbox
            join = "; ".join(f"echo $$ > {f}" for f in self.cgroup.procs_files())
            return ["sh", "-c", f'{join}; exec "$@"', "sandbox", *args, *argv]
        return args + argv

    def exceeded(self) -> str | None:
        return self.cgroup.exceeded()

    def close(self) -> None:
        self.cgroup.kill()
        self.cgroup.remove()
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = []


_PROBED: dict[bool, tuple[str, str] | None] = {}


def probe() -> None:
    """Raise SandboxUnavailable unless a sandbox can be made here and runs the grading interpreter.

    Tries it once per process: bubblewrap present, the namespaces and identity it needs allowed, and labkit,
    nbval and ipykernel importable inside."""
    if True in _PROBED:
        if _PROBED[True]:
            raise SandboxUnavailable(*_PROBED[True][:1], fix=_PROBED[True][1])
        return
    why, fix = None, ALLOW
    if shutil.which(BWRAP) is None:
        why, fix = "Grading runs students' code in a sandbox, and bubblewrap (bwrap) is not installed.", INSTALL
    elif os.geteuid() == 0 and (shutil.which("setpriv") is None or shutil.which("prlimit") is None):
        why, fix = ("Grading needs setpriv and prlimit to contain students' code, and they are missing.",
                    "install util-linux")
    else:
        box = Sandbox(Limits())
        try:
            run = subprocess.run(box.command([sys.executable, "-c", "import labkit, nbval, ipykernel"]),
                                 capture_output=True, text=True, timeout=60, pass_fds=box.pass_fds)
        except (OSError, subprocess.TimeoutExpired) as e:
            run = subprocess.CompletedProcess([], 1, "", str(e))
        finally:
            box.close()
        if run.returncode != 0:
            line = next((ln for ln in reversed(run.stderr.splitlines()) if ln.strip()), "no error text")
            why = f"Grading runs students' code in a sandbox, and bubblewrap cannot make one here ({line.strip()})."
    _PROBED[True] = (why, f"{fix}; {NO_SANDBOX}") if why else None
    if why:
        raise SandboxUnavailable(why, fix=f"{fix}; {NO_SANDBOX}")
