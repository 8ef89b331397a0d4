"""A VM's removable devices, as vMotion sees them, and the one change troubleshooting needs: disconnecting one.

A CD-ROM, floppy, serial or parallel port can be backed by something only the
source host has (its physical drive, its serial port) or by the machine of the
vSphere Client. Connected, such a device stops a vMotion; disconnected, it only
warns (lesson 02). Disconnecting is a ``ReconfigVM_Task`` that edits the
device's ``connectable.connected``, made while the VM runs.

::

    vmconfig.devices(session, "cd-host")                     # label, kind, backing, connected, startConnected
    vmconfig.disconnect(session, "cd-host", "CD/DVD drive 1")  # VirtualMachine.ReconfigVM_Task, operation edit
"""
from __future__ import annotations

import copy

import pandas as pd
from pyVmomi import vim

from . import inventory
from .errors import InvalidInput

#: device classes a vMotion check looks at, by the name the vSphere Client shows them under
KINDS = {
    vim.vm.device.VirtualCdrom: "CD/DVD drive",
    vim.vm.device.VirtualFloppy: "floppy drive",
    vim.vm.device.VirtualSerialPort: "serial port",
    vim.vm.device.VirtualParallelPort: "parallel port",
    vim.vm.device.VirtualPCIPassthrough: "PCI device",
    vim.vm.device.VirtualEthernetCard: "network adapter",
}
COLUMNS = ["label", "kind", "backing", "connected", "startConnected"]


def _vm(session, vm):
    return inventory.find(session, vm, "VirtualMachine") if isinstance(vm, str) else vm


def _config(vm):
    if vm.config is None:
        raise InvalidInput(f"{vm.name} has no configuration vCenter can read (is it inaccessible or orphaned?).",
                           fix="look at its connectionState in the vSphere Client")
    return vm.config


def label(device) -> str:
    """The device's label as the vSphere Client shows it, or its key when it has none."""
    return device.deviceInfo.label if device.deviceInfo and device.deviceInfo.label else str(device.key)


def _kind(device) -> str | None:
    return next((name for cls, name in KINDS.items() if isinstance(device, cls)), None)


def devices(session, vm) -> pd.DataFrame:
    """The VM's removable devices, passthrough devices and network adapters, one row each.

    ``backing`` is the backing's type name without its class prefix (``AtapiBackingInfo``: the host's
    drive; ``RemoteAtapiBackingInfo``: the client's; ``IsoBackingInfo``: an ISO image on a datastore).
    """
    rows = []
    for d in _config(_vm(session, vm)).hardware.device:
        kind = _kind(d)
        if kind is None:
            continue
        c = d.connectable
        rows.append({"label": label(d), "kind": kind,
                     "backing": type(d.backing).__name__.split(".")[-1] if d.backing is not None else None,
                     "connected": bool(c and c.connected), "startConnected": bool(c and c.startConnected)})
    return pd.DataFrame(rows, columns=COLUMNS)


def disconnect(session, vm, name: str, *, at_power_on: bool = False) -> None:
    """Disconnect the device labelled ``name`` of a running VM (``ReconfigVM_Task``, device edit).

    ``at_power_on=True`` also clears ``startConnected``; without it, the device connects again at the next
    power-on, wherever the VM runs then.
    """
    obj = _vm(session, vm)
    found = [d for d in _config(obj).hardware.device if label(d) == name]
    if not found:
        names = devices(session, obj)["label"].tolist()
        raise InvalidInput(f"{obj.name} has no device '{name}'.", fix=f"use one of: {', '.join(names) or '(none)'}")
    device = copy.deepcopy(found[0])
    if device.connectable is None:
        raise InvalidInput(f"'{name}' of {obj.name} cannot be connected or disconnected.",
                           fix="only removable devices and network adapters have a connection state")
    device.connectable.connected = False
    if at_power_on:
        device.connectable.startConnected = False
    spec = vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="edit", device=device)])
    session.change(obj, "ReconfigVM_Task", spec=spec, progress=False)
