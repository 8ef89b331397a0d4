"""Iterative pre-copy live migration: the model, workload profiles and published data.

::

    from labkit import precopy
    m = precopy.simulate(memory_mib=16384, dirty_rate_mibps=300, hot_set_mib=2048, link_gbps=10)
    m.rounds      # one row per round
    m.summary     # outcome, rounds, pre-copy time, downtime, data sent
    precopy.simulate(**precopy.workload("oltp-database", 16384), nics=2)
"""
from . import charts, validation
from .explorer import ConvergenceExplorer
from .model import DEFAULTS, OUTCOMES, Migration, dirty_curve, grid, simulate, sweep
from .params import EFFICIENCY, PAGE_BYTES, bandwidth_gbps
from .workloads import profiles, workload

__all__ = ["simulate", "sweep", "grid", "dirty_curve", "bandwidth_gbps", "workload", "profiles", "Migration",
           "ConvergenceExplorer", "charts", "validation", "DEFAULTS", "OUTCOMES", "EFFICIENCY", "PAGE_BYTES"]
