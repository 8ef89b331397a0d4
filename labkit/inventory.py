"""The inventory as pandas DataFrames, one PropertyCollector pass each.

Each function makes one paged RetrievePropertiesEx over a ContainerView for all
the object types its table needs (a VM table needs host, cluster, datastore and
network names too), however many objects there are. Column names follow the
vSphere API's property names; references to other objects are resolved to
names; lists are sorted; rows are sorted by name, so tables are stable.

>>> inventory.vms(session)[["name", "host", "powerState"]]
"""
from __future__ import annotations

import pandas as pd
from pyVmomi import vim

from .collector import retrieve

_DS_NET = {
    vim.Datastore: ["name"],
    vim.Network: ["name"],
}
_HOST_NAMES = {vim.HostSystem: ["name", "parent"], vim.ComputeResource: ["name"]}

VM_PROPS = ["name", "runtime.host", "runtime.powerState", "config.hardware.memoryMB", "config.hardware.numCPU",
            "datastore", "network", "config.version", "config.guestFullName", "config.template"]
HOST_PROPS = ["name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode", "runtime.powerState",
              "hardware.cpuPkg", "summary.hardware.cpuModel", "summary.hardware.numCpuCores",
              "summary.hardware.memorySize", "summary.maxEVCModeKey", "summary.currentEVCModeKey",
              "summary.config.vmotionEnabled", "config.virtualNicManagerInfo.netConfig", "config.product.version"]
CLUSTER_PROPS = ["name", "host", "summary.currentEVCModeKey", "configuration.drsConfig.enabled",
                 "configuration.dasConfig.enabled"]
DATASTORE_PROPS = ["name", "summary.type", "host", "summary.capacity", "summary.freeSpace", "summary.accessible"]
NETWORK_PROPS = ["name", "host"]

GIB = 1024 ** 3


def _names(rows) -> dict[str, str]:
    return {obj._moId: props.get("name", obj._moId) for obj, props in rows}


def _name_list(refs, names) -> list[str]:
    return sorted(names.get(r._moId, r._moId) for r in (refs or []))


