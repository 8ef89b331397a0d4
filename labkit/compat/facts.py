"""The facts the vMotion checks look at, read in one PropertyCollector pass.

Everything a compatibility rule needs (VM power state, memory, hardware
version, datastores, NICs and devices, CPU feature requirements; host state,
vMotion adapters, CPU capabilities, memory, ESXi version; datastore mounts;
network membership) comes back from one paged ``RetrievePropertiesEx`` and is
laid out as flat tables, so the rules in :mod:`labkit.compat.rules` can join
them instead of walking objects.
"""
from __future__ import annotations

import dataclasses
import hashlib

import pandas as pd
from pyVmomi import vim

from .. import scenarios
from ..collector import retrieve, retrieve_objects
from ..inventory import _vmotion_vnics

VM_PROPS = ["name", "runtime.host", "runtime.powerState", "config.hardware.memoryMB", "config.version",
            "datastore", "config.hardware.device", "config.template"]
#: read only for the VMs whose CPU check the hosts alone do not decide (see fetch)
REQUIREMENT = "runtime.featureRequirement"
HOST_PROPS = ["name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode",
              "config.virtualNicManagerInfo.netConfig", "config.maskedFeatureCapability",
              "config.featureCapability", "summary.currentEVCModeKey", "summary.maxEVCModeKey",
              "config.product.version", "hardware.memorySize", "network", "vm"]

D = vim.vm.device
#: backings of a device that only the source host has (CannotAccessVmDevice)
HOST_BACKINGS = (D.VirtualCdrom.AtapiBackingInfo, D.VirtualCdrom.PassthroughBackingInfo,
                 D.VirtualSerialPort.DeviceBackingInfo, D.VirtualParallelPort.DeviceBackingInfo,
                 D.VirtualFloppy.DeviceBackingInfo)
#: backings on the vSphere Client's machine (RemoteDeviceNotSupported)
CLIENT_BACKINGS = (D.VirtualCdrom.RemotePassthroughBackingInfo, D.VirtualCdrom.RemoteAtapiBackingInfo,
                   D.VirtualFloppy.RemoteDeviceBackingInfo)


@dataclasses.dataclass
class Facts:
    """One snapshot of the inventory, as the tables the rules join."""

    vms: pd.DataFrame           # vm, moid, host, host_moid, powerState, memoryMB, hw, requirements (dict or None)
    hosts: pd.DataFrame         # host, moid, cluster, connectionState, inMaintenanceMode, vmotionVnics, ...
    vm_datastores: pd.DataFrame  # vm, datastore, datastore_moid
    mounts: pd.DataFrame        # datastore_moid, host_moid, writable (mounted and accessible; writable: not readOnly)
    vm_nics: pd.DataFrame       # vm, label, network, network_id, distributed, connected
    network_hosts: pd.DataFrame  # network_id, host_moid
    vm_devices: pd.DataFrame    # vm, label, kind, backing, connected, block ("host", "client", "passthrough")


