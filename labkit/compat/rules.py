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


#: vSphere Resource Management, "Sample Overhead Memory on Virtual Machines" (MB), by VM memory (rows, MB) and vCPUs
OVERHEAD_MEMORY = np.array([256, 1024, 4096, 16384])
OVERHEAD_VCPUS = np.array([1, 2, 4, 8])
OVERHEAD_MB = np.array([[20.29, 24.28, 32.23, 48.16],
                        [25.90, 29.91, 37.86, 53.82],
                        [48.64, 52.72, 60.67, 76.78],
                        [139.62, 143.98, 151.93, 168.60]])
#: VMotionLinkCapacityLow: "VMotion is supported on links that have a speed of at least 1000 Mbps and are full duplex"
VMOTION_MIN_MBPS = 1000


def overhead_mb(memory_mb, vcpus) -> np.ndarray:
    """The lab's overhead memory of VMs (MB, whole, rounded up): the sample table's vCPU column that is the
    smallest of 1, 2, 4, 8 at or above the VM's vCPUs (8 beyond), linear in memory between the table's rows
    and along the nearest segment beyond them."""
    m = np.asarray(memory_mb, dtype=float)
    col = np.minimum(np.searchsorted(OVERHEAD_VCPUS, np.asarray(vcpus), side="left"), len(OVERHEAD_VCPUS) - 1)
    seg = np.clip(np.searchsorted(OVERHEAD_MEMORY, m, side="left") - 1, 0, len(OVERHEAD_MEMORY) - 2)
    m0, m1 = OVERHEAD_MEMORY[seg], OVERHEAD_MEMORY[seg + 1]
    v0, v1 = OVERHEAD_MB[seg, col], OVERHEAD_MB[seg + 1, col]
    return np.ceil(np.maximum(v0 + (m - m0) * (v1 - v0) / (m1 - m0), 0)).astype(int)


def demand_mb(vms: pd.DataFrame) -> pd.Series:
    """What admission control counts for each VM: its memory reservation plus its overhead (MB)."""
    reservation = vms["reservationMB"] if "reservationMB" in vms else pd.Series(0, index=vms.index)
    vcpus = vms["numCPU"] if "numCPU" in vms else pd.Series(1, index=vms.index)
    return (reservation.fillna(0).astype(int) + overhead_mb(vms["memoryMB"], vcpus.fillna(1).astype(int))
            ).astype(int)


def _vmotion_by_host(facts: Facts) -> pd.DataFrame:
    """Per host with vMotion adapters: the best uplink under any of them (speed, full duplex; speed 0 when none is
    up), and the MTU of the first adapter selected for vMotion."""
    v = facts.vmotion_vnics
    if v.empty:
        return pd.DataFrame({"link_mbps": pd.Series(dtype=int), "link_full": pd.Series(dtype=bool),
                             "mtu": pd.Series(dtype=int)})
    v = v.assign(fullDuplex=v["fullDuplex"].astype(bool) & (v["speedMb"] > 0))
    best = v.sort_values(["speedMb", "fullDuplex"], kind="stable").groupby("host_moid").tail(1).set_index("host_moid")
    first = v.sort_values("order", kind="stable").groupby("host_moid").head(1).set_index("host_moid")
    return pd.DataFrame({"link_mbps": best["speedMb"], "link_full": best["fullDuplex"], "mtu": first["mtu"]})


def pairs(facts: Facts, vms=None, hosts=None) -> pd.DataFrame:
    """Every VM × destination host, with the facts of the VM, its source host and the destination."""
    v = facts.vms if vms is None else facts.vms[facts.vms["vm"].isin(list(vms))]
    h = facts.hosts if hosts is None else facts.hosts[facts.hosts["host"].isin(list(hosts))]
    src = facts.hosts.set_index("moid")
    net = _vmotion_by_host(facts)
    # what the powered-on VMs of each host hold: reservation plus overhead
    on = facts.vms[facts.vms["powerState"] == "poweredOn"]
    reserved = demand_mb(on).groupby(on["host_moid"]).sum()
    left = v.assign(src_vmotion=v["host_moid"].map(src["vmotionVnics"].map(bool)).eq(True),
                    src_link_mbps=v["host_moid"].map(net["link_mbps"]).fillna(0).astype(int),
                    src_link_full=v["host_moid"].map(net["link_full"]).eq(True),
                    src_mtu=v["host_moid"].map(net["mtu"]),
                    demandMB=demand_mb(v))
    right = h.rename(columns={"moid": "host_moid_dest"})
    right = right.assign(reservedMB=right["host_moid_dest"].map(reserved).fillna(0).astype(int),
                         has_vmotion=right["vmotionVnics"].map(bool),
                         link_mbps=right["host_moid_dest"].map(net["link_mbps"]).fillna(0).astype(int),
                         link_full=right["host_moid_dest"].map(net["link_full"]).eq(True),
                         mtu=right["host_moid_dest"].map(net["mtu"]))
    if "enteringMaintenanceMode" not in right:
        right["enteringMaintenanceMode"] = False
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
    up = p["connectionState"] == "connected"
    down = p.loc[p["host_change"] & ~up, ["vm", "host", "connectionState"]]
    maint = p.loc[p["host_change"] & up & (p["inMaintenanceMode"] | p["enteringMaintenanceMode"].eq(True)),
                  ["vm", "host", "inMaintenanceMode"]]
    state = pd.Series(np.where(maint["inMaintenanceMode"], "is in maintenance mode",
                               "is entering maintenance mode (its EnterMaintenanceMode_Task is under way)"),
                      index=maint.index)
    return pd.concat([
        _issues(down, "host state", "error", "InvalidHostConnectionState",
                "the destination host is " + down["connectionState"] + "; a migration needs a connected host"),
        _issues(maint, "host state", "error", "InvalidState",
                "the destination host " + state + "; it accepts no virtual machines"),
    ], ignore_index=True)


