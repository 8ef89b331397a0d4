"""Storage and network continuity: run migrations, check what they kept, model what clients see.

::

    from labkit import continuity
    run = continuity.migrate(session, "app-ab", host="esx-03", datastore="local-03")
    run.invariants                                  # what must hold, before and after
    continuity.network.tcp(0.8, app_timeout_s=2)    # does a session with a 2 s timeout survive?
    continuity.storage.copy(100, 400, 40)           # Storage vMotion's mirrored copy

:mod:`.runner` and :mod:`.state` talk to vCenter; :mod:`.invariants`,
:mod:`.network` and :mod:`.storage` are pure.
"""
from __future__ import annotations

from . import charts, invariants, network, storage
from .explorer import CopyExplorer, PingExplorer
from .runner import MigrationRun, migrate, properties
from .state import VmState, read

__all__ = ["migrate", "MigrationRun", "properties", "read", "VmState", "invariants", "network", "storage",
           "charts", "PingExplorer", "CopyExplorer"]
