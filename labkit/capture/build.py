"""Turn what capture read (:mod:`labkit.capture.read`) into a lab scenario: the YAML document
:func:`labkit.scenarios.compile` reads, and the list of what the scenario format cannot say.

Pure: no call to vCenter. A fact that the format cannot express is never dropped silently: it becomes a
:class:`Gap`, naming the object and what was lost, and the scenario keeps the nearest thing it can say. The
scenario's fields and their meaning are those of datasets/scenarios/README (see :mod:`labkit.scenarios`).
"""
from __future__ import annotations

import collections
import dataclasses
import ipaddress
import re

from pyVmomi import vim

from .. import evc, scenarios
from .read import Inventory

D = vim.vm.device


@dataclasses.dataclass(frozen=True)
class Gap:
    """Something capture read that the scenario cannot express: ``kind`` and ``name`` of the object (a name the
    anonymiser replaces), ``what`` was lost (free of inventory names), and what the scenario says instead."""

    kind: str   # datacenter, cluster, host, datastore, network, switch, vm
    name: str
    what: str   # may hold {0}, {1}: the names of ``refs``
    kept: str = ""
    refs: tuple = ()  # (kind, name) of other objects the text names

    def line(self, rename=None) -> str:
        """One line; ``rename(kind, name)`` gives the name to show (a pseudonym)."""
        show = rename or (lambda kind, name: name)
        names = [show(k, n) for k, n in self.refs]
        what, kept = self.what.format(*names), self.kept.format(*names)
        return f"{self.kind} {show(self.kind, self.name)}: {what}" + (f"; the scenario says {kept}" if kept else "")


class _Gaps(list):
    def add(self, kind: str, name: str, what: str, kept: str = "", refs: tuple = ()) -> None:
        self.append(Gap(kind, name, what, kept, refs))


def _names(inv: Inventory) -> dict[str, str]:
    out = {}
    for objs in inv.objects.values():
        for o, p in objs:
            if "name" in p:
                out[o._moId] = p["name"]
    return out


