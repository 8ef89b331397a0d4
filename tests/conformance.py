"""The migration conformance table (datasets/conformance/*.yaml), run against the lab world.

Each row is one behaviour of vCenter's: a world (a scenario, optionally changed through the API by ``setup``
steps), a call, the outcome vCenter gives and its source. :func:`run` plays one row three ways:

1. the check method the row names (``CheckMigrate_Task``, ``CheckRelocate_Task`` or
   ``QueryVMotionCompatibilityEx_Task``), or the check that matches an enforcing call;
2. the enforcing call that matches it (``MigrateVM_Task`` for CheckMigrate and QueryVMotionCompatibilityEx,
   ``RelocateVM_Task`` for CheckRelocate), which must fail with the first error, or succeed and move the VM;
3. ``labkit.compat``'s verdict for the same VM and host, when the row is a plain VM x host question.

A row marked ``modelled: no`` with a ``why`` is reported, not run.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import yaml
from pyVmomi import vim

from labkit import datasets
from labkit.errors import TaskFailed
from labkit.tasks import wait_for_task

CHECKS = {"CheckMigrate_Task", "CheckRelocate_Task", "QueryVMotionCompatibilityEx_Task"}
ENFORCING = {"MigrateVM_Task", "RelocateVM_Task"}
PAIRS = {"CheckMigrate_Task": "MigrateVM_Task", "QueryVMotionCompatibilityEx_Task": "MigrateVM_Task",
         "CheckRelocate_Task": "RelocateVM_Task", "MigrateVM_Task": "CheckMigrate_Task",
         "RelocateVM_Task": "CheckRelocate_Task"}
ROW_FIELDS = {"id", "case", "title", "world", "setup", "call", "vm", "host", "pool", "datastore", "state", "expect",
              "source", "modelled", "why"}
SIDES = {"source": True, "destination": False}


def folder() -> Path:
    return datasets.path("conformance")


def world_path(name: str) -> str:
    """A world of the table's own (datasets/conformance/worlds/<name>.yaml), else a shipped scenario's name."""
    own = folder() / "worlds" / f"{name}.yaml"
    return str(own) if own.exists() else name


@dataclasses.dataclass
class Row:
    id: str
    file: str
    data: dict

    @property
    def modelled(self) -> bool:
        return self.data.get("modelled", True) is not False


def rows() -> list[Row]:
    """Every row of every table file, in file order; a malformed row raises with its file and id."""
    out, seen = [], set()
    for path in sorted(folder().glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        default_world = doc.get("world")
        for item in doc["rows"]:
            unknown = set(item) - ROW_FIELDS
            rid = item.get("id")
            assert rid and rid not in seen, f"{path.name}: row id {rid!r} missing or repeated"
            assert not unknown, f"{path.name}: {rid}: unknown fields {sorted(unknown)}"
            assert item.get("source"), f"{path.name}: {rid}: every row needs its source"
            seen.add(rid)
            data = {"world": default_world, "setup": [], **item}
            if data.get("modelled", True) is False:
                assert data.get("why"), f"{path.name}: {rid}: a row that is not modelled says why"
            else:
                assert data["call"] in CHECKS | ENFORCING, f"{path.name}: {rid}: unknown call {data['call']}"
                assert data.get("expect") is not None, f"{path.name}: {rid}: no expect"
            out.append(Row(rid, path.name, data))
    return out


# -- the world ----------------------------------------------------------------------------------------------
class World:
    """Names to objects in one session, read once."""

    def __init__(self, session):
        self.s = session
        view = session.content.viewManager.CreateContainerView(
            session.content.rootFolder, [vim.VirtualMachine, vim.HostSystem, vim.ComputeResource, vim.Datastore], True)
        try:
            objs = list(view.view)
        finally:
            view.DestroyView()
        self.by = {}
        for o in objs:
            self.by.setdefault(type(o).__name__.split(".")[-1], {})[o.name] = o

    def get(self, kind: str, name: str):
        for k, objs in self.by.items():
            if (k == kind or (kind == "ComputeResource" and k == "ClusterComputeResource")) and name in objs:
                return objs[name]
        raise KeyError(f"no {kind} named {name!r}")

    def vm(self, name):
        return self.get("VirtualMachine", name)

    def host(self, name):
        return self.get("HostSystem", name)

    def pool(self, spec, vm):
        """``current``: the VM's own pool; a cluster's or stand-alone host's name: its root pool."""
        if spec is None:
            return None
        if spec == "current":
            return vm.resourcePool
        try:
            return self.get("ComputeResource", spec).resourcePool
        except KeyError:
            return self.host(spec).parent.resourcePool


