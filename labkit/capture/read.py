"""What ``labkit capture`` reads from a vCenter: one paged PropertyCollector pass, and a small second one.

Every call here reads (:mod:`labkit.readonly` allows them all): a ContainerView over the inventory and one
``RetrievePropertiesEx`` with its continuation pages. A running VM's CPU baseline is its
``runtime.minRequiredEVCModeKey``; its full ``runtime.featureRequirement`` is read only where that key is unset. The result is plain data, the properties of each object by
type, for :mod:`labkit.capture.build` to turn into a scenario.
"""
from __future__ import annotations

import dataclasses

from pyVmomi import vim

from ..collector import retrieve, retrieve_objects

#: the properties read, per managed object type (API reference names)
PROPERTIES = {
    vim.Datacenter: ["name"],
    vim.ClusterComputeResource: ["name", "configurationEx", "summary"],
    vim.ComputeResource: ["name"],
    vim.HostSystem: ["name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode",
                     "summary.maxEVCModeKey", "config.featureCapability", "hardware.cpuInfo.numCpuCores",
                     "hardware.memorySize", "config.product.version", "config.network.vnic",
                     "config.network.vswitch", "config.network.portgroup", "config.network.pnic",
                     "config.virtualNicManagerInfo.netConfig"],
    vim.Datastore: ["name", "summary.type", "summary.capacity", "host"],
    vim.Network: ["name", "host"],
    vim.dvs.DistributedVirtualPortgroup: ["key", "config.distributedVirtualSwitch", "config.defaultPortConfig",
                                          "config.uplink"],
    vim.DistributedVirtualSwitch: ["name"],
    vim.VirtualMachine: ["name", "runtime.host", "runtime.powerState", "config.hardware.memoryMB",
                         "config.hardware.numCPU", "config.memoryAllocation.reservation", "config.version",
                         "config.guestId", "config.files.vmPathName", "config.hardware.device", "config.template",
                         "runtime.minRequiredEVCModeKey"],
}
#: read, in a second targeted pass, only for the running or suspended VMs without a ``minRequiredEVCModeKey``:
#: about 60 entries a VM, which would double the read of a large inventory
REQUIREMENT = "runtime.featureRequirement"


@dataclasses.dataclass
class Inventory:
    """The objects read, by type: ``{type: [(managed object, {property path: value})]}`` (unset properties are
    missing from an object's dict), and the vCenter's ``about`` (product name and version)."""

    objects: dict
    about: object = None

    def of(self, kind) -> list[tuple[object, dict]]:
        return self.objects.get(kind, [])


def read(session, *, page_size: int | None = None) -> Inventory:
    """Read everything a scenario can hold, in one paged ``RetrievePropertiesEx`` over a ContainerView."""
    got = retrieve(session.content, PROPERTIES, page_size=page_size)
    unknown = [o for o, p in got[vim.VirtualMachine]
               if str(p.get("runtime.powerState")) != "poweredOff" and not p.get("runtime.minRequiredEVCModeKey")]
    found = {o._moId: p.get(REQUIREMENT) for o, p in retrieve_objects(session.content, unknown, [REQUIREMENT],
                                                                     page_size=page_size)}
    for o, p in got[vim.VirtualMachine]:
        if found.get(o._moId):
            p[REQUIREMENT] = found[o._moId]
    return Inventory(got, session.content.about)