def build(inv: Inventory) -> tuple[dict, list[Gap]]:
    """The scenario document (a dict in the scenario file's shape) and the gaps, from one inventory read.

    Raises nothing for an odd inventory: what does not fit is a gap. A world with no host gives a document that
    :func:`labkit.scenarios.compile` refuses, with its usual message.
    """
    gaps = _Gaps()
    names = _names(inv)
    doc: dict = {"title": "", "teaches": ""}
    dcs = sorted(p["name"] for _, p in inv.of(vim.Datacenter))
    if dcs:
        doc["datacenter"] = dcs[0]
    for extra in dcs[1:]:
        gaps.add("datacenter", extra, "a second datacenter (the lab has one)",
                 "its hosts and VMs in datacenter {0}", (("datacenter", dcs[0]),))

    # clusters and where each host sits
    clusters: dict = {}
    placement: dict[str, str] = {}
    for o, p in sorted(inv.of(vim.ClusterComputeResource), key=lambda op: op[1]["name"]):
        clusters[p["name"]] = _cluster(p, gaps)
        placement[o._moId] = p["name"]
    hosts = sorted(inv.of(vim.HostSystem), key=lambda op: op[1]["name"])
    host_name = {o._moId: p["name"] for o, p in hosts}
    standalone = []
    for o, p in hosts:
        parent = p.get("parent")
        cl = placement.get(parent._moId) if parent is not None else None
        if cl is None:
            standalone.append(p["name"])
        else:
            clusters[cl].setdefault("hosts", []).append(p["name"])
    for cl, spec in list(clusters.items()):
        if not spec.get("hosts"):
            gaps.add("cluster", cl, "a cluster with no host (a scenario's cluster lists its hosts)", "nothing")
            del clusters[cl]
    if clusters:
        doc["clusters"] = clusters
    if standalone:
        doc["standalone"] = standalone

    # switches of distributed port groups; distributed port groups by key
    dvs_name = {o._moId: p["name"] for o, p in inv.of(vim.DistributedVirtualSwitch)}
    dvpg = {}
    for o, p in inv.of(vim.dvs.DistributedVirtualPortgroup):
        sw = p.get("config.distributedVirtualSwitch")
        dvpg[o._moId] = {"key": p.get("key"), "switch": dvs_name.get(sw._moId, "") if sw is not None else "",
                         "uplink": bool(p.get("config.uplink")), "vlan": _dv_vlan(p.get("config.defaultPortConfig"))}
    dvpg_by_key = {v["key"]: names.get(k, k) for k, v in dvpg.items()}

    doc["hosts"] = {}
    host_facts = {}
    for o, p in hosts:
        spec, facts = _host(p, gaps)
        doc["hosts"][p["name"]] = spec
        host_facts[p["name"]] = facts
    if not doc["hosts"]:
        del doc["hosts"]

    doc["datastores"] = {}
    for o, p in sorted(inv.of(vim.Datastore), key=lambda op: op[1]["name"]):
        doc["datastores"][p["name"]] = _datastore(p, host_name, gaps)

    doc["networks"] = {}
    for o, p in sorted(inv.of(vim.Network), key=lambda op: op[1]["name"]):
        if o._moId in dvpg:
            pg = dvpg[o._moId]
            if pg["uplink"]:
                continue  # a switch's uplink port group: the switch's own, never a VM's network
            spec = {"type": "distributed", "switch": pg["switch"]}
            if pg["vlan"]:
                spec["vlan"] = pg["vlan"]
            if pg["vlan"] is None:
                gaps.add("network", p["name"], "a VLAN trunk or private VLAN (a scenario gives one VLAN ID)", "VLAN 0")
        else:
            spec = _standard_network(p["name"], [host_name[h._moId] for h in p.get("host") or [] if h._moId in host_name],
                                     host_facts, gaps)
        members = sorted(host_name[h._moId] for h in p.get("host") or [] if h._moId in host_name)
        if not members:  # vCenter keeps a network object after its last port group is gone; no VM can use it
            gaps.add("network", p["name"], "a network on no host (a scenario's network is a port group of hosts)",
                     "nothing")
            continue
        spec["hosts"] = "all" if members == sorted(host_name.values()) else members
        doc["networks"][p["name"]] = spec

    doc["vms"] = {}
    cluster_evc = {cl: spec.get("evc") for cl, spec in clusters.items()}
    host_cluster = {h: cl for cl, spec in clusters.items() for h in spec["hosts"]}
    for o, p in sorted(inv.of(vim.VirtualMachine), key=lambda op: op[1]["name"]):
        if p.get("config.template"):
            gaps.add("vm", p["name"], "a template (the lab's scenarios hold VMs only)", "nothing")
            continue
        host = p.get("runtime.host")
        if host is None or host._moId not in host_name:
            gaps.add("vm", p["name"], "a VM without a host", "nothing")
            continue
        h = host_name[host._moId]
        if p["name"] in doc["vms"]:
            gaps.add("vm", p["name"], "a second VM of this name (in another folder)", "only the first")
            continue
        doc["vms"][p["name"]] = _vm(p, h, doc["hosts"][h], cluster_evc.get(host_cluster.get(h)), names, dvpg_by_key,
                                    gaps)
    for key in ("datastores", "networks", "vms"):
        if not doc[key]:
            del doc[key]
    return doc, list(gaps)


def _cluster(p: dict, gaps: _Gaps) -> dict:
    """A cluster's EVC mode (``summary.currentEVCModeKey``), and whether DRS and vSphere HA are on
    (``configurationEx.drsConfig.enabled``, ``.dasConfig.enabled``)."""
    spec: dict = {"hosts": []}
    summary = p.get("summary")
    mode = getattr(summary, "currentEVCModeKey", None)
    if mode:
        if mode in evc.modes():
            spec["evc"] = mode
        else:
            gaps.add("cluster", p["name"], f"EVC mode {mode}, which the lab's EVC table lacks", "no EVC")
    config = p.get("configurationEx")
    drs = getattr(config, "drsConfig", None)
    if drs is not None and drs.enabled:
        spec["drs"] = True
        if drs.defaultVmBehavior and str(drs.defaultVmBehavior) != "fullyAutomated":
            gaps.add("cluster", p["name"], f"DRS automation level {drs.defaultVmBehavior}",
                     "DRS on, with the lab's fully automated placement")
    das = getattr(config, "dasConfig", None)
    if das is not None and das.enabled:
        spec["ha"] = True
    return spec


