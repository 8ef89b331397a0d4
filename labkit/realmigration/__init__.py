"""Real pre-copy: a live QEMU guest migrated on loopback, measured round by round.

::

    from labkit import realmigration as rm
    rm.build()                      # once: kernel, initramfs, accelerator probe (cached)
    run = rm.migrate(dirty_rate=2560, max_bandwidth_mibps=64, downtime_limit_ms=300)
    print(run)                      # outcome, total time, downtime, pages that differ
"""
from . import calibrate, charts
from .calibrate import predict
from .explorer import ModelExplorer
from .guest import Guest, GuestError, build, load, tcg_warning
from .memory import MemoryDiff, compare
from .qmp import QMP, QMPError
from .runner import DEFAULTS, RealMigration, migrate, rounds, settings

__all__ = [
           "DEFAULTS",
           "QMP",
           "Guest",
           "GuestError",
           "MemoryDiff",
           "ModelExplorer",
           "QMPError",
           "RealMigration",
           "build",
           "calibrate",
           "charts",
           "compare",
           "load",
           "migrate",
           "predict",
           "rounds",
           "settings",
           "tcg_warning",
]
