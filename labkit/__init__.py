"""labkit: the helper library of vMotion Labs.

The names a notebook needs::

    import labkit
    session = labkit.connect()                 # the lab simulator
    labkit.inventory.hosts(session)            # DataFrames of the inventory
    session.change(vm, "PowerOffVM_Task")      # guarded change, waited on
"""
from . import _display, compat, continuity, errors, evc, exercises, inventory, plots, precopy, sim, widgets
from .connection import Session, connect, current
from .errors import LabkitError
from .tasks import wait_for_task

__version__ = "0.1.0"
__all__ = ["connect", "current", "Session", "inventory", "compat", "continuity", "evc", "precopy", "sim", "errors", "exercises", "plots", "widgets",
           "LabkitError", "wait_for_task"]

_display.install()