def _prefix(mask: str) -> int | None:
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        return None


def _host(p: dict, gaps: _Gaps) -> tuple[dict, dict]:
    """A host's scenario fields, and what _standard_network needs of it (port group -> (switch, VLAN), switch ->
    uplink devices). Only values other than the scenario's defaults are written."""
    name = p["name"]
    spec: dict = {}
    mode = p.get("summary.maxEVCModeKey")
    if mode in evc.modes():
        spec["cpu"] = mode
        have = {c.key.lower() for c in p.get("config.featureCapability") or [] if c.value not in (None, "", "0")}
        extra = have - evc.features(mode) if have else set()
        if extra:
            gaps.add("host", name, f"{len(extra)} CPU features beyond its EVC mode {mode}",
                     f"the features of {mode}")
    else:
        gaps.add("host", name, f"CPU with maxEVCModeKey {mode or 'unset'}, which the lab's EVC table lacks",
                 f"cpu {scenarios.HOST_DEFAULTS['cpu']}")
    memory = int(p.get("hardware.memorySize") or 0)
    if memory:
        spec["memoryGB"] = max(1, round(memory / 2**30))
        if memory % 2**30:
            gaps.add("host", name, f"memory of {memory:,} bytes, not a whole number of GiB",
                     f"{spec['memoryGB']} GB")
    cores = p.get("hardware.cpuInfo.numCpuCores")
    if cores:
        spec["cores"] = int(cores)
    version = p.get("config.product.version")
    if version in scenarios.esxi_versions():
        spec["version"] = version
    elif version:
        known = sorted(scenarios.esxi_versions(), key=lambda v: [int(x) for x in re.findall(r"\d+", v)])
        near = max((v for v in known if v <= version), default=known[0])
        gaps.add("host", name, f"ESXi {version}, which the lab's release table lacks", f"ESXi {near}")
        spec["version"] = near
    state = str(p.get("runtime.connectionState") or "connected")
    spec["state"] = state
    spec["maintenance"] = bool(p.get("runtime.inMaintenanceMode"))

    # networking
    pnics = {n.key: n for n in p.get("config.network.pnic") or []}
    pnic_device = {**{k: n.device for k, n in pnics.items()}, **{n.device: n.device for n in pnics.values()}}
    switches = {sw.name: [pnic_device.get(k, k) for k in sw.pnic or []] for sw in p.get("config.network.vswitch") or []}
    portgroups = {pg.spec.name: (pg.spec.vswitchName, int(pg.spec.vlanId or 0))
                  for pg in p.get("config.network.portgroup") or []}
    speeds = sorted({(n.linkSpeed.speedMb, bool(n.linkSpeed.duplex)) for n in pnics.values() if n.linkSpeed})
    if speeds:
        speed, full = speeds[-1]
        spec["uplinkMbps"], spec["duplex"] = int(speed), "full" if full else "half"
        if len(speeds) > 1:
            gaps.add("host", name, "physical NICs of different speeds or duplex "
                     f"({', '.join(f'{s} Mb/s' for s, _ in speeds)})", f"every NIC at {speed} Mb/s")
    if pnics and (len(pnics) > len(scenarios.PNICS) or any(n.device not in scenarios.PNICS for n in pnics.values())):
        gaps.add("host", name, f"physical NICs {', '.join(sorted(n.device for n in pnics.values()))}",
                 f"the lab's {', '.join(scenarios.PNICS)}")
    down = sorted(n.device for n in pnics.values() if not n.linkSpeed)
    if down:
        gaps.add("host", name, f"physical NICs without link ({', '.join(down)})", "every NIC up")
    selected = _selected(p.get("config.virtualNicManagerInfo.netConfig"), "vmotion")
    vnics = {v.device: v for v in p.get("config.network.vnic") or []}
    vmotion = [d for d in selected if d in vnics]
    spec["vmotion"] = vmotion
    if vmotion:
        mtus = sorted({int(vnics[d].spec.mtu or 1500) for d in vmotion})
        spec["mtu"] = mtus[0]
        if len(mtus) > 1:
            gaps.add("host", name, f"vMotion adapters with different MTUs ({', '.join(map(str, mtus))})",
                     f"MTU {mtus[0]} on every one")
        first = vnics[vmotion[0]].spec
        ip = first.ip if first is not None else None
        if ip is not None and ip.ipAddress and not ip.dhcp:
            prefix = _prefix(ip.subnetMask or "")
            if prefix is not None:
                spec["vmotionIp"] = f"{ip.ipAddress}/{prefix}"
        if len(vmotion) > 1:
            gaps.add("host", name, "the addresses of the vMotion adapters after the first",
                     "the lab's own addresses for them")
        stacks = {vnics[d].spec.netStackInstanceKey or "defaultTcpipStack" for d in vmotion}
        spec["vmotionStack"] = stacks == {"vmotion"}
        if len(stacks) > 1:
            gaps.add("host", name, "vMotion adapters on different TCP/IP stacks", "all on one")
        for d in vmotion:
            s = vnics[d].spec
            if s is not None and s.distributedVirtualPort is not None:
                gaps.add("host", name, f"vMotion adapter {d} on a distributed switch",
                         "the adapter on the standard switch vSwitch0")
            elif vnics[d].portgroup in portgroups and portgroups[vnics[d].portgroup][0] != scenarios.DEFAULT_SWITCH:
                gaps.add("host", name, f"vMotion adapter {d} on another standard switch than vSwitch0",
                         "the adapter on vSwitch0")
    return spec, {"portgroups": portgroups, "switches": switches}


