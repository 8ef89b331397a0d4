"""The fault guide: for each vSphere fault a vMotion check reports, what it means, where to look and what fixes it.

Pure data and formatting, no vCenter calls. The guide is ``datasets/fault_guide.csv``; every row names
its source. ``details(fault)`` turns a fault object's own fields (the failing side of a
``VMotionNotConfigured``, the bytes of an ``InsufficientMemoryResourcesFault``, the sub-fault of a
``DisallowedMigrationDeviceAttached``) into one short line.
"""
from __future__ import annotations

import functools

import pandas as pd
from pyVmomi import vim

from .. import datasets

COLUMNS = ["fault", "check", "means", "look_at", "fix", "fixable_live", "lesson", "lab", "source"]
MIB = 1024 * 1024


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    return pd.read_csv(datasets.path("fault_guide.csv"), dtype=str).fillna("")


def guide() -> pd.DataFrame:
    """Every fault of the guide, one row each (a copy: change it freely)."""
    return _table().copy()


def explain(fault: str) -> dict:
    """The guide's row for ``fault`` (a type name such as ``"VMotionNotConfigured"``), or an empty row."""
    rows = _table()[_table()["fault"] == fault]
    if rows.empty:
        return {"fault": fault, "check": "", "means": "not in the course's guide: read the message, then the vSphere "
                "API reference for this fault", "look_at": "", "fix": "", "fixable_live": "", "lesson": "",
                "lab": "", "source": ""}
    return rows.iloc[0].to_dict()


def _name(fault) -> str:
    return type(fault).__name__.split(".")[-1]


def _mib(n) -> str:
    return f"{int(n) // MIB:,} MiB"


def details(fault) -> str:
    """The fault's own fields that say where the problem is, as one line ('' when it has none)."""
    kind = _name(fault)
    if isinstance(fault, vim.fault.VMotionInterfaceIssue):  # NotConfigured, LinkDown, LinkCapacityLow, ...
        side = "source" if getattr(fault, "atSourceHost", False) else "destination"
        network = getattr(fault, "network", None)  # LinkDown, LinkCapacityLow: the vMotion adapter's network
        return f"{side} host {getattr(fault, 'failedHost', None) or '?'}" + (f", network {network}" if network else "")
    if kind == "InsufficientMemoryResourcesFault":
        return f"requested {_mib(fault.requested)}, unreserved {_mib(fault.unreserved)}"
    if kind == "FeatureRequirementsNotMet":
        keys = sorted(r.key.lower().removeprefix("cpuid.") for r in fault.featureRequirement or [])
        shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        return f"missing CPU features: {shown}" if keys else ""
    if kind == "DisallowedMigrationDeviceAttached":
        sub = getattr(fault, "fault", None)
        device = getattr(sub, "device", None)
        return f"{_name(sub)}" + (f": {device}" if device else "") if sub is not None else ""
    if kind in ("CannotAccessVmDevice", "CannotAccessNetwork", "VMOnVirtualIntranet"):
        state = "connected" if fault.connected else "not connected"
        return f"{fault.device} on {fault.backing}, {state}"
    if kind == "VirtualHardwareVersionNotSupported":
        return f"host {fault.hostName}"
    if kind == "DatastoreNotWritableOnHost":
        return f"datastore {fault.name}"
    return ""