def _device(vm, label: str):
    for d in vm.config.hardware.device:
        if d.deviceInfo and d.deviceInfo.label == label:
            return d
    raise KeyError(f"{vm.name} has no device {label!r}")


def _reconfigure(s, vm, *changes):
    spec = vim.vm.ConfigSpec(deviceChange=[c for c in changes if isinstance(c, vim.vm.device.VirtualDeviceSpec)])
    for c in changes:
        if isinstance(c, vim.ResourceAllocationInfo):
            spec.memoryAllocation = c
    s.change(vm, "ReconfigVM_Task", spec=spec, progress=False)


def apply_setup(w: World, steps: list[dict]) -> None:
    """Change the world through the API, as an administrator would, before the row's call."""
    s = w.s
    for step in steps:
        (verb, arg), = step.items()
        if verb == "power":
            state = {True: "on", False: "off"}.get(arg["state"], arg["state"])  # YAML reads on/off as booleans
            method = {"off": "PowerOffVM_Task", "on": "PowerOnVM_Task", "suspended": "SuspendVM_Task"}[state]
            s.change(w.vm(arg["vm"]), method, progress=False)
        elif verb == "enter_maintenance":  # started, not awaited: the host stays "entering" while a VM is on it
            host = w.host(arg)
            task = host.EnterMaintenanceMode_Task(timeout=0)
            for _ in range(100):
                if task.info.state in ("running", "success", "error"):
                    break
                time.sleep(0.02)
            assert task.info.state == "running", f"{arg} is not entering maintenance mode ({task.info.state})"
        elif verb == "vmk_mtu":
            host = w.host(arg["host"])
            ns = host.configManager.networkSystem
            nic = next(n for n in ns.networkInfo.vnic if n.device == arg["device"])
            spec = nic.spec
            spec.mtu = arg["mtu"]
            ns.UpdateVirtualNic(device=arg["device"], nic=spec)
        elif verb == "vmotion_adapter_on":  # vMotion moves to a new adapter on a new port group of a switch
            host = w.host(arg["host"])
            ns, mgr = host.configManager.networkSystem, host.configManager.virtualNicManager
            ns.AddPortGroup(portgrp=vim.host.PortGroup.Specification(
                name=arg["portgroup"], vswitchName=arg["switch"], vlanId=0, policy=vim.host.NetworkPolicy()))
            ip = vim.host.IpConfig(dhcp=False, ipAddress=arg.get("ip", "10.10.9.11"), subnetMask="255.255.255.0")
            device = ns.AddVirtualNic(portgroup=arg["portgroup"], nic=vim.host.VirtualNic.Specification(ip=ip))
            mgr.SelectVnicForNicType(nicType="vmotion", device=device)
            for old in arg.get("deselect", ["vmk1"]):
                mgr.DeselectVnicForNicType(nicType="vmotion", device=old)
        elif verb == "add_usb":
            vm = w.vm(arg["vm"])
            backing = (vim.vm.device.VirtualUSB.RemoteHostBackingInfo(deviceName="path:1/0/3", hostname=vm.runtime.host.name)
                       if arg.get("vmotion") else vim.vm.device.VirtualUSB.USBBackingInfo(deviceName="path:1/0/3"))
            usb = vim.vm.device.VirtualUSB(key=-9, backing=backing, connected=True, connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                startConnected=True, connected=True), deviceInfo=vim.Description(label=arg.get("label", "USB device 9"), summary="usb"))
            _reconfigure(s, vm, vim.vm.device.VirtualDeviceSpec(operation="add", device=usb))
        elif verb == "connect":
            vm = w.vm(arg["vm"])
            dev = _device(vm, arg["device"])
            dev.connectable.startConnected = arg["connected"]
            dev.connectable.connected = arg["connected"]
            _reconfigure(s, vm, vim.vm.device.VirtualDeviceSpec(operation="edit", device=dev))
        elif verb == "reservation":
            _reconfigure(s, w.vm(arg["vm"]), vim.ResourceAllocationInfo(reservation=arg["mb"]))
        elif verb == "evc":
            cluster = w.get("ComputeResource", arg["cluster"])
            mgr = cluster.EvcManager()
            if arg["mode"] is None:
                s.change(mgr, "DisableEvcMode_Task", progress=False)
            else:
                s.change(mgr, "ConfigureEvcMode_Task", evcModeKey=arg["mode"], progress=False)
        else:
            raise AssertionError(f"unknown setup step {verb}")