def _selected(net_config, nic_type: str) -> list[str]:
    for nc in net_config or []:
        if nc.nicType == nic_type:
            device = {v.key: v.device for v in (nc.candidateVnic or [])}
            return [device[k] for k in (nc.selectedVnic or []) if k in device]
    return []


def _datastore(p: dict, host_name: dict, gaps: _Gaps) -> dict:
    """A datastore's type, capacity (GB, rounded) and the hosts that mount it, accessible."""
    kind = str(p.get("summary.type") or "VMFS")
    types = {"VMFS": "VMFS", "NFS": "NFS", "NFS41": "NFS41", "VSAN": "vsan", "VVOL": "VVOL", "vsan": "vsan"}
    if kind not in types:
        gaps.add("datastore", p["name"], f"type {kind}", "VMFS")
    spec: dict = {"type": types.get(kind, "VMFS")}
    capacity = int(p.get("summary.capacity") or 0)
    spec["capacityGB"] = max(1, round(capacity / 2**30))
    hosts = []
    for m in p.get("host") or []:
        if m.key._moId not in host_name:
            continue
        info = m.mountInfo
        if info is not None and info.accessible is False:
            gaps.add("datastore", p["name"], "a mount that is not accessible on host {0}", "not mounted there",
                     (("host", host_name[m.key._moId]),))
            continue
        if info is not None and info.accessMode == "readOnly":
            gaps.add("datastore", p["name"], "a read-only mount on host {0}", "read-write",
                     (("host", host_name[m.key._moId]),))
        hosts.append(host_name[m.key._moId])
    hosts = sorted(set(hosts))
    spec["hosts"] = "all" if hosts == sorted(host_name.values()) else hosts
    return spec


def _dv_vlan(port_config) -> int | None:
    """A distributed port group's VLAN ID; None for a trunk or a private VLAN."""
    vlan = getattr(port_config, "vlan", None)
    if vlan is None:
        return 0
    if isinstance(vlan, vim.dvs.VmwareDistributedVirtualSwitch.VlanIdSpec):
        return int(vlan.vlanId or 0)
    return None