def _frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows sorted by name; an unset value stays None (not NaN) in text columns."""
    data = {}
    for c in columns:
        values = [r[c] for r in records]
        keep_none = any(v is None for v in values) and not any(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                             for v in values)
        data[c] = pd.Series(values, dtype=object) if keep_none else pd.Series(values)
    df = pd.DataFrame(data, columns=columns)
    return df.sort_values("name", kind="stable").reset_index(drop=True)


def _host_cluster(host_rows, cr_names) -> dict[str, str | None]:
    """host moid -> cluster name (None for a standalone host)."""
    out = {}
    for obj, props in host_rows:
        parent = props.get("parent")
        out[obj._moId] = cr_names.get(parent._moId) if isinstance(parent, vim.ClusterComputeResource) else None
    return out


def vms(session, *, page_size: int | None = None) -> pd.DataFrame:
    """One row per virtual machine (templates left out)."""
    got = retrieve(session.content, {vim.VirtualMachine: VM_PROPS, **_HOST_NAMES, **_DS_NET}, page_size=page_size)
    hosts = _names(got[vim.HostSystem])
    clusters = _host_cluster(got[vim.HostSystem], _names(got[vim.ComputeResource]))
    ds, net = _names(got[vim.Datastore]), _names(got[vim.Network])
    records = []
    for obj, p in got[vim.VirtualMachine]:
        if p.get("config.template"):
            continue
        host = p.get("runtime.host")
        records.append({
            "name": p.get("name"),
            "host": hosts.get(host._moId) if host else None,
            "cluster": clusters.get(host._moId) if host else None,
            "powerState": str(p.get("runtime.powerState")),
            "memoryMB": p.get("config.hardware.memoryMB"),
            "numCPU": p.get("config.hardware.numCPU"),
            "datastore": _name_list(p.get("datastore"), ds),
            "network": _name_list(p.get("network"), net),
            "version": p.get("config.version"),
            "guestFullName": p.get("config.guestFullName"),
            "moid": obj._moId,
        })
    return _frame(records, ["name", "host", "cluster", "powerState", "memoryMB", "numCPU", "datastore", "network",
                            "version", "guestFullName", "moid"])


def _vmotion_vnics(net_config) -> list[str]:
    """Devices of the VMkernel adapters selected for the 'vmotion' service."""
    for nc in net_config or []:
        if nc.nicType == "vmotion":
            keys = set(nc.selectedVnic or [])
            return sorted(v.device for v in (nc.candidateVnic or []) if v.key in keys)
    return []


def hosts(session, *, page_size: int | None = None) -> pd.DataFrame:
    """One row per ESXi host: placement, state, CPU, EVC and vMotion facts."""
    got = retrieve(session.content, {vim.HostSystem: HOST_PROPS, vim.ComputeResource: ["name"]}, page_size=page_size)
    clusters = _host_cluster(got[vim.HostSystem], _names(got[vim.ComputeResource]))
    records = []
    for obj, p in got[vim.HostSystem]:
        pkgs = p.get("hardware.cpuPkg") or []
        vnics = _vmotion_vnics(p.get("config.virtualNicManagerInfo.netConfig"))
        records.append({
            "name": p.get("name"),
            "cluster": clusters.get(obj._moId),
            "connectionState": str(p.get("runtime.connectionState")),
            "inMaintenanceMode": bool(p.get("runtime.inMaintenanceMode")),
            "powerState": str(p.get("runtime.powerState")),
            "cpuVendor": pkgs[0].vendor if pkgs else None,
            "cpuModel": p.get("summary.hardware.cpuModel"),
            "numCpuCores": p.get("summary.hardware.numCpuCores"),
            "memoryGB": round(p.get("summary.hardware.memorySize", 0) / GIB, 1),
            "maxEVCModeKey": p.get("summary.maxEVCModeKey"),
            "currentEVCModeKey": p.get("summary.currentEVCModeKey"),
            "vmotionEnabled": bool(vnics) or bool(p.get("summary.config.vmotionEnabled")),
            "vmotionVnics": vnics,
            "version": p.get("config.product.version"),
            "moid": obj._moId,
        })
    return _frame(records, ["name", "cluster", "connectionState", "inMaintenanceMode", "powerState", "cpuVendor",
                            "cpuModel", "numCpuCores", "memoryGB", "maxEVCModeKey", "currentEVCModeKey",
                            "vmotionEnabled", "vmotionVnics", "version", "moid"])


def clusters(session, *, page_size: int | None = None) -> pd.DataFrame:
    """One row per cluster: hosts, DRS, HA and EVC mode."""
    got = retrieve(session.content, {vim.ClusterComputeResource: CLUSTER_PROPS, vim.HostSystem: ["name"]},
                   page_size=page_size)
    hosts_by_id = _names(got[vim.HostSystem])
    records = [{
        "name": p.get("name"),
        "hosts": _name_list(p.get("host"), hosts_by_id),
        "numHosts": len(p.get("host") or []),
        "drsEnabled": bool(p.get("configuration.drsConfig.enabled")),
        "haEnabled": bool(p.get("configuration.dasConfig.enabled")),
        "currentEVCModeKey": p.get("summary.currentEVCModeKey"),
        "moid": obj._moId,
    } for obj, p in got[vim.ClusterComputeResource]]
    return _frame(records, ["name", "hosts", "numHosts", "drsEnabled", "haEnabled", "currentEVCModeKey", "moid"])


def datastores(session, *, page_size: int | None = None) -> pd.DataFrame:
    """One row per datastore: type, the hosts that mount it, capacity and free space."""
    got = retrieve(session.content, {vim.Datastore: DATASTORE_PROPS, vim.HostSystem: ["name"]}, page_size=page_size)
    hosts_by_id = _names(got[vim.HostSystem])
    records = [{
        "name": p.get("name"),
        "type": p.get("summary.type"),
        "hosts": _name_list([m.key for m in (p.get("host") or [])], hosts_by_id),
        "capacityGB": round(p.get("summary.capacity", 0) / GIB, 1),
        "freeSpaceGB": round(p.get("summary.freeSpace", 0) / GIB, 1),
        "accessible": bool(p.get("summary.accessible")),
        "moid": obj._moId,
    } for obj, p in got[vim.Datastore]]
    return _frame(records, ["name", "type", "hosts", "capacityGB", "freeSpaceGB", "accessible", "moid"])


def networks(session, *, page_size: int | None = None) -> pd.DataFrame:
    """One row per network: standard port group, distributed port group or opaque network, and its hosts."""
    got = retrieve(session.content, {
        vim.Network: NETWORK_PROPS,
        vim.dvs.DistributedVirtualPortgroup: ["config.distributedVirtualSwitch"],
        vim.DistributedVirtualSwitch: ["name"],
        vim.HostSystem: ["name"],
    }, page_size=page_size)
    hosts_by_id = _names(got[vim.HostSystem])
    switches = _names(got[vim.DistributedVirtualSwitch])
    dvs_of = {o._moId: p.get("config.distributedVirtualSwitch") for o, p in got[vim.dvs.DistributedVirtualPortgroup]}
    records = []
    for obj, p in got[vim.Network]:
        sw = dvs_of.get(obj._moId)
        records.append({
            "name": p.get("name"),
            "type": type(obj).__name__.split(".")[-1],
            "switch": switches.get(sw._moId) if sw else None,
            "hosts": _name_list(p.get("host"), hosts_by_id),
            "moid": obj._moId,
        })
    return _frame(records, ["name", "type", "switch", "hosts", "moid"])


KINDS = {"VirtualMachine": vim.VirtualMachine, "HostSystem": vim.HostSystem, "Datastore": vim.Datastore,
         "Network": vim.Network, "ClusterComputeResource": vim.ClusterComputeResource,
         "DistributedVirtualSwitch": vim.DistributedVirtualSwitch}


def find(session, name: str, kind: str = "VirtualMachine"):
    """The managed object of type ``kind`` named ``name`` (one PropertyCollector pass)."""
    from .errors import LabkitError

    if kind not in KINDS:
        raise LabkitError(f"'{kind}' is not a kind labkit finds.", fix=f"use one of: {', '.join(KINDS)}")
    got = retrieve(session.content, {KINDS[kind]: ["name"]})[KINDS[kind]]
    matches = [obj for obj, props in got if props.get("name") == name]
    if len(matches) != 1:
        known = sorted(props.get("name", "") for _, props in got)
        what = "No" if not matches else f"{len(matches)}"
        raise LabkitError(f"{what} {kind} named '{name}' in the inventory.",
                          fix=f"use one of: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}")
    return matches[0]
