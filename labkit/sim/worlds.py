"""Lab worlds: each kernel's own simulators, one per scenario, ended with the kernel.

A learner runs lessons in any order, in several tabs, and goes back. A world
that another lesson, another kernel or a later cell could restart would judge
an exercise against a world it was never set in. So a world belongs to one
process (a notebook's kernel) and one scenario:

>>> w = worlds.open("mixed-intel-evc")            # pristine: started, or restarted
>>> worlds.get("mixed-intel-evc") == w            # still the same world, same generation
>>> worlds.open("partial-storage")                # a second world; the first keeps running

Each world has a state folder of its own,
``<state dir>/kernels/<pid>-<start time>/<scenario>/``, and its simulator is
started with a parent-death signal, so it ends when the kernel ends, however
the kernel ends (shut down, restarted, killed). A folder whose kernel is gone
is removed the next time any kernel opens a world.

``generation`` counts the pristine starts of a scenario in this process: an
answer made in generation 1 is not judged in generation 2.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import re
import shutil
import threading
from pathlib import Path

from .. import cells
from ..errors import LabkitError
from . import paths, process

#: the scenario name of the simulator's generated inventory (no scenario file)
GENERATED = ""


@dataclasses.dataclass(frozen=True)
class World:
    """One running lab world of this process.

    ``scenario``: the lab scenario ("" for the generated inventory);
    ``generation``: 1 for its first pristine start in this process, then 2, 3 …;
    ``state``: the simulator (url, pid, login); ``started_at_cell``: the
    notebook cell that started it (0 outside a notebook).
    """
    scenario: str
    generation: int
    state: process.SimState = dataclasses.field(repr=False, compare=False)
    folder: Path = dataclasses.field(repr=False, compare=False)
    args: tuple[str, ...] = dataclasses.field(default=(), repr=False, compare=False)
    started_at_cell: int = dataclasses.field(default=0, repr=False, compare=False)

    @property
    def instance(self) -> str:
        """A name unique to this start: ``<scenario>#<generation>@<pid>``."""
        return f"{self.scenario or 'generated'}#{self.generation}@{self.state.pid}"

    @property
    def url(self) -> str:
        return self.state.url

    @property
    def pid(self) -> int:
        return self.state.pid

    @property
    def label(self) -> str:
        """How a learner names it: ``scenario mixed-intel-evc`` or ``the generated inventory``."""
        return f"scenario {self.scenario}" if self.scenario else "the generated inventory"

    def running(self) -> bool:
        """Is this start of the world still the one serving its folder, and answering?"""
        st = process.status(self.folder)
        return st.running and st.sim.pid == self.state.pid


_lock = threading.RLock()
_worlds: dict[str, World] = {}   # scenario -> its current world in this process
_latest: list[str] = []          # scenarios, most recently opened last
_swept = False


def owner() -> str:
    """This process as a folder name: ``<pid>-<start time>`` (a recycled PID gets another name)."""
    return f"{os.getpid()}-{process._proc_start_time(os.getpid())}"


def root() -> Path:
    return paths.state_dir() / "kernels"


def _folder(scenario: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", scenario) or "generated"
    return root() / owner() / slug


def open(scenario: str = GENERATED, *, args: list[str] | tuple[str, ...] = (), fresh: bool = True) -> World:
    """This process's world of ``scenario``: restarted pristine (``fresh``), or the running one.

    ``args`` are extra simulator flags (``-migration-seconds 0.02`` …). Raises
    :class:`labkit.errors.SimulatorError` (or ``SimulatorNotBuilt``) when the
    simulator cannot start; an unknown scenario raises the scenario error.
    """
    global _swept
    with _lock:
        if not _swept:
            _swept = True
            sweep()
        current = _worlds.get(scenario)
        if current is not None and not fresh and current.running():
            _touch(scenario)
            return current
        folder = _folder(scenario)
        paths.make(folder, "LABKIT_STATE_DIR", 0o700)
        if current is not None or process.status(folder).sim is not None:
            process.stop(folder)
        state = process.start(list(args), scenario=scenario or None, folder=folder, tied=True)
        generation = (current.generation if current else 0) + 1
        world = World(scenario, generation, state, folder, tuple(args), cells.current())
        _worlds[scenario] = world
        _touch(scenario)
        return world


def _touch(scenario: str) -> None:
    with contextlib.suppress(ValueError):
        _latest.remove(scenario)
    _latest.append(scenario)


def get(scenario: str) -> World | None:
    """The running world of ``scenario`` in this process, or None (never started, or it has stopped)."""
    with _lock:
        w = _worlds.get(scenario)
        return w if w is not None and w.running() else None


def latest() -> World | None:
    """The world this process opened or went back to last, if it still runs."""
    with _lock:
        for scenario in reversed(_latest):
            w = get(scenario)
            if w is not None:
                return w
        return None


def lost() -> World | None:
    """The world this process used last, when it has stopped without being stopped (it crashed, or was killed).

    None when the last world still runs, or when this process has opened none. Its folder, with ``sim.log``,
    stays until the process ends, so the log can be read.
    """
    with _lock:
        if not _latest:
            return None
        w = _worlds.get(_latest[-1])
        return w if w is not None and not w.running() else None


def find(url: str) -> World | None:
    """The running world of this process that serves ``url`` (scheme, host and port compared)."""
    from .. import endpoint

    try:
        want = endpoint.parse(url)
    except Exception:
        return None
    with _lock:
        for w in _worlds.values():
            have = endpoint.parse(w.url)
            if (have.scheme, have.port) == (want.scheme, want.port) and want.is_loopback and w.running():
                return w
    return None


def every() -> list[World]:
    """This process's running worlds, oldest first."""
    with _lock:
        return [w for s in _latest if (w := get(s)) is not None]


def close_all() -> None:
    """Stop every world of this process and remove its folder (also run at exit)."""
    with _lock:
        for w in list(_worlds.values()):
            with contextlib.suppress(Exception):
                process.stop(w.folder)
        _worlds.clear()
        _latest.clear()
        with contextlib.suppress(LabkitError):  # a state folder that is not one: there is nothing of ours in it
            shutil.rmtree(root() / owner(), ignore_errors=True)


atexit.register(close_all)


def sweep() -> list[Path]:
    """Remove the folders of kernels that have ended, stopping any simulator they left. Returns them."""
    removed = []
    base = root()
    if not base.is_dir():
        return removed
    for d in base.iterdir():
        m = re.fullmatch(r"(\d+)-(\d+)", d.name)
        if not m or d.name == owner():
            continue
        if process._proc_start_time(int(m.group(1))) == m.group(2):
            continue  # its kernel still runs
        for sub in d.iterdir() if d.is_dir() else ():
            with contextlib.suppress(Exception):
                process.stop(sub)
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed

