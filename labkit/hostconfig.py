"""Preparing hosts for vMotion: the configuration calls an admin makes, one thin function each.

VMkernel adapters and their services, standard port groups, distributed switch membership, NFS mounts,
host state, and cluster EVC.

Each function is the vSphere API call it names, made through the change guard
(``session.change``), so a real vCenter changes only with ``allow_changes`` and
inside the lab area. A refusal comes back as :class:`~labkit.errors.TaskFailed`
carrying vCenter's fault type (``InvalidArgument``, ``AlreadyExists``,
``NotFound``, ...) and message, one line in a notebook.

::

    esx = hostconfig.host(session, "esx-03")
    hostconfig.add_port_group(session, esx, "vMotion")                    # HostNetworkSystem.AddPortGroup
    vmk = hostconfig.add_vmkernel_adapter(session, esx, "vMotion",
                                          ip="10.10.0.13", mtu=9000)       # HostNetworkSystem.AddVirtualNic
    hostconfig.enable_service(session, esx, vmk, "vmotion")               # HostVirtualNicManager.SelectVnicForNicType
    hostconfig.vmkernel_adapters(session, esx)                            # config.network.vnic + virtualNicManagerInfo
"""
from __future__ import annotations

import contextlib
import copy

import pandas as pd
from pyVmomi import vim, vmodl

from . import inventory
from .collector import retrieve_objects
from .errors import TaskFailed


def host(session, name: str) -> vim.HostSystem:
    """The HostSystem named ``name``."""
    return inventory.find(session, name, "HostSystem")


@contextlib.contextmanager
def _refusal(method: str):
    """A vSphere fault raised inside becomes TaskFailed carrying its type and message."""
    try:
        yield
    except vmodl.MethodFault as fault:
        kind = type(fault).__name__.split(".")[-1]
        raise TaskFailed(f"{method} refused ({kind}): {fault.msg}", fault_type=kind, fault=fault) from None


def _call(session, obj, method: str, **kwargs):
    """``obj.method(**kwargs)`` through the change guard; a fault becomes TaskFailed with its type."""
    with _refusal(method):
        return session.change(obj, method, **kwargs)


def add_port_group(session, esx: vim.HostSystem, name: str, vswitch: str = "vSwitch0", vlan: int = 0) -> None:
    """A standard port group on one host's virtual switch (``HostNetworkSystem.AddPortGroup``)."""
    spec = vim.host.PortGroup.Specification(name=name, vlanId=vlan, vswitchName=vswitch,
                                            policy=vim.host.NetworkPolicy())
    _call(session, esx.configManager.networkSystem, "AddPortGroup", portgrp=spec)


def remove_port_group(session, esx: vim.HostSystem, name: str) -> None:
    """``HostNetworkSystem.RemovePortGroup``; refused while a VM or VMkernel adapter on the host uses it."""
    _call(session, esx.configManager.networkSystem, "RemovePortGroup", pgName=name)


def add_vmkernel_adapter(session, esx: vim.HostSystem, portgroup: str, *, ip: str | None = None,
                         netmask: str = "255.255.255.0", mtu: int = 1500) -> str:
    """A VMkernel adapter on ``portgroup`` (``HostNetworkSystem.AddVirtualNic``); returns its device, e.g. vmk1."""
    address = (vim.host.IpConfig(dhcp=False, ipAddress=ip, subnetMask=netmask) if ip
               else vim.host.IpConfig(dhcp=True))
    spec = vim.host.VirtualNic.Specification(ip=address, mtu=mtu)
    return _call(session, esx.configManager.networkSystem, "AddVirtualNic", portgroup=portgroup, nic=spec)


def remove_vmkernel_adapter(session, esx: vim.HostSystem, device: str) -> None:
    """``HostNetworkSystem.RemoveVirtualNic``: the adapter and every service enabled on it go."""
    _call(session, esx.configManager.networkSystem, "RemoveVirtualNic", device=device)


def set_mtu(session, esx: vim.HostSystem, device: str, mtu: int) -> None:
    """``HostNetworkSystem.UpdateVirtualNic`` with a new MTU, the rest unchanged."""
    _call(session, esx.configManager.networkSystem, "UpdateVirtualNic", device=device,
          nic=vim.host.VirtualNic.Specification(mtu=mtu))