def _hot(p: pd.DataFrame) -> pd.Series:
    """The pairs whose migration is a vMotion of a powered-on VM: the only ones the vMotion network matters to."""
    return p["host_change"] & p["powered_on"]


def vmotion_network(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    live = _hot(p)
    no_src = p.loc[live & ~p["src_vmotion"], ["vm", "host", "source"]]
    no_dest = p.loc[live & ~p["has_vmotion"], ["vm", "host"]]
    return pd.concat([
        _issues(no_src, "vMotion network", "error", "VMotionNotConfigured",
                "no VMkernel adapter of the source host " + no_src["source"] + " has the vMotion service enabled"),
        _issues(no_dest, "vMotion network", "error", "VMotionNotConfigured",
                "no VMkernel adapter of the destination host has the vMotion service enabled"),
    ], ignore_index=True)


#: per side of a move: the columns that say whether it has vMotion adapters, its best link's speed and duplex
SIDES = (("the source host", "src_vmotion", "src_link_mbps", "src_link_full"),
         ("the destination host", "has_vmotion", "link_mbps", "link_full"))


def vmotion_link(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    live = _hot(p)
    found = []
    for who, has, mbps, _ in SIDES:
        rows = p.loc[live & p[has] & (p[mbps] == 0), ["vm", "host", "source"]]
        name = (" " + rows["source"]) if who == "the source host" else ""
        found.append(_issues(rows, "vMotion link", "error", "VMotionLinkDown",
                             who + name + ": no vMotion VMkernel adapter has an operational physical uplink (its "
                             "switch has no physical NIC, or none with a link)"))
    return pd.concat(found, ignore_index=True)


def vmotion_capacity(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    live = _hot(p)
    found = []
    for who, has, mbps, full in SIDES:
        low = live & p[has] & (p[mbps] > 0) & ((p[mbps] < VMOTION_MIN_MBPS) | ~p[full])
        rows = p.loc[low, ["vm", "host", "source", mbps, full]]
        name = (" " + rows["source"]) if who == "the source host" else ""
        duplex = pd.Series(np.where(rows[full], "full", "half"), index=rows.index)
        found.append(_issues(rows, "vMotion link capacity", "warning", "VMotionLinkCapacityLow",
                             who + name + "'s best vMotion uplink runs at " + rows[mbps].astype(str) + " Mb/s, "
                             + duplex + " duplex; vMotion wants at least 1000 Mb/s, full duplex"))
    return pd.concat(found, ignore_index=True)


def vmotion_mtu(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    rows = p.loc[_hot(p) & p["src_mtu"].notna() & p["mtu"].notna() & (p["src_mtu"] != p["mtu"]),
                 ["vm", "host", "src_mtu", "mtu"]]
    return _issues(rows, "vMotion MTU", "warning", "MigrationFault",
                   "the source and destination hosts have different vMotion vNIC MTU configurations (source "
                   + rows["src_mtu"].astype(int).astype(str) + ", destination " + rows["mtu"].astype(int).astype(str)
                   + "; VMware KB 432825)")


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
    # every running pair: the requirement was fixed at power-on and may exceed even its own host's features now
    live = p.loc[p["host_change"] & p["running"] & p["req_signature"].notna(),
                 ["vm", "host", "req_signature", "cpu_signature_dest"]]
    reqs = dict(zip(facts.vms["req_signature"], facts.vms["requirements"]))
    caps = dict(zip(facts.hosts["cpu_signature"], facts.hosts["capabilities"]))
    # VMs share requirement sets and hosts share capability sets: compare each distinct pair of sets once
    verdicts = []
    for rk, ck in live[["req_signature", "cpu_signature_dest"]].drop_duplicates().itertuples(index=False):
        req, have = reqs[rk], caps[ck]
        vendor = next((v for v in ("intel", "amd") if f"cpuid.{v}" in req and f"cpuid.{v}" not in have), None)
        if vendor:
            why = (f"the destination has a CPU of another vendor than the VM runs on ({vendor.capitalize()}); "
                   "no EVC mode bridges vendors")
            verdicts.append((rk, ck, why))
        elif gone := missing_features(req, have):
            verdicts.append((rk, ck, f"the destination does not expose CPU features the VM uses: {', '.join(gone)}"))
    rows = live.merge(pd.DataFrame(verdicts, columns=["req_signature", "cpu_signature_dest", "reason"]),
                      on=["req_signature", "cpu_signature_dest"])
    return _issues(rows, "CPU", "error", "FeatureRequirementsNotMet", rows["reason"])


def hardware_version(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    limit = pd.to_numeric(p["maxHardwareVersion"], errors="coerce")
    rows = p[p["host_change"] & limit.notna() & (pd.to_numeric(p["hw"], errors="coerce") > limit)]
    return _issues(rows, "hardware version", "error", "VirtualHardwareVersionNotSupported",
                   "the VM's virtual hardware vmx-" + rows["hw"].astype(str) + " is newer than ESXi "
                   + rows["version"].astype(str) + " runs (up to vmx-"
                   + rows["maxHardwareVersion"].astype("Int64").astype(str) + ")")


def devices(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    moving = p.loc[p["host_change"], ["vm", "host", "powered_on"]]
    d = facts.vm_devices
    d = d[d["block"].isin(["host", "client", "passthrough"])]
    rows = moving.merge(d, on="vm")
    # a host device matters in any power state; a client device only while connected; passthrough while powered on
    rows = rows[(rows["block"] == "host") | ((rows["block"] == "client") & rows["connected"])
                | ((rows["block"] == "passthrough") & rows["powered_on"])].reset_index(drop=True)
    if rows.empty:
        return _issues(rows, "devices", "error", "", "")
    host_dev = rows["block"] == "host"
    severity = np.where(host_dev & ~rows["connected"], "warning", "error")
    fault = np.where(host_dev, "CannotAccessVmDevice", "DisallowedMigrationDeviceAttached")
    reason = np.select(
        [host_dev & rows["connected"], host_dev, rows["block"] == "client"],
        ["'" + rows["label"] + "' is connected to " + rows["backing"] + ", a device of the source host only",
         "'" + rows["label"] + "' uses " + rows["backing"] + " of the source host; it is not connected",
         "'" + rows["label"] + "' is connected to a device of the vSphere Client's machine"],
        "'" + rows["label"] + "' is a PCI passthrough (DirectPath I/O) device")
    return _issues(rows, "devices", pd.Series(severity), pd.Series(fault), pd.Series(reason))


def device_images(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    moving = p.loc[p["host_change"], ["vm", "host", "host_moid_dest"]]
    d = facts.vm_devices
    d = d[(d["block"] == "image") & d["datastore_moid"].notna()]  # an image on the host itself is not checked
    rows = moving.merge(d, on="vm")
    mounted = facts.mounts[["datastore_moid", "host_moid"]].rename(columns={"host_moid": "host_moid_dest"})
    rows = rows.merge(mounted.drop_duplicates().assign(ok=True), on=["datastore_moid", "host_moid_dest"], how="left")
    rows = rows[rows["ok"].isna()].reset_index(drop=True)
    if rows.empty:
        return _issues(rows, "device images", "error", "", "")
    connected = rows["connected"].astype(bool)
    reason = ("'" + rows["label"] + "' " + pd.Series(np.where(connected, "is connected to", "(not connected) uses"))
              + " the image " + rows["backing"] + " on datastore " + rows["datastore"].fillna("?")
              + ", which the destination host does not mount")
    return _issues(rows, "device images", pd.Series(np.where(connected, "error", "warning")),
                   "CannotAccessVmDevice", reason)


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


def virtual_intranet(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    moving = p.loc[p["host_change"], ["vm", "host", "host_moid"]]
    nics = moving.merge(facts.vm_nics[~facts.vm_nics["distributed"].astype(bool)], on="vm")
    # the port group of that name on the SOURCE host, and the physical uplinks of its standard switch
    groups = facts.portgroups.drop_duplicates(["host_moid", "portgroup"], keep="last")
    rows = nics.merge(groups, left_on=["host_moid", "network"], right_on=["host_moid", "portgroup"])
    rows = rows[rows["uplinks"] == 0].reset_index(drop=True)  # a port group the source lacks is no intranet
    if rows.empty:
        return _issues(rows, "virtual intranet", "error", "", "")
    connected = rows["connected"].astype(bool)
    reason = ("'" + rows["label"] + "'" + pd.Series(np.where(connected, "", " (not connected)")) + " uses '"
              + rows["network"] + "', on the source host's switch " + rows["switch"] + ", which has no physical uplink: a network only the source host's VMs share")
    return _issues(rows, "virtual intranet", pd.Series(np.where(connected, "error", "warning")),
                   "VMOnVirtualIntranet", reason)


def memory(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    moving = p.loc[p["host_change"] & p["powered_on"], ["vm", "host", "memoryMB_dest", "reservedMB", "demandMB",
                                                         "reservationMB"]]
    free = moving["memoryMB_dest"] - moving["reservedMB"]
    rows = moving[moving["demandMB"] > free]
    free = free[rows.index]
    return _issues(rows, "memory", "error", "InsufficientMemoryResourcesFault",
                   "the destination has " + free.astype(int).astype(str) + " MB of memory unreserved; the VM needs "
                   + rows["demandMB"].astype(str) + " MB (its reservation "
                   + rows["reservationMB"].astype(str) + " MB plus " + (rows["demandMB"] - rows["reservationMB"]
                                                                         ).astype(str) + " MB overhead)")


RULES = (
    Rule("host state", "the destination's connection state, maintenance mode, and an EnterMaintenanceMode_Task "
         "under way", "exit maintenance mode or reconnect the host, or pick another host",
         ("InvalidState", "InvalidHostConnectionState"), host_state),
    Rule("vMotion network", "a VMkernel adapter with the vMotion service on the source and the destination",
         "enable the vMotion service on a VMkernel adapter of both hosts", ("VMotionNotConfigured",), vmotion_network),
    Rule("vMotion link", "a physical uplink on the switch of a vMotion VMkernel adapter, source and destination",
         "give the vMotion adapter's switch a physical NIC (or move the adapter to a switch that has one)",
         ("VMotionLinkDown",), vmotion_link),
    Rule("vMotion link capacity", "the speed and duplex of the best uplink behind each vMotion adapter",
         "back the vMotion adapters with 1 Gb/s or faster, full-duplex physical NICs",
         ("VMotionLinkCapacityLow",), vmotion_capacity),
    Rule("vMotion MTU", "the MTU of the vMotion adapters of the source and the destination",
         "set the same MTU on the vMotion adapters of both hosts (and the switches between them; VMware KB 432825)",
         ("MigrationFault",), vmotion_mtu),
    Rule("CPU", "the VM's CPU feature requirement (fixed when it powered on) against the features the destination "
         "exposes (after EVC)", "put both hosts in an EVC cluster whose mode the VM was powered on under, or power "
         "the VM off (a cold migration checks no CPU)", ("FeatureRequirementsNotMet",), cpu),
    Rule("hardware version", "the VM's virtual hardware version against what the destination's ESXi runs",
         "choose a host with a newer ESXi, or migrate cold to upgrade later", ("VirtualHardwareVersionNotSupported",),
         hardware_version),
    Rule("devices", "devices backed by something only the source has (host CD-ROM, serial or parallel port, "
         "USB not set up for vMotion), client devices and passthrough devices",
         "disconnect or remove the device before the migration (a USB device: use remote host backing)",
         ("CannotAccessVmDevice", "DisallowedMigrationDeviceAttached"), devices),
    Rule("device images", "the datastore of each ISO or floppy image mounted on the destination",
         "keep images on a datastore every host mounts, or disconnect the drive",
         ("CannotAccessVmDevice",), device_images),
    Rule("storage", "every datastore of the VM mounted on the destination",
         "mount the datastore on the destination, or move the disks too (Storage vMotion)",
         ("DatastoreNotWritableOnHost",), storage),
    Rule("networks", "every network of the VM's NICs present on the destination",
         "create the same port group on the destination, or join it to the distributed switch",
         ("CannotAccessNetwork",), networks),
    Rule("virtual intranet", "the physical uplinks of the source host's switch under each standard port group the "
         "VM uses", "give the switch a physical uplink, or move the NIC to a port group with one",
         ("VMOnVirtualIntranet",), virtual_intranet),
    Rule("memory", "the VM's reservation plus overhead against the destination's unreserved memory",
         "free memory on the destination (move or power off VMs, lower reservations), or pick another host",
         ("InsufficientMemoryResourcesFault",), memory),
)


def evaluate(p: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    """All problems of all pairs: the rules' rows together."""
    found = [r.find(p, facts) for r in RULES]
    found = [f for f in found if not f.empty]
    if not found:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    return pd.concat(found, ignore_index=True)
