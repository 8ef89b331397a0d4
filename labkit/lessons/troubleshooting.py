"""Exercises of notebooks/06-troubleshooting.ipynb: one case per broken scenario.

Each fix is proven by the migration itself: the answer is the MigrationRun of a
vMotion, and the checker looks at the lab world as vCenter reports it now (the
host's adapters and state, the switch's members, the VM's devices, what else
still runs). The hardware-version case, which no configuration call fixes, is
checked against the VM's version in the lab and datasets/esxi_versions.csv.
"""
from __future__ import annotations

import pandas as pd

from .. import datasets, hostconfig, inventory, vmconfig
from ..continuity import state
from ..exercises import exercise
from .preparing_hosts import _vmotion_adapters, _vmotion_problem

#: the VMs each case's scenario has, to tell the learner when the lab is on another scenario
SCENARIO_VMS = {
    "no-vmotion-vmk": {"web-01", "stuck-03", "cold-01"},
    "host-states": {"web-01", "web-02", "off-01", "solo-01"},
    "blocking-devices": {"cd-host", "cd-client", "gpu-passthrough"},
    "low-memory": {"analytics", "resident-24g", "tiny"},
    "network-mismatch": {"web-prod", "app-dv", "tools-01"},
    "old-esxi": {"modern-vm", "compatible-vm"},
}


def _wrong_scenario(session, scenario: str) -> str | None:
    names = set(inventory.vms(session)["name"])
    if not SCENARIO_VMS[scenario] <= names:
        return (f"the lab is not on scenario {scenario} any more: run the case's first cell again "
                f"(labkit.connect(scenario='{scenario}')), then fix and migrate")
    return None


#: events that say a VM stopped, or had its hardware changed, since the scenario was loaded
STOPPED = {"VmPoweredOffEvent", "VmSuspendedEvent", "VmGuestShutdownEvent"}
RECONFIGURED = {"VmReconfiguredEvent"}


def _history(session, vm: str) -> set[str]:
    """The types of every event the VM has had since its scenario was loaded."""
    from ..troubleshoot import recent_events

    return set(recent_events(session, vm, count=10_000)["type"])


def _case(answer, session, scenario: str, vm: str, host: str) -> tuple[str | None, pd.DataFrame | None]:
    """The problem with a vMotion run of ``vm`` to ``host`` in ``scenario``, and the VM table if there is none."""
    problem = _vmotion_problem(answer, vm, host) or _wrong_scenario(session, scenario)
    if problem:
        return problem, None
    vms = inventory.vms(session).set_index("name")
    if vms.loc[vm, "host"] != host:
        return f"{vm} does not run on {host} in the lab any more", None
    return None, vms


@exercise("06.vmotion-adapter", "stuck-03 leaves esx-03 by vMotion", world="no-vmotion-vmk", points=2, hints=(
    ("The fault's details name the failing side. hostconfig.vmkernel_adapters(session, hostconfig.host(session, "
     "'esx-03')) shows what esx-03 has."),
    ("Give esx-03 what the other hosts have: a port group for vMotion (hostconfig.add_port_group), a VMkernel "
     "adapter on it (hostconfig.add_vmkernel_adapter) and the vMotion service on that adapter "
     "(hostconfig.enable_service)."),
    "Then migrate stuck-03 to esx-01 again, and answer with the run that continuity.migrate returns.",
))
def vmotion_adapter(answer, session):
    problem, _ = _case(answer, session, "no-vmotion-vmk", "stuck-03", "esx-01")
    if problem:
        return problem
    if _vmotion_adapters(session, "esx-03").empty:
        return "esx-03 has no VMkernel adapter with the vMotion service"
    return True


@exercise("06.reconnect", "web-02 moved to esx-03 once esx-03 answers again", world="host-states", points=2, hints=(
    "hostconfig.readiness(session) shows each host's state. Which state does esx-03 have?",
    "A disconnected host is brought back with HostSystem.ReconnectHost_Task: hostconfig.reconnect(session, esx).",
    "Then migrate web-02 to esx-03 and answer with the run.",
))
def reconnect(answer, session):
    problem, _ = _case(answer, session, "host-states", "web-02", "esx-03")
    if problem:
        return problem
    hosts = inventory.hosts(session).set_index("name")
    if hosts.loc["esx-03", "connectionState"] != "connected":
        return "esx-03 is not connected"
    return True


