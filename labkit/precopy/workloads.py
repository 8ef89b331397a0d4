"""Workload profiles from datasets/workloads.csv: how fast a guest dirties memory, and where.

Each row says whether its numbers were measured, fitted to a measurement, or
are only illustrative, and cites its source.
"""
from __future__ import annotations

import functools
import numbers

import pandas as pd

from .. import datasets
from ..errors import InvalidInput


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    return pd.read_csv(datasets.path("workloads.csv"))


def profiles() -> pd.DataFrame:
    """Every profile, one row each (a copy you may change)."""
    return _table().copy()


def names() -> list[str]:
    return list(_table()["profile"])


def workload(name: str, memory_mib: float) -> dict:
    """The model inputs of profile ``name`` on a VM of ``memory_mib``: ``simulate(**workload(...))``.

    A hot set larger than the VM shrinks to the VM; the zero share becomes ``zero_mib``.
    """
    table = _table()
    if name not in set(table["profile"]):
        raise InvalidInput(f"There is no workload profile '{name}'.", fix=f"use one of: {', '.join(names())}")
    if isinstance(memory_mib, bool) or not isinstance(memory_mib, numbers.Real) or not memory_mib > 0:
        raise InvalidInput(f"memory_mib must be a positive number, not {memory_mib!r}.")
    row = table.set_index("profile").loc[name]
    hot = None if pd.isna(row["hot_set_mib"]) else float(row["hot_set_mib"])
    out = {"memory_mib": float(memory_mib), "dirty_rate_mibps": float(row["dirty_rate_mibps"]), "hot_set_mib": hot,
           "hot_share": float(row["hot_share"])}
    if hot is not None:
        out["hot_set_mib"] = min(hot, float(memory_mib))
    out["zero_mib"] = float(row["zero_share"]) * float(memory_mib)
    return out