def _standard_network(name: str, members: list[str], host_facts: dict, gaps: _Gaps) -> dict:
    """A standard network: its switch, VLAN and uplinks as its hosts have them (the most common, when hosts
    differ, which is a gap)."""
    seen = collections.Counter()
    for h in members:
        f = host_facts.get(h)
        if f is None or name not in f["portgroups"]:
            continue
        switch, vlan = f["portgroups"][name]
        seen[(switch, vlan, tuple(f["switches"].get(switch, [])))] += 1
    spec: dict = {"type": "standard"}
    if not seen:
        return spec
    (switch, vlan, uplinks), _ = seen.most_common(1)[0]
    if len(seen) > 1:
        gaps.add("network", name, "a port group whose switch, VLAN or uplinks differ from host to host",
                 f"switch {{0}}, VLAN {vlan}, uplinks {', '.join(uplinks) or 'none'} on every host",
                 (("switch", switch),))
    if switch != scenarios.DEFAULT_SWITCH:
        spec["switch"] = switch
    if vlan:
        spec["vlan"] = vlan
    if not all(u in scenarios.PNICS for u in uplinks):
        gaps.add("network", name, f"uplinks {', '.join(uplinks)}", "the lab's vmnic0")
        uplinks = ("vmnic0",)
    if not (switch == scenarios.DEFAULT_SWITCH and list(uplinks) == ["vmnic0"]):
        spec["uplinks"] = list(uplinks)
    return spec


def _image_datastore(backing, names: dict) -> str | None:
    if backing.datastore is not None:
        return names.get(backing.datastore._moId)
    found = re.match(r"\[([^\]]*)\]", backing.fileName or "")
    return found.group(1) if found and found.group(1) else None


