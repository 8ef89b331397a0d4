"""The facts the vMotion checks look at, read in one PropertyCollector pass.

Everything a compatibility rule needs (VM power state, memory, reservation and
vCPUs, hardware version, datastores, NICs and devices; host state, vMotion
adapters with their switch's uplinks and MTU, standard port groups and their
switches' uplinks, CPU capabilities, memory, ESXi version; datastore mounts;
network membership) comes back from one paged ``RetrievePropertiesEx`` and is
laid out as flat tables, so the rules in :mod:`labkit.compat.rules` can join
them instead of walking objects. Two small targeted reads follow: the CPU
feature requirement of the running VMs, and the hosts' recent tasks (only when
a host lists any) to see an ``EnterMaintenanceMode_Task`` still under way.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re

import pandas as pd
from pyVmomi import vim

from .. import scenarios
from ..collector import retrieve, retrieve_objects
from ..inventory import _vmotion_vnics

VM_PROPS = ["name", "runtime.host", "runtime.powerState", "config.hardware.memoryMB", "config.hardware.numCPU",
            "config.memoryAllocation.reservation", "config.version", "datastore", "config.hardware.device",
            "config.template"]
#: read for every powered-on or suspended VM: the CPU features it was powered on with (see fetch)
REQUIREMENT = "runtime.featureRequirement"
HOST_PROPS = ["name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode",
              "config.virtualNicManagerInfo.netConfig", "config.maskedFeatureCapability",
              "config.featureCapability", "summary.currentEVCModeKey", "summary.maxEVCModeKey",
              "config.product.version", "hardware.memorySize", "network", "vm",
              "config.network.vswitch", "config.network.portgroup", "config.network.pnic", "config.network.vnic",
              "config.network.proxySwitch", "recentTask"]
#: the task that puts a host in maintenance mode, as TaskInfo.descriptionId names it
ENTER_MAINTENANCE = "HostSystem.enterMaintenanceMode"
TASK_PROPS = ["info.descriptionId", "info.state", "info.entity"]
DEFAULT_MTU = 1500  # HostVirtualNicSpec.mtu unset

D = vim.vm.device
#: backings of a device that only the source host has (CannotAccessVmDevice)
HOST_BACKINGS = (D.VirtualCdrom.AtapiBackingInfo, D.VirtualCdrom.PassthroughBackingInfo,
                 D.VirtualSerialPort.DeviceBackingInfo, D.VirtualParallelPort.DeviceBackingInfo,
                 D.VirtualFloppy.DeviceBackingInfo, D.VirtualUSB.USBBackingInfo)
#: image files on a datastore (CannotAccessVmDevice when the destination does not mount it)
IMAGE_BACKINGS = (D.VirtualCdrom.IsoBackingInfo, D.VirtualFloppy.ImageBackingInfo)
#: backings on the vSphere Client's machine (RemoteDeviceNotSupported)
CLIENT_BACKINGS = (D.VirtualCdrom.RemotePassthroughBackingInfo, D.VirtualCdrom.RemoteAtapiBackingInfo,
                   D.VirtualFloppy.RemoteDeviceBackingInfo)
# D.VirtualUSB.RemoteHostBackingInfo (a USB device configured for vMotion) blocks nothing

VNIC_COLUMNS = ["host_moid", "device", "order", "network", "mtu", "uplinks", "speedMb", "fullDuplex"]
PORTGROUP_COLUMNS = ["host_moid", "portgroup", "switch", "uplinks"]


@dataclasses.dataclass
class Facts:
    """One snapshot of the inventory, as the tables the rules join."""

    vms: pd.DataFrame           # vm, moid, host, host_moid, powerState, memoryMB, numCPU, reservationMB, hw,
    #                             requirements (dict, None where not read)
    hosts: pd.DataFrame         # host, moid, cluster, connectionState, inMaintenanceMode, enteringMaintenanceMode,
    #                             vmotionVnics, ...
    vm_datastores: pd.DataFrame  # vm, datastore, datastore_moid
    mounts: pd.DataFrame        # datastore_moid, host_moid, writable (mounted and accessible; writable: not readOnly)
    vm_nics: pd.DataFrame       # vm, label, network, network_id, distributed, connected
    network_hosts: pd.DataFrame  # network_id, host_moid
    vm_devices: pd.DataFrame    # vm, label, kind, block ("host", "image", "client", "passthrough"), backing,
    #                             connected, datastore, datastore_moid (images)
    #: the hosts' vMotion VMkernel adapters: MTU, and their switch's physical uplinks (count, best speed and duplex)
    vmotion_vnics: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(columns=VNIC_COLUMNS))
    #: the hosts' standard port groups, their switch and its number of physical uplinks
    portgroups: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(columns=PORTGROUP_COLUMNS))


def fetch(session, *, requirements_of=None, page_size: int | None = None) -> Facts:
    """Read every fact the checks need: one paged PropertyCollector pass over the inventory.

    A VM's CPU feature requirement (``runtime.featureRequirement``, about 60
    entries a VM, fixed when it powered on) is read in a second, targeted pass for
    every powered-on or suspended VM, or only for those named in ``requirements_of``
    (the others' CPU check is then skipped: :func:`labkit.compat.check` reads one VM's).
    The hosts alone do not decide the CPU check: the requirement can exceed what
    the VM's own host exposes today (its cluster's EVC mode changed since).
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
    pg_names = {p.get("key"): names.get(o._moId, o._moId) for o, p in got[vim.dvs.DistributedVirtualPortgroup]}
    datastores = {p.get("name"): o._moId for o, p in got[vim.Datastore]}
    hosts, vnics, portgroups = _hosts(got[vim.HostSystem], got[vim.ComputeResource], names, pg_names)
    hosts["enteringMaintenanceMode"] = hosts["moid"].isin(_entering_maintenance(session, got[vim.HostSystem]))
    vms, vm_ds, nics, devices = _vms(got[vim.VirtualMachine], names, pg_names, datastores)
    mounts, network_hosts = layout(got)
    _add_requirements(session, vms, hosts, got[vim.VirtualMachine],
                      None if requirements_of is None else set(requirements_of))
    return Facts(vms, hosts, vm_ds, mounts, nics, network_hosts, devices, vnics, portgroups)


