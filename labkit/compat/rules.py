"""The vMotion compatibility rules, as pure functions over tables.

Each rule takes ``pairs`` (one row per VM × destination host, with the facts
of both joined in; see :func:`pairs`) and the :class:`~labkit.compat.facts.Facts`,
and returns the problems it finds: one row per problem, with the pair, the
severity (``error`` blocks the migration, ``warning`` does not), the vSphere
fault type vCenter reports, and the reason in plain words. Rules work on whole
columns: a rule costs a few joins, whatever the number of pairs.

The rules mirror vCenter's checks as the vSphere API reference documents
them (the sources per rule are in docs/vmotion-checks.md).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from .facts import Facts

ISSUE_COLUMNS = ["vm", "host", "check", "severity", "fault", "reason"]


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    looks_at: str
    remedy: str
    faults: tuple[str, ...]
    find: Callable[[pd.DataFrame, Facts], pd.DataFrame]


def pairs(facts: Facts, vms=None, hosts=None) -> pd.DataFrame:
    """Every VM × destination host, with the facts of the VM, its source host and the destination."""
    v = facts.vms if vms is None else facts.vms[facts.vms["vm"].isin(list(vms))]
    h = facts.hosts if hosts is None else facts.hosts[facts.hosts["host"].isin(list(hosts))]
    src = facts.hosts.set_index("moid")
    left = v.assign(src_vmotion=v["host_moid"].map(src["vmotionVnics"].map(bool)).fillna(False).astype(bool))
    right = h.rename(columns={"moid": "host_moid_dest"})
    out = left.merge(right, how="cross", suffixes=("", "_dest"))
    out = out.rename(columns={"host": "source", "host_dest": "host"})
    out["host_change"] = out["host_moid"] != out["host_moid_dest"]
    out["running"] = out["powerState"].isin(["poweredOn", "suspended"])
    out["powered_on"] = out["powerState"] == "poweredOn"
    return out.reset_index(drop=True)


def _issues(rows: pd.DataFrame, check: str, severity, fault, reason) -> pd.DataFrame:
    """Issue rows for ``rows``; severity, fault and reason are scalars or aligned Series."""
    if rows.empty:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    out = pd.DataFrame({"vm": rows["vm"].to_numpy(), "host": rows["host"].to_numpy()})
    out["check"] = check
    for col, value in (("severity", severity), ("fault", fault), ("reason", reason)):
        out[col] = value.to_numpy() if isinstance(value, pd.Series) else value
    return out[ISSUE_COLUMNS]


# -- the rules ---------------------------------------------------------------------
def host_state(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    moving = p[p["host_change"]]
    down = moving[moving["connectionState"] != "connected"]
    maint = moving[(moving["connectionState"] == "connected") & moving["inMaintenanceMode"]]
    return pd.concat([
        _issues(down, "host state", "error", "InvalidHostConnectionState",
                "the destination host is " + down["connectionState"] + "; a migration needs a connected host"),
        _issues(maint, "host state", "error", "InvalidHostState",
                "the destination host is in maintenance mode; it accepts no virtual machines"),
    ], ignore_index=True)


def vmotion_network(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    live = p[p["host_change"] & p["running"]]
    no_src = live[~live["src_vmotion"]]
    no_dest = live[~live["vmotionVnics"].map(bool)]
    return pd.concat([
        _issues(no_src, "vMotion network", "error", "VMotionNotConfigured",
                "no VMkernel adapter of the source host " + no_src["source"] + " has the vMotion service enabled"),
        _issues(no_dest, "vMotion network", "error", "VMotionNotConfigured",
                "no VMkernel adapter of the destination host has the vMotion service enabled"),
    ], ignore_index=True)


def meets(requirement: str, capability: str | None) -> bool:
    """One CPU feature requirement ``Type:Op:Value`` (``Bool:Min:1``, ``Num:Match:6``) against a host's value."""
    if capability is None:
        return False
    parts = requirement.split(":", 2)
    if len(parts) != 3:
        return False
    try:
        want, have = int(parts[2], 0), int(capability, 0)
    except ValueError:
        return parts[1] == "Match" and parts[2] == capability
    return have >= want if parts[1] == "Min" else have == want