def set_switch_mtu(session, esx: vim.HostSystem, vswitch: str, mtu: int) -> None:
    """``HostNetworkSystem.UpdateVirtualSwitch`` with a new MTU for a standard switch.

    ESXi applies the whole spec it is given (a missing ``bridge`` unsets the switch's uplinks), so
    this sends the switch's current spec back with only the MTU changed. Jumbo frames need the
    larger MTU on the switch and on the VMkernel adapter, and on the physical network between the
    hosts.
    """
    system = esx.configManager.networkSystem
    current = next((vs.spec for vs in system.networkInfo.vswitch or [] if vs.name == vswitch), None)
    spec = copy.deepcopy(current) if current is not None else vim.host.VirtualSwitch.Specification(numPorts=0)
    spec.mtu = mtu
    _call(session, system, "UpdateVirtualSwitch", vswitchName=vswitch, spec=spec)


def enable_service(session, esx: vim.HostSystem, device: str, service: str = "vmotion") -> None:
    """Turn a VMkernel service on for an adapter (``HostVirtualNicManager.SelectVnicForNicType``)."""
    _call(session, esx.configManager.virtualNicManager, "SelectVnicForNicType", nicType=service, device=device)


def disable_service(session, esx: vim.HostSystem, device: str, service: str = "vmotion") -> None:
    """Turn it off again (``HostVirtualNicManager.DeselectVnicForNicType``)."""
    _call(session, esx.configManager.virtualNicManager, "DeselectVnicForNicType", nicType=service, device=device)


def vmkernel_adapters(session, esx: vim.HostSystem) -> pd.DataFrame:
    """One row per VMkernel adapter: port group, MTU (its own and its switch's), address, services.

    Read in one PropertyCollector call from ``config.network`` and
    ``config.virtualNicManagerInfo``, where vCenter reports them.
    """
    (_, props), = retrieve_objects(session.content, [esx], ["config.network", "config.virtualNicManagerInfo"])
    network = props.get("config.network")
    switch_of = {pg.spec.name: pg.spec.vswitchName for pg in (network.portgroup if network else [])}
    switch_mtu = {vs.name: vs.mtu for vs in (network.vswitch if network else [])}
    services: dict[str, list[str]] = {}
    info = props.get("config.virtualNicManagerInfo")
    for nc in (info.netConfig if info else []):
        for key in nc.selectedVnic or []:
            device = key.rsplit("VirtualNic-", 1)[-1]
            services.setdefault(device, []).append(nc.nicType)
    rows = []
    for nic in (network.vnic if network else []) or []:
        ip = nic.spec.ip
        switch = switch_of.get(nic.portgroup, "")
        rows.append({"device": nic.device, "portgroup": nic.portgroup, "mtu": nic.spec.mtu,
                     "switch": switch, "switch_mtu": switch_mtu.get(switch, 0),
                     "ip": "dhcp" if ip is not None and ip.dhcp else (ip.ipAddress if ip is not None else ""),
                     "services": sorted(services.get(nic.device, []))})
    return pd.DataFrame(rows, columns=["device", "portgroup", "mtu", "switch", "switch_mtu", "ip", "services"])


# -- shared storage ------------------------------------------------------------------------------
def mount_nfs(session, esx: vim.HostSystem, name: str, remote_host: str, remote_path: str) -> vim.Datastore:
    """Mount an NFS export on one host (``HostDatastoreSystem.CreateNasDatastore``).

    vCenter keeps one Datastore per export: mounting the same export on a second host returns the
    same datastore, now listed in both hosts' ``datastore`` and in its own ``host``.
    """
    spec = vim.host.NasVolume.Specification(remoteHost=remote_host, remotePath=remote_path, localPath=name,
                                            accessMode="readWrite", type="NFS")
    return _call(session, esx.configManager.datastoreSystem, "CreateNasDatastore", spec=spec)


def unmount_datastore(session, esx: vim.HostSystem, name: str) -> None:
    """Unmount a datastore from one host (``HostDatastoreSystem.RemoveDatastore``)."""
    ds = inventory.find(session, name, "Datastore")
    _call(session, esx.configManager.datastoreSystem, "RemoveDatastore", datastore=ds)


# -- distributed switches -----------------------------------------------------------------------
def add_dvs_host(session, switch: str, esx: vim.HostSystem) -> None:
    """Make a host a member of a vSphere Distributed Switch (``DistributedVirtualSwitch.ReconfigureDvs_Task``).

    The host then has every distributed port group of the switch. The spec carries the switch's
    current ``configVersion``, as vCenter requires, and no uplinks: on a real host, give it
    physical adapters too (``backing``), or its VMs on the switch reach no one off the host.
    """
    dvs = inventory.find(session, switch, "DistributedVirtualSwitch")
    [(_, props)] = retrieve_objects(session.content, [dvs], ["config.configVersion"])
    spec = vim.DistributedVirtualSwitch.ConfigSpec(
        configVersion=props.get("config.configVersion"),
        host=[vim.dvs.HostMember.ConfigSpec(operation="add", host=esx)])
    _call(session, dvs, "ReconfigureDvs_Task", spec=spec, progress=False)