def fetch(session, *, requirements_of=(), page_size: int | None = None) -> Facts:
    """Read every fact the checks need: one paged PropertyCollector pass over the inventory.

    A VM's CPU feature requirement (``runtime.featureRequirement``, about 60
    entries a VM) is read in a second, targeted pass, only for the running VMs
    whose source host exposes other CPU features than some other host, and for
    the VMs named in ``requirements_of``. A VM runs on its host, so the host meets its
    requirement; a destination exposing exactly the same features meets it too.
    """
    got = retrieve(session.content, {
        vim.VirtualMachine: VM_PROPS,
        vim.HostSystem: HOST_PROPS,
        vim.ComputeResource: ["name"],
        vim.Datastore: ["name", "host"],
        vim.Network: ["name"],
        vim.dvs.DistributedVirtualPortgroup: ["key", "host"],
    }, page_size=page_size)
    names = {o._moId: p.get("name", o._moId) for t in (vim.HostSystem, vim.ComputeResource, vim.Datastore,
                                                       vim.Network) for o, p in got[t]}
    hosts = _hosts(got[vim.HostSystem], got[vim.ComputeResource], names)
    vms, vm_ds, nics, devices = _vms(got[vim.VirtualMachine], names, got[vim.dvs.DistributedVirtualPortgroup])
    used = vms[vms["powerState"] == "poweredOn"].groupby("host_moid")["memoryMB"].sum()
    hosts["usedMemoryMB"] = hosts["moid"].map(used).fillna(0).astype(int)
    mounts = pd.DataFrame([(o._moId, m.key._moId, m.mountInfo is None or m.mountInfo.accessMode != "readOnly")
                           for o, p in got[vim.Datastore] for m in (p.get("host") or [])
                           if m.mountInfo is None or m.mountInfo.accessible is not False],
                          columns=["datastore_moid", "host_moid", "writable"])
    # standard networks list their hosts on the host side, distributed port groups on their own
    std = [(net._moId, o._moId) for o, p in got[vim.HostSystem] for net in (p.get("network") or [])]
    dv = [(p.get("key"), h._moId) for o, p in got[vim.dvs.DistributedVirtualPortgroup] for h in (p.get("host") or [])]
    network_hosts = pd.DataFrame(std + dv, columns=["network_id", "host_moid"])
    _add_requirements(session, vms, hosts, got[vim.VirtualMachine], set(requirements_of))
    return Facts(vms, hosts, vm_ds, mounts, nics, network_hosts, devices)


def _add_requirements(session, vms: pd.DataFrame, hosts: pd.DataFrame, vm_rows, named: set[str]) -> None:
    """Fill ``vms.requirements`` (None where the hosts alone decide the CPU check)."""
    signature = hosts.set_index("moid")["cpu_signature"]
    mixed = signature.nunique() > 1
    src_sig = vms["host_moid"].map(signature)
    running = vms["powerState"].isin(["poweredOn", "suspended"])
    wanted = set(vms.loc[(running & mixed & src_sig.notna()) | vms["vm"].isin(named), "moid"])
    objs = [o for o, p in vm_rows if o._moId in wanted]
    found = {o._moId: {r.key.lower(): r.value for r in (p.get(REQUIREMENT) or [])}
             for o, p in retrieve_objects(session.content, objs, [REQUIREMENT])}
    vms["requirements"] = [found.get(m) for m in vms["moid"]]
    vms["req_signature"] = [None if r is None else signature_of(r) for r in vms["requirements"]]
    vms["cpu_signature"] = src_sig


def signature_of(features: dict[str, str]) -> str:
    """A short, stable name for a set of CPU features and values: equal sets, equal names."""
    return hashlib.sha1(repr(sorted(features.items())).encode()).hexdigest()[:12]


def _capabilities(masked, full) -> dict[str, str]:
    return {c.key.lower(): c.value for c in (masked or full or [])}


def _hosts(rows, compute_resources, names) -> pd.DataFrame:
    clusters = {o._moId for o, _ in compute_resources if isinstance(o, vim.ClusterComputeResource)}
    limits = scenarios.esxi_versions()
    records = []
    for obj, p in rows:
        parent = p.get("parent")
        version = p.get("config.product.version")
        records.append({
            "host": p.get("name"), "moid": obj._moId,
            "cluster": names.get(parent._moId) if parent is not None and parent._moId in clusters else None,
            "connectionState": str(p.get("runtime.connectionState")),
            "inMaintenanceMode": bool(p.get("runtime.inMaintenanceMode")),
            "vmotionVnics": _vmotion_vnics(p.get("config.virtualNicManagerInfo.netConfig")),
            "capabilities": _capabilities(p.get("config.maskedFeatureCapability"), p.get("config.featureCapability")),
            "currentEVCModeKey": p.get("summary.currentEVCModeKey") or None,
            "maxEVCModeKey": p.get("summary.maxEVCModeKey") or None,
            "version": version,
            "maxHardwareVersion": limits.get(version),
            "memoryMB": int(p.get("hardware.memorySize", 0) >> 20),
        })
    for r in records:
        r["cpu_signature"] = signature_of(r["capabilities"])
    cols = ["host", "moid", "cluster", "connectionState", "inMaintenanceMode", "vmotionVnics", "capabilities",
            "cpu_signature", "currentEVCModeKey", "maxEVCModeKey", "version", "maxHardwareVersion", "memoryMB"]
    return pd.DataFrame(records, columns=cols).sort_values("host", kind="stable").reset_index(drop=True)