def missing_features(requirements: dict[str, str], capabilities: dict[str, str]) -> list[str]:
    """The CPU features (``cpuid.`` prefix removed) a VM needs and a host does not expose."""
    return sorted(k.removeprefix("cpuid.") for k, v in requirements.items() if not meets(v, capabilities.get(k)))


def cpu(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    live = p[p["host_change"] & p["running"] & (p["cpu_signature"] != p["cpu_signature_dest"])]
    # same features as the source: the VM runs there, so it runs here (the VM's requirements were not even read)
    if live.empty:
        return _issues(live, "CPU", "error", "", "")
    reqs = dict(zip(facts.vms["req_signature"], facts.vms["requirements"]))
    caps = dict(zip(facts.hosts["cpu_signature"], facts.hosts["capabilities"]))
    # VMs share requirement sets and hosts share capability sets: compare each distinct pair of sets once
    verdicts = {}
    for rk, ck in set(zip(live["req_signature"], live["cpu_signature_dest"])):
        req, have = reqs[rk], caps[ck]
        vendor = next((v for v in ("intel", "amd") if f"cpuid.{v}" in req and f"cpuid.{v}" not in have), None)
        if vendor:
            verdicts[(rk, ck)] = (f"the destination has a CPU of another vendor than the VM runs on "
                                  f"({vendor.capitalize()}); no EVC mode bridges vendors")
        elif gone := missing_features(req, have):
            verdicts[(rk, ck)] = f"the destination does not expose CPU features the VM uses: {', '.join(gone)}"
    reason = pd.Series([verdicts.get(k) for k in zip(live["req_signature"], live["cpu_signature_dest"])],
                       index=live.index, dtype=object)
    rows = live[reason.notna()]
    return _issues(rows, "CPU", "error", "FeatureRequirementsNotMet", reason[rows.index])


def hardware_version(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    limit = pd.to_numeric(p["maxHardwareVersion"], errors="coerce")
    rows = p[p["host_change"] & limit.notna() & (pd.to_numeric(p["hw"], errors="coerce") > limit)]
    return _issues(rows, "hardware version", "error", "VirtualHardwareVersionNotSupported",
                   "the VM's virtual hardware vmx-" + rows["hw"].astype(str) + " is newer than ESXi "
                   + rows["version"].astype(str) + " runs (up to vmx-"
                   + rows["maxHardwareVersion"].astype("Int64").astype(str) + ")")


def devices(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    live = p.loc[p["host_change"] & p["running"], ["vm", "host"]]
    d = facts.vm_devices
    d = d[(d["block"] != "client") | d["connected"]]  # a disconnected client device does not matter
    rows = live.merge(d, on="vm")
    if rows.empty:
        return _issues(rows, "devices", "error", "", "")
    host_dev = rows["block"] == "host"
    severity = np.where(host_dev & ~rows["connected"], "warning", "error")
    fault = np.where(host_dev, "CannotAccessVmDevice", "DisallowedMigrationDeviceAttached")
    reason = np.select(
        [host_dev & rows["connected"], host_dev, rows["block"] == "client"],
        ["'" + rows["label"] + "' is connected to " + rows["backing"] + ", a device of the source host only",
         "'" + rows["label"] + "' uses " + rows["backing"] + " of the source host; it is disconnected",
         "'" + rows["label"] + "' is connected to a device of the vSphere Client's machine"],
        "'" + rows["label"] + "' is a PCI passthrough (DirectPath I/O) device")
    return _issues(rows, "devices", pd.Series(severity), pd.Series(fault), pd.Series(reason))


def storage(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    need = p[["vm", "host", "host_moid_dest"]].merge(facts.vm_datastores, on="vm")
    mounted = facts.mounts.rename(columns={"host_moid": "host_moid_dest"}).assign(ok=True)
    need = need.merge(mounted, on=["datastore_moid", "host_moid_dest"], how="left")
    absent = need["ok"].isna()
    read_only = ~absent & (~need["writable"].fillna(True).astype(bool))  # NaN where absent
    rows = need[absent | read_only]
    where = pd.Series(["is not mounted on the destination host" if a else "is mounted read-only on the destination host"
                       for a in absent[absent | read_only]], index=rows.index)
    return _issues(rows, "storage", "error", "DatastoreNotWritableOnHost", "the datastore " + rows["datastore"] + " " + where)


def networks(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    moving = p.loc[p["host_change"], ["vm", "host", "host_moid_dest"]]
    nics = moving.merge(facts.vm_nics, on="vm")
    there = facts.network_hosts.rename(columns={"host_moid": "host_moid_dest"}).drop_duplicates().assign(ok=True)
    nics = nics.merge(there, on=["network_id", "host_moid_dest"], how="left")
    rows = nics[nics["ok"].isna()]
    if rows.empty:
        return _issues(rows, "networks", "error", "", "")
    blocking = rows["connected"] | rows["distributed"]
    severity = np.where(blocking, "error", "warning")
    reason = np.where(blocking, "'" + rows["label"] + "' uses network '" + rows["network"]
                      + "', which the destination host does not have",
                      "'" + rows["label"] + "' (not connected) uses network '" + rows["network"]
                      + "', which the destination host does not have; it will stay disconnected")
    return _issues(rows, "networks", pd.Series(severity), "CannotAccessNetwork", pd.Series(reason))


def memory(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    moving = p[p["host_change"] & p["powered_on"]]
    free = moving["memoryMB_dest"] - moving["usedMemoryMB"]
    rows = moving[moving["memoryMB"] > free]
    free = free[rows.index]
    return _issues(rows, "memory", "error", "InsufficientMemoryResourcesFault",
                   "the destination has " + free.astype(int).astype(str) + " MB of memory unreserved; the VM needs "
                   + rows["memoryMB"].astype(str) + " MB")


RULES = (
    Rule("host state", "the destination's connection state and maintenance mode",
         "exit maintenance mode or reconnect the host, or pick another host", ("InvalidHostState",
                                                                             "InvalidHostConnectionState"),
         host_state),
    Rule("vMotion network", "a VMkernel adapter with the vMotion service on the source and the destination",
         "enable the vMotion service on a VMkernel adapter of both hosts", ("VMotionNotConfigured",), vmotion_network),
    Rule("CPU", "the VM's CPU feature requirement against the features the destination exposes (after EVC)",
         "put both hosts in an EVC cluster whose mode the VM was powered on under, or power the VM off "
         "(a cold migration checks no CPU)", ("FeatureRequirementsNotMet",), cpu),
    Rule("hardware version", "the VM's virtual hardware version against what the destination's ESXi runs",
         "choose a host with a newer ESXi, or migrate cold to upgrade later", ("VirtualHardwareVersionNotSupported",),
         hardware_version),
    Rule("devices", "devices backed by something only the source has, and passthrough devices",
         "disconnect or remove the device before the migration", ("CannotAccessVmDevice",
                                                                  "DisallowedMigrationDeviceAttached"), devices),
    Rule("storage", "every datastore of the VM mounted on the destination",
         "mount the datastore on the destination, or move the disks too (Storage vMotion)",
         ("DatastoreNotWritableOnHost",), storage),
    Rule("networks", "every network of the VM's NICs present on the destination",
         "create the same port group on the destination, or join it to the distributed switch",
         ("CannotAccessNetwork",), networks),
    Rule("memory", "the VM's memory against the destination's unreserved memory",
         "free memory on the destination (move or power off VMs), or pick another host",
         ("InsufficientMemoryResourcesFault",), memory),
)


def evaluate(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    """All problems of all pairs: the rules' rows together."""
    found = [r.find(p, facts) for r in RULES]
    found = [f for f in found if not f.empty]
    if not found:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    return pd.concat(found, ignore_index=True)