@exercise("06.cd-rom", "cd-host moved to esx-02, its CD-ROM disconnected, not removed",
           world="blocking-devices", points=2, hints=(
    "vmconfig.devices(session, 'cd-host') shows the CD/DVD drive: its backing is the host's own drive, connected.",
    ("Disconnect it while the VM runs, with vmconfig.disconnect (a ReconfigVM_Task that edits the device): "
     "a disconnected host device is only a warning. Keep the drive; do not remove it."),
    "Then migrate cd-host to esx-02 and answer with the run.",
))
def cd_rom(answer, session):
    problem, _ = _case(answer, session, "blocking-devices", "cd-host", "esx-02")
    if problem:
        return problem
    drives = vmconfig.devices(session, "cd-host")
    drives = drives[drives["kind"] == "CD/DVD drive"]
    if drives.empty:
        return "cd-host has no CD/DVD drive any more: disconnect a device, do not remove hardware from a running VM"
    if drives["connected"].any():
        return "cd-host's CD/DVD drive is still connected"
    return True


@exercise("06.make-room", "analytics moved to small-02 without stopping any VM", world="low-memory", points=3, hints=(
    ("The fault's details give the memory requested and the memory unreserved on small-02. "
     "inventory.vms(session) shows what runs there."),
    ("Powering resident-24g off would free the memory, and stop a VM. Which host has room for it, and which "
     "call moves a running VM without stopping it?"),
    "Then migrate analytics to small-02 and answer with that run.",
))
def make_room(answer, session):
    problem, vms = _case(answer, session, "low-memory", "analytics", "small-02")
    if problem:
        return problem
    stopped = sorted(vms.index[vms["powerState"] != "poweredOn"])
    if stopped:
        return f"{', '.join(stopped)} no longer runs: make room without stopping a VM"
    for vm in vms.index:
        history = _history(session, vm)
        if history & STOPPED:
            return f"{vm} was stopped on the way: make room without stopping a VM"
        if history & RECONFIGURED:
            return f"{vm} was reconfigured: make room without changing a VM"
    return True


@exercise("06.distributed", "app-dv moved to esx-04 on its distributed port group",
           world="network-mismatch", points=3, hints=(
    "inventory.networks(session) shows App-DV's switch and the hosts it reaches. Is esx-04 one of them?",
    ("A distributed port group reaches the hosts that are members of its switch. Make esx-04 a member of "
     "DSwitch with hostconfig.add_dvs_host (ReconfigureDvs_Task)."),
    ("Then migrate app-dv to esx-04 and answer with the run. esx-04 stands alone: which resource pool can a VM "
     "on it be in? (RelocateVM_Task refuses a host and pool of different compute resources.)"),
))
def distributed(answer, session):
    problem, _ = _case(answer, session, "network-mismatch", "app-dv", "esx-04")
    if problem:
        return problem
    if "esx-04" not in hostconfig.dvs_members(session, "DSwitch"):
        return "esx-04 is not a member of DSwitch"
    now = state.read(session, inventory.find(session, "app-dv"))
    if _history(session, "app-dv") & RECONFIGURED or [n.network for n in answer.before.nics] != ["App-DV"] \
            or [n.network for n in now.nics] != ["App-DV"] \
            or [n.mac for n in now.nics] != [n.mac for n in answer.before.nics]:
        return "app-dv's adapter was changed: fix the host, and leave the VM as it is"
    return True


def first_release_for(hw_version: int) -> pd.Series:
    """The first ESXi release of datasets/esxi_versions.csv that runs virtual hardware ``hw_version``."""
    table = pd.read_csv(datasets.path("esxi_versions.csv"), dtype={"version": str})
    able = table[table["maxHardwareVersion"] >= hw_version]
    if able.empty:
        raise ValueError(f"no ESXi release in the dataset runs vmx-{hw_version}")
    return able.iloc[0]


@exercise("06.hardware-version", "the first ESXi release that runs modern-vm", world="old-esxi", points=2, hints=(
    "inventory.vms(session) gives modern-vm's virtual hardware version (column version).",
    ("datasets/esxi_versions.csv lists each ESXi release and the highest virtual hardware version it runs "
     "(pd.read_csv(labkit.datasets.path('esxi_versions.csv')))."),
    "Answer with the version string of the first row whose maxHardwareVersion is high enough, such as '6.5.0'.",
))
def hardware_version(answer, session):
    if not isinstance(answer, str):
        return "answer with a version string, such as '6.5.0'"
    problem = _wrong_scenario(session, "old-esxi")
    if problem:
        return problem
    version = inventory.vms(session).set_index("name").loc["modern-vm", "version"]
    truth = first_release_for(int(str(version).removeprefix("vmx-")))
    given = answer.strip()
    if given in (truth["version"], truth["release"]):
        return True
    known = pd.read_csv(datasets.path("esxi_versions.csv"), dtype={"version": str})
    if given not in set(known["version"]) | set(known["release"]):
        return "that is not a release of datasets/esxi_versions.csv"
    return "that release does not run modern-vm's hardware version, or it is not the first that does"