def dvs_members(session, switch: str) -> list[str]:
    """The names of the hosts that are members of a distributed switch (``summary.hostMember``)."""
    dvs = inventory.find(session, switch, "DistributedVirtualSwitch")
    [(_, props)] = retrieve_objects(session.content, [dvs], ["summary.hostMember"])
    refs = list(props.get("summary.hostMember") or [])
    return sorted(p.get("name") for _, p in retrieve_objects(session.content, refs, ["name"]))


# -- host state --------------------------------------------------------------------------------
def exit_maintenance(session, esx: vim.HostSystem) -> None:
    """Take a host out of maintenance mode (``HostSystem.ExitMaintenanceMode_Task``)."""
    _call(session, esx, "ExitMaintenanceMode_Task", timeout=0, progress=False)


def reconnect(session, esx: vim.HostSystem) -> None:
    """Reconnect a disconnected host (``HostSystem.ReconnectHost_Task``)."""
    _call(session, esx, "ReconnectHost_Task", progress=False)


# -- cluster EVC --------------------------------------------------------------------------------
def evc_manager(session, cluster: str) -> vim.cluster.EVCManager:
    """The cluster's ClusterEVCManager (``ClusterComputeResource.EvcManager()``)."""
    return inventory.find(session, cluster, "ClusterComputeResource").EvcManager()


def check_evc(session, cluster: str, mode: str) -> pd.DataFrame:
    """What would stop ``cluster`` from taking EVC mode ``mode`` (``CheckConfigureEvcMode_Task``).

    One row per problem: vCenter's fault type, the hosts it names, and its message. No rows: the
    mode can be applied. The check changes nothing, so it needs no change permission.
    """
    from .tasks import wait_for_task

    with _refusal("CheckConfigureEvcMode_Task"):
        task = evc_manager(session, cluster).CheckConfigureEvcMode_Task(evcModeKey=mode)
        results = wait_for_task(session, task, progress=False) or []
    rows = [{"fault": type(r.error).__name__.split(".")[-1], "hosts": sorted(h.name for h in r.host or []),
             "message": r.error.msg} for r in results]
    return pd.DataFrame(rows, columns=["fault", "hosts", "message"])


def configure_evc(session, cluster: str, mode: str) -> None:
    """Set the cluster's EVC mode (``ClusterEVCManager.ConfigureEvcMode_Task``)."""
    _call(session, evc_manager(session, cluster), "ConfigureEvcMode_Task", evcModeKey=mode, progress=False)


def disable_evc(session, cluster: str) -> None:
    """Turn EVC off for the cluster (``ClusterEVCManager.DisableEvcMode_Task``)."""
    _call(session, evc_manager(session, cluster), "DisableEvcMode_Task", progress=False)


# -- the whole picture ---------------------------------------------------------------------------
def readiness(session, cluster: str | None = None) -> pd.DataFrame:
    """One row per host: what vMotion needs of it, as vCenter reports it now.

    ``state`` (connected, maintenance, disconnected), ``vmotion`` (the adapters with the vMotion
    service), ``datastores`` and ``networks`` it has, and ``maxEVCModeKey`` (the most its CPU offers).
    Everything comes from two PropertyCollector reads through :mod:`labkit.inventory`.
    """
    hosts = inventory.hosts(session)
    if cluster is not None:
        hosts = hosts[hosts["cluster"] == cluster]
    stores, nets = inventory.datastores(session), inventory.networks(session)
    rows = []
    for h in hosts.itertuples():
        state = ("maintenance" if h.inMaintenanceMode else "connected") if h.connectionState == "connected" \
            else h.connectionState
        rows.append({"host": h.name, "state": state, "vmotion": list(h.vmotionVnics),
                     "datastores": sorted(d.name for d in stores.itertuples() if h.name in d.hosts),
                     # a distributed switch's uplink port group carries no VM: vCenter names it <switch>-DVUplinks-N
                     "networks": sorted(n.name for n in nets.itertuples()
                                        if h.name in n.hosts and "-DVUplinks-" not in n.name),
                     "maxEVCModeKey": h.maxEVCModeKey})
    return pd.DataFrame(rows, columns=["host", "state", "vmotion", "datastores", "networks", "maxEVCModeKey"])