def layout(got: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From one read (``got`` as :func:`labkit.collector.retrieve` returns it, with datastores' ``host`` and
    hosts' ``network`` and distributed port groups' ``key`` and ``host``): the mounts that are accessible
    (datastore_moid, host_moid, writable: not readOnly), and which hosts have which network (network_id,
    host_moid)."""
    mounts = pd.DataFrame([(o._moId, m.key._moId, m.mountInfo is None or m.mountInfo.accessMode != "readOnly")
                           for o, p in got[vim.Datastore] for m in (p.get("host") or [])
                           if m.mountInfo is None or m.mountInfo.accessible is not False],
                          columns=["datastore_moid", "host_moid", "writable"])
    # standard networks list their hosts on the host side, distributed port groups on their own
    std = [(net._moId, o._moId) for o, p in got[vim.HostSystem] for net in (p.get("network") or [])]
    dv = [(p.get("key"), h._moId) for o, p in got[vim.dvs.DistributedVirtualPortgroup] for h in (p.get("host") or [])]
    return mounts, pd.DataFrame(std + dv, columns=["network_id", "host_moid"])


def _entering_maintenance(session, host_rows) -> set[str]:
    """Hosts with an ``EnterMaintenanceMode_Task`` queued or running (``inMaintenanceMode`` is still false then).

    A host's ``recentTask`` lists its tasks of the last minutes, finished ones too; their ``info`` says which
    method and in what state. Read only when some host lists a task."""
    tasks = [t for _, p in host_rows for t in (p.get("recentTask") or [])]
    found = set()
    for _, p in retrieve_objects(session.content, tasks, TASK_PROPS):
        entity = p.get("info.entity")
        if (p.get("info.descriptionId") == ENTER_MAINTENANCE and entity is not None
                and str(p.get("info.state")) in ("queued", "running")):
            found.add(entity._moId)
    return found


def _add_requirements(session, vms: pd.DataFrame, hosts: pd.DataFrame, vm_rows, named: set[str] | None) -> None:
    """Fill ``vms.requirements``: the recorded requirement of the powered-on or suspended VMs (of those named, when
    ``named`` is given); None elsewhere."""
    signature = hosts.set_index("moid")["cpu_signature"]
    wanted = vms["powerState"].isin(["poweredOn", "suspended"])
    if named is not None:
        wanted &= vms["vm"].isin(named)
    wanted = set(vms.loc[wanted, "moid"])
    objs = [o for o, p in vm_rows if o._moId in wanted]
    found = {o._moId: {r.key.lower(): r.value for r in (p.get(REQUIREMENT) or [])}
             for o, p in retrieve_objects(session.content, objs, [REQUIREMENT])}
    vms["requirements"] = [found.get(m) for m in vms["moid"]]
    vms["req_signature"] = [None if r is None else signature_of(r) for r in vms["requirements"]]
    vms["cpu_signature"] = vms["host_moid"].map(signature)


def signature_of(features: dict[str, str]) -> str:
    """A short, stable name for a set of CPU features and values: equal sets, equal names."""
    return hashlib.sha1(repr(sorted(features.items())).encode()).hexdigest()[:12]


def _capabilities(masked, full) -> dict[str, str]:
    return {c.key.lower(): c.value for c in (masked or full or [])}


def _hosts(rows, compute_resources, names, pg_names):
    clusters = {o._moId for o, _ in compute_resources if isinstance(o, vim.ClusterComputeResource)}
    limits = scenarios.esxi_versions()
    records, vnics, portgroups = [], [], []
    for obj, p in rows:
        parent = p.get("parent")
        version = p.get("config.product.version")
        net_config = p.get("config.virtualNicManagerInfo.netConfig")
        records.append({
            "host": p.get("name"), "moid": obj._moId,
            "cluster": names.get(parent._moId) if parent is not None and parent._moId in clusters else None,
            "connectionState": str(p.get("runtime.connectionState")),
            "inMaintenanceMode": bool(p.get("runtime.inMaintenanceMode")),
            "vmotionVnics": _vmotion_vnics(net_config),
            "capabilities": _capabilities(p.get("config.maskedFeatureCapability"), p.get("config.featureCapability")),
            "currentEVCModeKey": p.get("summary.currentEVCModeKey") or None,
            "maxEVCModeKey": p.get("summary.maxEVCModeKey") or None,
            "version": version,
            "maxHardwareVersion": limits.get(version),
            "memoryMB": int(p.get("hardware.memorySize", 0) >> 20),
        })
        v, g = _host_network(obj._moId, p, _selected_vmotion(net_config), pg_names)
        vnics.extend(v)
        portgroups.extend(g)
    for r in records:
        r["cpu_signature"] = signature_of(r["capabilities"])
    cols = ["host", "moid", "cluster", "connectionState", "inMaintenanceMode", "vmotionVnics", "capabilities",
            "cpu_signature", "currentEVCModeKey", "maxEVCModeKey", "version", "maxHardwareVersion", "memoryMB"]
    return (pd.DataFrame(records, columns=cols).sort_values("host", kind="stable").reset_index(drop=True),
            pd.DataFrame(vnics, columns=VNIC_COLUMNS), pd.DataFrame(portgroups, columns=PORTGROUP_COLUMNS))


def _selected_vmotion(net_config) -> list[str]:
    """The devices of the VMkernel adapters selected for vMotion, in the order of ``selectedVnic``."""
    for nc in net_config or []:
        if nc.nicType == "vmotion":
            device = {v.key: v.device for v in (nc.candidateVnic or [])}
            return [device[k] for k in (nc.selectedVnic or []) if k in device]
    return []


def _host_network(moid: str, p: dict, vmotion: list[str], pg_names: dict) -> tuple[list[dict], list[dict]]:
    """A host's vMotion adapters (MTU; their switch's uplinks: count, best speed and duplex) and standard port groups.

    A VMkernel adapter sits on a standard port group (``vnic.portgroup`` -> ``portgroup.spec.vswitchName`` ->
    ``vswitch.pnic``) or on a distributed port (``spec.distributedVirtualPort.switchUuid`` -> the host's
    ``proxySwitch`` of that switch -> ``proxySwitch.pnic``). An uplink is a physical NIC of the host named there
    (by key or device); only one with a ``linkSpeed`` is up, and the best is the fastest, full duplex first."""
    pnics = list(p.get("config.network.pnic") or [])

    def resolve(keys) -> list:
        return [n for k in keys or [] for n in pnics if k in (n.key, n.device)]

    switch_pnics = {}
    for sw in p.get("config.network.vswitch") or []:
        switch_pnics.setdefault(sw.name, resolve(sw.pnic))
    proxy_pnics = {}
    for ps in p.get("config.network.proxySwitch") or []:
        proxy_pnics.setdefault(ps.dvsUuid, resolve(ps.pnic))
    pg_switch = {pg.spec.name: pg.spec.vswitchName for pg in p.get("config.network.portgroup") or []}
    portgroups = [{"host_moid": moid, "portgroup": name, "switch": sw, "uplinks": len(switch_pnics.get(sw, []))}
                  for name, sw in pg_switch.items()]
    order = {d: i for i, d in enumerate(vmotion)}
    vnics = []
    for nic in p.get("config.network.vnic") or []:
        if nic.device not in order:
            continue
        spec = nic.spec
        port = spec.distributedVirtualPort if spec is not None else None
        if port is not None:
            uplinks, network = proxy_pnics.get(port.switchUuid, []), pg_names.get(port.portgroupKey, port.portgroupKey)
        else:
            uplinks, network = switch_pnics.get(pg_switch.get(nic.portgroup), []), nic.portgroup
        links = [(n.linkSpeed.speedMb, bool(n.linkSpeed.duplex)) for n in uplinks if n.linkSpeed is not None]
        speed, full = max(links) if links else (0, False)
        vnics.append({"host_moid": moid, "device": nic.device, "order": order[nic.device], "network": network or "",
                      "mtu": int((spec.mtu if spec is not None else None) or DEFAULT_MTU), "uplinks": len(uplinks),
                      "speedMb": int(speed), "fullDuplex": full})
    return sorted(vnics, key=lambda v: v["order"]), portgroups


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
                      (D.VirtualParallelPort, "Parallel port"), (D.VirtualUSB, "USB device")):
        if isinstance(device, cls):
            return name
    return type(device).__name__.split(".")[-1]


def _image_datastore(backing, datastores: dict[str, str]) -> tuple[str, str | None]:
    """The datastore of an image file: ``backing.datastore``, else the datastore named by the ``[name]`` that
    starts ``fileName``; none for a file on the host itself (``[] /usr/lib/vmware/isoimages/...``)."""
    found = re.match(r"\[([^\]]*)\]", backing.fileName or "")
    name = found.group(1) if found else ""
    if backing.datastore is not None:
        return name or backing.datastore._moId, backing.datastore._moId
    return name, datastores.get(name) if name else None


def _vms(rows, names, pg_names, datastores):
    vms, vm_ds, nics, devices = [], [], [], []
    for obj, p in rows:
        if p.get("config.template"):
            continue
        name, host = p.get("name"), p.get("runtime.host")
        version = str(p.get("config.version") or "")
        power = str(p.get("runtime.powerState"))
        vms.append({
            "vm": name, "moid": obj._moId,
            "host": names.get(host._moId) if host else None, "host_moid": host._moId if host else None,
            "powerState": power,
            "memoryMB": int(p.get("config.hardware.memoryMB") or 0),
            "numCPU": int(p.get("config.hardware.numCPU") or 1),
            "reservationMB": int(p.get("config.memoryAllocation.reservation") or 0),
            "hw": int(version.removeprefix("vmx-")) if version.removeprefix("vmx-").isdigit() else None,
        })
        vm_ds.extend({"vm": name, "datastore": names.get(d._moId, d._moId), "datastore_moid": d._moId}
                     for d in (p.get("datastore") or []))
        counts: dict[str, int] = {}
        for dev in p.get("config.hardware.device") or []:
            label = _label(dev, counts)
            # connectable.connected is "valid only while the virtual machine is running" (API reference)
            connected = power == "poweredOn" and bool(dev.connectable and dev.connectable.connected)
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
            ds_name, ds_moid = None, None
            if isinstance(backing, IMAGE_BACKINGS):
                block, shown = "image", backing.fileName or ""
                ds_name, ds_moid = _image_datastore(backing, datastores)
            else:
                block = ("host" if isinstance(backing, HOST_BACKINGS) else
                         "client" if isinstance(backing, CLIENT_BACKINGS) else
                         "passthrough" if isinstance(backing, D.VirtualPCIPassthrough.DeviceBackingInfo) else None)
                shown = getattr(backing, "deviceName", "") or ""
            if block:
                devices.append({"vm": name, "label": label, "kind": _kind(dev), "block": block, "backing": shown,
                                "connected": connected, "datastore": ds_name, "datastore_moid": ds_moid})
    vm_cols = ["vm", "moid", "host", "host_moid", "powerState", "memoryMB", "numCPU", "reservationMB", "hw"]
    return (pd.DataFrame(vms, columns=vm_cols).sort_values("vm", kind="stable").reset_index(drop=True),
            pd.DataFrame(vm_ds, columns=["vm", "datastore", "datastore_moid"]),
            pd.DataFrame(nics, columns=["vm", "label", "network", "network_id", "distributed", "connected"]),
            pd.DataFrame(devices, columns=["vm", "label", "kind", "block", "backing", "connected", "datastore",
                                           "datastore_moid"]))
