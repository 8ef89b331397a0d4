"""Show labkit's errors in IPython as one short line, not a traceback wall.

This is the notebook's entry point for errors, as :func:`labkit.cli.main` is the terminal's:

* a :class:`~labkit.errors.LabkitError` shows as its own line (what is wrong, and the fix);
* any other error raised inside labkit, or inside a library labkit called (pyVmomi, pandas …), shows as one
  line naming ``labkit-errors.log``, where its traceback goes (:mod:`labkit.errorlog`);
* a fault vCenter answered with (``vim.fault.InvalidState`` …) keeps IPython's traceback: it is what the
  lessons teach to read;
* an error raised in the learner's own code keeps IPython's full traceback, even when labkit called that code
  (a callback): the learner needs to see their own line.

The cell still fails, so ``Run All`` stops there, and nbval, ``labkit check`` and ``labkit grade`` see the
error as before.
"""
from __future__ import annotations

import functools
import os

from .errors import LabkitError

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _from_labkit(tb) -> bool:
    """Did the error come out of labkit: a labkit frame on the stack, and no learner frame after the last one?

    A learner frame is code that is neither labkit's nor an installed module's (a cell, a file of their own).
    """
    last_labkit = last_learner = -1
    i = 0
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith(_PACKAGE):
            last_labkit = i
        elif not _installed(name):
            last_learner = i
        tb, i = tb.tb_next, i + 1
    return last_labkit >= 0 and last_learner < last_labkit


@functools.lru_cache(maxsize=1)
def _install_roots() -> tuple[str, ...]:
    """Python's library folders and the environment's site-packages, each ending in a separator."""
    import sysconfig

    return tuple({sysconfig.get_path(k) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib")
                  if sysconfig.get_path(k)})


def _installed(filename: str) -> bool:
    """A module of Python's or of an installed package, as opposed to the learner's code."""
    return filename.startswith("<frozen ") or filename.startswith(_install_roots())


def _vsphere_fault(value) -> bool:
    """A fault vCenter answered with (``vim.fault.*``, ``vmodl.fault.*``): an answer to read, not labkit's error."""
    try:
        from pyVmomi import vmodl
    except ImportError:
        return False
    return isinstance(value, vmodl.MethodFault)


def _short(shell, etype, value, tb, tb_offset=None):
    if isinstance(value, LabkitError):
        text = f"{etype.__name__}: {value}"
    elif _from_labkit(tb) and not _vsphere_fault(value):
        from . import errorlog

        text = errorlog.line(value, errorlog.write(value, "a notebook cell"))
    else:  # the learner's own error: IPython's traceback, as without labkit
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    # An error output with a one-line "traceback": the cell still fails, the learner reads what to do.
    shell._showtraceback(etype, value, [text])
    return [text]


def install() -> bool:
    """Register the hook in the running IPython shell; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((Exception,), _short)
    return True
