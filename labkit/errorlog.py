"""The log of errors labkit did not foresee: their tracebacks go to a file, the user reads one line naming it.

Both entry points use it: ``labkit``'s command line (:func:`labkit.cli.main`) and the notebook display hook
(:mod:`labkit._display`). The log is ``<labkit cache>/labkit-errors.log`` (``$LABKIT_CACHE_DIR``, else
``~/.cache/labkit``), or the system's temporary folder when the cache cannot be written.
"""
from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

NAME = "labkit-errors.log"


def write(e: BaseException, what: str) -> Path | None:
    """Append ``e``'s traceback, headed by the time and ``what`` (the command or cell), to the log; returns it.

    None when no folder could be written (the line then names no log).
    """
    from .errors import LabkitError
    from .sim import paths

    text = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {what}\n" + "".join(traceback.format_exception(e)) + "\n"
    folders = []
    try:
        folders.append(paths.cache_dir())
    except (LabkitError, OSError):
        pass
    folders.append(Path(tempfile.gettempdir()))
    for folder in folders:
        log = folder / NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(text)
            return log
        except OSError:
            continue
    return None


def line(e: BaseException, log: Path | None) -> str:
    """The one line a user reads: the error's type and first line, where its details are, what to do."""
    what = str(e).splitlines()[0] if str(e) else ""
    where = f"; the details are in {log}" if log else ""
    return (f"unexpected error, {type(e).__name__}{': ' + what if what else ''}{where}. Fix: check the arguments; "
            "if they are right, report it with that log")