# -- the calls ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Outcome:
    """A check's verdicts (one per host tested), or a method fault, or (enforcing calls) where the VM went."""

    fault: str | None = None
    prop: str | None = None
    results: list = dataclasses.field(default_factory=list)  # [(host name, [(fault, atSource)], [...])]
    host_after: str | None = None


def _faults(faults):
    return sorted((type(f).__name__.split(".")[-1], getattr(f, "atSourceHost", None)) for f in (faults or []))


def call(w: World, method: str, row: dict) -> Outcome:
    s = w.s
    vm = w.vm(row["vm"])
    host = w.host(row["host"]) if row.get("host") else None
    pool = w.pool(row.get("pool"), vm)
    ds = w.get("Datastore", row["datastore"]) if row.get("datastore") else None
    pc = s.content.vmProvisioningChecker
    try:
        if method == "CheckMigrate_Task":
            task = pc.CheckMigrate_Task(vm=vm, host=host, pool=pool, state=row.get("state"))
        elif method == "CheckRelocate_Task":
            task = pc.CheckRelocate_Task(vm=vm, spec=vim.vm.RelocateSpec(host=host, pool=pool, datastore=ds))
        elif method == "QueryVMotionCompatibilityEx_Task":
            task = pc.QueryVMotionCompatibilityEx_Task(vm=[vm], host=[host])
        elif method == "MigrateVM_Task":
            task = vm.MigrateVM_Task(host=host, pool=pool, priority="defaultPriority", state=row.get("state"))
        else:
            task = vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(host=host, pool=pool, datastore=ds))
        results = wait_for_task(s, task, progress=False)
    except TaskFailed as e:
        return Outcome(fault=e.fault_type, prop=getattr(e.fault, "invalidProperty", None))
    except vim.fault.VimFault as e:  # raised by the call itself
        return Outcome(fault=type(e).__name__.split(".")[-1], prop=getattr(e, "invalidProperty", None))
    if method in ENFORCING:
        return Outcome(host_after=vm.runtime.host.name)
    return Outcome(results=[(r.host.name, _faults(r.error), _faults(r.warning)) for r in results or []])


def parse_expected(items) -> list[tuple[str, bool | None]]:
    """``VMotionNotConfigured@source`` -> (fault, atSourceHost); a bare name has no side."""
    out = []
    for it in items or []:
        name, _, side = it.partition("@")
        out.append((name, SIDES[side] if side else None))
    return sorted(out)


def same(got: list, want: list) -> bool:
    """Fault lists equal; a side is compared only where the table gives one."""
    if len(got) != len(want):
        return False
    got, want = sorted(got, key=lambda x: x[0]), sorted(want, key=lambda x: x[0])
    return all(g[0] == w[0] and (w[1] is None or g[1] == w[1]) for g, w in zip(got, want))
