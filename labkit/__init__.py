"""labkit: the helper library of vMotion Labs.

The names a notebook needs::

    import labkit
    session = labkit.connect()                 # the lab simulator
    labkit.inventory.hosts(session)            # DataFrames of the inventory
    session.change(vm, "PowerOffVM_Task")      # guarded change, waited on
"""
import importlib

from . import _display, cells, errors, sim
from .connection import Session, connect, current
from .errors import LabkitError
from .tasks import wait_for_task

# Imported on first use (PEP 562), so that `labkit sim status`, a grading process or a kernel that only
# connects does not pay a second for pandas, plotly and ipywidgets.
_LAZY = ("compat", "continuity", "evc", "exercises", "hostconfig", "inventory", "plots", "precopy", "widgets")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__version__ = "0.1.0"
__all__ = [
           "LabkitError",
           "Session",
           "compat",
           "connect",
           "continuity",
           "current",
           "errors",
           "evc",
           "exercises",
           "hostconfig",
           "inventory",
           "plots",
           "precopy",
           "sim",
           "wait_for_task",
           "widgets",
]

_display.install()
cells.install()  # which cell set `answer` (labkit.cells)
