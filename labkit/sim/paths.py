"""Where labkit keeps the simulator binary and the running simulator's state."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Built binaries: ``$LABKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/labkit``.

    Raises :class:`labkit.errors.LabkitError` when that path is a file.
    """
    if os.environ.get("LABKIT_CACHE_DIR"):
        d = Path(os.environ["LABKIT_CACHE_DIR"])
    else:
        d = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "labkit"
    if d.exists() and not d.is_dir():
        from ..errors import LabkitError

        raise LabkitError(f"labkit's cache folder {d} is a file.",
                          fix="point LABKIT_CACHE_DIR at a folder (or unset it), or move that file away")
    return d


def make(folder: Path, variable: str, mode: int = 0o777) -> Path:
    """Create ``folder`` (and its parents) if missing; returns it.

    Raises :class:`labkit.errors.LabkitError` naming the environment ``variable`` that chooses it when it cannot be
    created (a parent that is a file, no permission, a read-only file system).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=mode)
    except OSError as e:
        from ..errors import LabkitError

        raise LabkitError(f"Cannot create the folder {folder}: {e.strerror or e}.",
                          fix=f"point {variable} at a folder you can write") from None
    return folder


def state_dir() -> Path:
    """The running simulator's state file, log and lock.

    ``$LABKIT_STATE_DIR``, else ``$XDG_RUNTIME_DIR/labkit``, else
    ``<cache dir>/run``. Tests point this at a folder of their own so they never
    touch a learner's simulator.
    """
    if os.environ.get("LABKIT_STATE_DIR"):
        d = Path(os.environ["LABKIT_STATE_DIR"])
    elif os.environ.get("XDG_RUNTIME_DIR"):
        d = Path(os.environ["XDG_RUNTIME_DIR"]) / "labkit"
    else:
        d = cache_dir() / "run"
    if d.exists() and not d.is_dir():
        from ..errors import LabkitError

        raise LabkitError(f"The simulator's state folder {d} is a file.",
                          fix="point LABKIT_STATE_DIR at a folder (or unset it), or move that file away")
    return d


def launcher_source() -> Path:
    """The Go launcher's source, shipped inside the package."""
    return Path(__file__).with_name("launcher")
