"""A VM's migration-relevant state, read from vCenter (or the lab) in a few calls.

:func:`read` returns a :class:`VmState`: where the VM runs, its power state,
identity, files, disks and network adapters, and, for each datastore asked
about, the files the datastore browser really finds in the VM's folder. The
invariants (:mod:`.invariants`) compare two of them; they never call vCenter.
"""
from __future__ import annotations

import dataclasses
import posixpath

from pyVmomi import vim

from .. import collector
from ..errors import TaskFailed
from ..tasks import wait_for_task

VM_PATHS = ["name", "runtime.host", "runtime.powerState", "datastore", "config.instanceUuid", "config.uuid",
            "config.files.vmPathName", "config.hardware.device", "layoutEx.file"]


@dataclasses.dataclass(frozen=True)
class Disk:
    key: int
    label: str
    file: str  # "[datastore] folder/name.vmdk"
    datastore: str
    capacity_bytes: int | None
    uuid: str | None


@dataclasses.dataclass(frozen=True)
class Nic:
    key: int
    label: str
    mac: str
    network: str  # port group (standard) or distributed port group name
    port: str | None  # distributed port key; None on a standard switch
    connected: bool


@dataclasses.dataclass(frozen=True)
class VmState:
    name: str
    host: str
    power_state: str
    instance_uuid: str
    bios_uuid: str
    datastores: tuple[str, ...]
    vmx: str
    files: tuple[str, ...]  # layoutEx file names, sorted
    disks: tuple[Disk, ...]
    nics: tuple[Nic, ...]
    #: datastore name -> files the datastore browser finds in the VM's folder there
    browsed: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def folder(self) -> str:
        return folder_of(self.vmx)

    def browsed_on(self, datastore: str) -> tuple[str, ...] | None:
        return dict(self.browsed).get(datastore)


def changed(record, **new_values):
    """A copy of ``record`` (a :class:`Disk`, :class:`Nic` or :class:`VmState`) with the named fields changed.

    These records are read-only, so you never edit one in place: you make a changed copy. For example
    ``changed(nic, mac="00:50:56:00:00:01")`` is the same adapter with another MAC address, and
    ``changed(state, nics=[that_nic])`` the same VM state with that adapter. A list you pass is stored as a
    tuple, like the lists the record already holds. The original record is not touched.
    """
    fields = {f.name for f in dataclasses.fields(record)}
    unknown = sorted(set(new_values) - fields)
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {', '.join(unknown)}; "
                        f"its fields: {', '.join(sorted(fields))}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in new_values.items()}
    return dataclasses.replace(record, **values)


def datastore_of(path: str) -> str:
    """``"[shared] vm/vm.vmx"`` -> ``"shared"``."""
    return path.split("]", 1)[0].lstrip("[") if path.startswith("[") else ""


def folder_of(path: str) -> str:
    """``"[shared] vm/vm.vmx"`` -> ``"vm"``."""
    return posixpath.dirname(path.split("]", 1)[-1].strip())


def _names(content, refs) -> dict:
    by_type: dict[type, list] = {}
    for r in refs:
        by_type.setdefault(type(r), []).append(r)
    out = {}
    for objs in by_type.values():
        for obj, props in collector.retrieve_objects(content, objs, ["name"]):
            out[obj._moId] = props.get("name", obj._moId)
    return out


def _dv_portgroups(content) -> dict[str, str]:
    got = collector.retrieve(content, {vim.dvs.DistributedVirtualPortgroup: ["key", "name"]})
    return {p["key"]: p["name"] for _, p in got[vim.dvs.DistributedVirtualPortgroup] if "key" in p}


def browse(session, datastore, folder: str) -> tuple[str, ...]:
    """The files the datastore browser finds in ``[datastore] folder`` (empty if the folder is missing)."""
    spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=["*"])
    task = datastore.browser.SearchDatastore_Task(datastorePath=f"[{datastore.name}] {folder}", searchSpec=spec)
    try:
        result = wait_for_task(session, task, progress=False)
    except TaskFailed as e:
        if e.fault_type in ("FileNotFound", "NotFound"):
            return ()
        raise
    return tuple(sorted(f.path for f in (result.file or [])))


def read(session, vm, *, browse_datastores=()) -> VmState:
    """The state of ``vm``; the datastore browser looks into the VM's folder on ``browse_datastores``."""
    content = session.content
    [(_, p)] = collector.retrieve_objects(content, [vm], VM_PATHS)
    devices = list(p.get("config.hardware.device") or [])
    refs = [p["runtime.host"]] + list(p.get("datastore") or [])
    disks_raw = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
    refs += [d.backing.datastore for d in disks_raw if getattr(d.backing, "datastore", None) is not None]
    nics_raw = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    refs += [d.backing.network for d in nics_raw if getattr(d.backing, "network", None) is not None]
    names = _names(content, refs)
    dvpg = _dv_portgroups(content) if any(
        isinstance(d.backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo) for d in nics_raw) else {}

    def label(d) -> str:
        return d.deviceInfo.label if d.deviceInfo is not None else f"device {d.key}"

    disks = []
    for d in disks_raw:
        b = d.backing
        ds = names.get(b.datastore._moId) if getattr(b, "datastore", None) is not None else datastore_of(b.fileName)
        capacity = d.capacityInBytes if d.capacityInBytes else (d.capacityInKB * 1024 if d.capacityInKB else None)
        disks.append(Disk(d.key, label(d), b.fileName, ds, capacity, getattr(b, "uuid", None)))
    nics = []
    for d in nics_raw:
        b = d.backing
        if isinstance(b, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
            network, port = dvpg.get(b.port.portgroupKey, b.port.portgroupKey), b.port.portKey
        else:
            network = names.get(b.network._moId) if getattr(b, "network", None) is not None else b.deviceName
            port = None
        connected = bool(d.connectable.connected) if d.connectable is not None else True
        nics.append(Nic(d.key, label(d), d.macAddress, network, port, connected))
    vmx = p.get("config.files.vmPathName", "")
    state = VmState(
        name=p["name"], host=names[p["runtime.host"]._moId], power_state=str(p["runtime.powerState"]),
        instance_uuid=p.get("config.instanceUuid", ""), bios_uuid=p.get("config.uuid", ""),
        datastores=tuple(sorted(names[r._moId] for r in p.get("datastore") or [])), vmx=vmx,
        files=tuple(sorted(f.name for f in p.get("layoutEx.file") or [])),
        disks=tuple(sorted(disks, key=lambda x: x.key)), nics=tuple(sorted(nics, key=lambda x: x.key)))
    if browse_datastores:
        seen = {ds.name if hasattr(ds, "name") else ds: ds for ds in browse_datastores}
        found = tuple((name, browse(session, ds, state.folder)) for name, ds in sorted(seen.items()))
        state = dataclasses.replace(state, browsed=found)
    return state