def _label(device, counts: dict[str, int]) -> str:
    kind = _kind(device)
    counts[kind] = counts.get(kind, 0) + 1
    info = device.deviceInfo
    if info is not None and info.label and "-" not in info.label:
        return info.label
    return f"{kind} {counts[kind]}"


def _kind(device) -> str:
    for cls, name in ((D.VirtualEthernetCard, "Network adapter"), (D.VirtualCdrom, "CD/DVD drive"),
                      (D.VirtualSerialPort, "Serial port"), (D.VirtualFloppy, "Floppy drive"),
                      (D.VirtualPCIPassthrough, "PCI device"), (D.VirtualDisk, "Hard disk"),
                      (D.VirtualParallelPort, "Parallel port")):
        if isinstance(device, cls):
            return name
    return type(device).__name__.split(".")[-1]


def _vms(rows, names, portgroups):
    pg_names = {p.get("key"): names.get(o._moId, o._moId) for o, p in portgroups}
    vms, vm_ds, nics, devices = [], [], [], []
    for obj, p in rows:
        if p.get("config.template"):
            continue
        name, host = p.get("name"), p.get("runtime.host")
        version = str(p.get("config.version") or "")
        vms.append({
            "vm": name, "moid": obj._moId,
            "host": names.get(host._moId) if host else None, "host_moid": host._moId if host else None,
            "powerState": str(p.get("runtime.powerState")),
            "memoryMB": int(p.get("config.hardware.memoryMB") or 0),
            "hw": int(version.removeprefix("vmx-")) if version.removeprefix("vmx-").isdigit() else None,
        })
        vm_ds.extend({"vm": name, "datastore": names.get(d._moId, d._moId), "datastore_moid": d._moId}
                     for d in (p.get("datastore") or []))
        counts: dict[str, int] = {}
        for dev in p.get("config.hardware.device") or []:
            label = _label(dev, counts)
            connected = bool(dev.connectable and dev.connectable.connected)
            backing = dev.backing
            if isinstance(dev, D.VirtualEthernetCard):
                if isinstance(backing, D.VirtualEthernetCard.NetworkBackingInfo):
                    net = backing.network._moId if backing.network else None
                    nics.append({"vm": name, "label": label, "network": backing.deviceName, "network_id": net,
                                 "distributed": False, "connected": connected})
                elif isinstance(backing, D.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
                    key = backing.port.portgroupKey
                    nics.append({"vm": name, "label": label, "network": pg_names.get(key, key), "network_id": key,
                                 "distributed": True, "connected": connected})
                continue
            block = ("host" if isinstance(backing, HOST_BACKINGS) else
                     "client" if isinstance(backing, CLIENT_BACKINGS) else
                     "passthrough" if isinstance(backing, D.VirtualPCIPassthrough.DeviceBackingInfo) else None)
            if block:
                devices.append({"vm": name, "label": label, "kind": _kind(dev), "block": block,
                                "backing": getattr(backing, "deviceName", "") or "", "connected": connected})
    vm_cols = ["vm", "moid", "host", "host_moid", "powerState", "memoryMB", "hw"]
    return (pd.DataFrame(vms, columns=vm_cols).sort_values("vm", kind="stable").reset_index(drop=True),
            pd.DataFrame(vm_ds, columns=["vm", "datastore", "datastore_moid"]),
            pd.DataFrame(nics, columns=["vm", "label", "network", "network_id", "distributed", "connected"]),
            pd.DataFrame(devices, columns=["vm", "label", "kind", "block", "backing", "connected"]))