def _vm(p: dict, host: str, host_spec: dict, cluster_evc: str | None, names: dict, dvpg_by_key: dict,
        gaps: _Gaps) -> dict:
    name = p["name"]
    power = {"poweredOn": "on", "poweredOff": "off", "suspended": "suspended"}[str(p.get("runtime.powerState"))]
    spec: dict = {"host": host, "power": power}
    path = p.get("config.files.vmPathName") or ""
    found = re.match(r"\[([^\]]*)\]", path)
    if found:
        spec["datastore"] = found.group(1)
    spec["memoryMB"] = int(p.get("config.hardware.memoryMB") or 0)
    reservation = int(p.get("config.memoryAllocation.reservation") or 0)
    if reservation:
        spec["memoryReservationMB"] = reservation
    spec["cpus"] = int(p.get("config.hardware.numCPU") or 1)
    spec["version"] = str(p.get("config.version") or "vmx-14")
    if p.get("config.guestId"):
        spec["guest"] = str(p["config.guestId"])
    networks, connected, disk_kb, devices = [], set(), 0, []
    disk_datastores = set()
    for dev in p.get("config.hardware.device") or []:
        b = dev.backing
        conn = dev.connectable
        if isinstance(dev, D.VirtualEthernetCard):
            if isinstance(b, D.VirtualEthernetCard.NetworkBackingInfo):
                networks.append(names.get(b.network._moId, b.deviceName) if b.network is not None else b.deviceName)
            elif isinstance(b, D.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
                networks.append(dvpg_by_key.get(b.port.portgroupKey, b.port.portgroupKey))
            else:
                gaps.add("vm", name, f"a network adapter backed by {type(b).__name__.split('.')[-1]}", "no adapter")
                continue
            connected.add(bool(conn.connected if power == "on" else conn.startConnected) if conn else True)
        elif isinstance(dev, D.VirtualDisk):
            disk_kb += int(dev.capacityInKB or 0)
            ds = getattr(b, "datastore", None)
            if ds is not None:
                disk_datastores.add(names.get(ds._moId))
        elif isinstance(dev, (D.VirtualCdrom, D.VirtualSerialPort, D.VirtualPCIPassthrough, D.VirtualUSB,
                              D.VirtualFloppy, D.VirtualParallelPort)):
            d = _device(dev, names, spec.get("datastore"), power == "on")
            if d is None:
                kind = type(dev).__name__.split(".")[-1]
                gaps.add("vm", name, f"a {kind} backed by {type(b).__name__.split('.')[-1] if b else 'nothing'}",
                         "no such device")
            elif d:
                devices.append(d)
    if networks:
        spec["networks"] = networks
    if connected == {False}:
        spec["nicConnected"] = False
    elif len(connected) > 1:
        gaps.add("vm", name, "network adapters of which some are connected and some not", "all connected")
    if disk_kb:
        spec["diskGB"] = max(1, round(disk_kb / 2**20))
    if len(disk_datastores - {None}) > 1 or (disk_datastores - {None, spec.get("datastore")}):
        gaps.add("vm", name, "disks on another datastore than its configuration file's",
                 "every file on its configuration file's datastore")
    if devices:
        spec["devices"] = devices
    # the CPU baseline a running or suspended VM was powered on with (runtime.minRequiredEVCModeKey); written
    # only when it differs from what the scenario derives (its cluster's EVC mode, else its host's CPU)
    if power != "off":
        mode = p.get("runtime.minRequiredEVCModeKey")
        derived = cluster_evc or host_spec.get("cpu")
        requirement = {r.key.lower(): r.value for r in p.get("runtime.featureRequirement") or []}
        if not mode and requirement:  # no key recorded: the EVC mode whose requirement this is, if one is
            mode = next((m for m in evc.modes() if scenarios.requirement(m) == requirement), None)
        if mode in evc.modes():
            if mode != derived:
                spec["cpuBaseline"] = mode
            if requirement and requirement != scenarios.requirement(mode):
                gaps.add("vm", name, f"a CPU feature requirement other than EVC mode {mode}'s",
                         f"the requirement of {mode}")
        elif mode or requirement:
            gaps.add("vm", name, f"a CPU baseline {mode or '(none)'} that the lab's EVC table lacks",
                     f"the baseline of {derived}")
    return spec


def _device(dev, names: dict, vm_datastore: str | None, running: bool) -> dict | None:
    """A device as a scenario holds it, or None for one it cannot hold. ``connected`` is the device's state while
    the VM runs ("valid only while the virtual machine is running", API reference VirtualDeviceConnectInfo), else
    whether it connects at power-on (``startConnected``)."""
    b = dev.backing
    conn = dev.connectable
    connected = bool(conn.connected if running else conn.startConnected) if conn is not None else False
    out: dict = {}
    if isinstance(dev, D.VirtualCdrom):
        out["kind"] = "cdrom"
        if isinstance(b, D.VirtualCdrom.IsoBackingInfo):
            out["backing"] = "iso"
            ds = _image_datastore(b, names)
            if ds is None:
                return None  # an image on the host itself: not in the scenario format
            if ds != vm_datastore:
                out["datastore"] = ds
        elif isinstance(b, (D.VirtualCdrom.AtapiBackingInfo, D.VirtualCdrom.PassthroughBackingInfo)):
            out["backing"] = "host"
        elif isinstance(b, (D.VirtualCdrom.RemotePassthroughBackingInfo, D.VirtualCdrom.RemoteAtapiBackingInfo)):
            out["backing"] = "client"
        else:
            return None
    elif isinstance(dev, D.VirtualSerialPort):
        if not isinstance(b, D.VirtualSerialPort.DeviceBackingInfo):
            return None
        out.update(kind="serial", backing="host")
    elif isinstance(dev, D.VirtualPCIPassthrough):
        out.update(kind="pci", backing="host")
    elif isinstance(dev, D.VirtualUSB):
        out.update(kind="usb", backing="host")
        if isinstance(b, D.VirtualUSB.RemoteHostBackingInfo):
            out["vmotion"] = True
        elif not isinstance(b, D.VirtualUSB.USBBackingInfo):
            return None
    else:
        return None
    if out.get("backing") == "host":
        del out["backing"]  # the scenario's default backing
    out["connected"] = connected
    return out
