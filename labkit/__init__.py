"""labkit: the helper library of vMotion Labs.

The names a notebook needs::

    import labkit
    session = labkit.connect()                 # the lab simulator
    labkit.inventory.hosts(session)            # DataFrames of the inventory
    session.change(vm, "PowerOffVM_Task")      # guarded change, waited on
"""
from . import _display, compat, continuity, errors, evc, exercises, hostconfig, inventory, plots, precopy, sim, widgets
from .connection import Session, connect, current
from .errors import LabkitError
from .tasks import wait_for_task

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
