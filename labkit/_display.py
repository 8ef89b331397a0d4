"""Show labkit's errors in IPython as one short line, not a traceback wall."""
from __future__ import annotations

from .errors import LabkitError


def _short(shell, etype, value, tb, tb_offset=None):
    text = f"{etype.__name__}: {value}"
    # An error output with a one-line "traceback": the cell still fails, the
    # learner reads what to do.
    shell._showtraceback(etype, value, [text])
    return [text]


def install() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((LabkitError,), _short)
    return True
