"""Exercises of notebooks/01b-preparing-hosts.ipynb (scenario nothing-ready).

Lab exercises are checked against the lab world as vCenter reports it: the
host's adapters and services, its switches, its mounts, the cluster's EVC mode
and where the VM runs now. The model exercise is checked against the pre-copy
model, never against a stored number.
"""
from __future__ import annotations

from .. import evc, hostconfig, inventory, precopy
from ..exercises import NOT_ANSWERED, as_names, exercise, same_number
from .continuity import _run_problem

#: the requirement statements of the checklist exercise, and which of them vCenter checks before a vMotion
STATEMENTS = {
    "a": "Both hosts have a VMkernel adapter with the vMotion service enabled.",
    "b": "The cluster has DRS enabled.",
    "c": "The VM's files are on a datastore both hosts have mounted (for a compute-only vMotion).",
    "d": "The cluster has vSphere HA enabled.",
    "e": "The destination's CPU offers every feature the running VM has seen.",
    "f": "The destination has every network the VM's connected adapters use.",
    "g": "Both hosts share a vMotion Storage Accelerator.",
}
REQUIRED = {"a", "c", "e", "f"}

CLUSTER = "Cluster-A"
#: the model exercise: db-02's memory, the OLTP profile, 10 GbE uplinks
TWO_LINKS = {"workload": "oltp-database", "memory_mib": 16384, "link_gbps": 10}


def model_saving_s() -> float:
    """Seconds a second 10 GbE vMotion adapter saves on db-02 under the OLTP profile (the model's answer)."""
    inputs = precopy.workload(TWO_LINKS["workload"], TWO_LINKS["memory_mib"])
    one = precopy.simulate(**inputs, link_gbps=TWO_LINKS["link_gbps"], nics=1)
    two = precopy.simulate(**inputs, link_gbps=TWO_LINKS["link_gbps"], nics=2)
    return one["total_s"] - two["total_s"]


def _vmotion_adapters(session, host: str):
    table = hostconfig.vmkernel_adapters(session, hostconfig.host(session, host))
    return table[table["services"].apply(lambda s: "vmotion" in s)]


@exercise("01b.checklist", "what vCenter needs before a vMotion", world=None, points=1, hints=(
    ("Keep what vCenter checks for the VM and the two hosts; drop what only uses vMotion or has nothing to do "
     "with it."),
    ("DRS uses vMotion; HA restarts VMs after a host failure. One of the statements names a product that does not "
     "exist."),
))
def checklist(answer, session):
    try:
        got = {str(x).strip().lower() for x in as_names(answer)}
    except TypeError:
        return "answer with a set of letters, such as {'a', 'b'}"
    if got - set(STATEMENTS):
        return f"there is no statement {', '.join(sorted(got - set(STATEMENTS)))}"
    wrong = got - REQUIRED
    if wrong:
        return f"{len(wrong)} of your letters is not something a vMotion needs"
    if got != REQUIRED:
        return f"{len(REQUIRED - got)} requirement(s) missing"
    return True


def _vmotion_problem(run, vm: str, host: str) -> str | None:
    """Why ``run`` is not a successful vMotion (a compute migration of a running VM) of ``vm`` to ``host``."""
    problem = _run_problem(run, vm)
    if problem:
        return problem
    if run.kind != "compute" or run.after.host != host:
        return f"that run is not a compute migration of {vm} to {host}"
    if run.before.power_state != "poweredOn" or run.after.power_state != "poweredOn":
        return f"{vm} was not running during that migration: a vMotion moves a running VM"
    return None


@exercise("01b.evc", "the highest EVC mode applied to Cluster-A, proven by moving web-01 to esx-02",
           world="nothing-ready", points=3, hints=(
    ("labkit.evc.common(hosts['maxEVCModeKey']) lists the modes every host of the cluster supports, lowest first; "
     "hostconfig.check_evc(session, 'Cluster-A', mode) lists what stops one."),
    ("ActiveVMsBlockingEVC: a running VM has seen more than the mode would leave it. A VM takes its CPU features "
     "at power-on, so a power cycle around the EVC change (PowerOffVM_Task, PowerOnVM_Task) is the way through."),
    "Prove it with a vMotion of the running web-01 to esx-02 (continuity.migrate) and answer with its MigrationRun.",
))
def evc_applied(answer, session):
    problem = _vmotion_problem(answer, "web-01", "esx-02")
    if problem:
        return problem
    hosts = inventory.hosts(session)
    truth = evc.highest(hosts[hosts["cluster"] == CLUSTER]["maxEVCModeKey"])
    mode = inventory.clusters(session).set_index("name").loc[CLUSTER, "currentEVCModeKey"]
    if not mode:
        return "Cluster-A has no EVC mode: apply one with hostconfig.configure_evc"
    if mode != truth:
        return f"Cluster-A has {mode}, but there is a higher mode every host supports"
    vms = inventory.vms(session).set_index("name")
    if vms.loc["web-01", "host"] != "esx-02":
        return "web-01 does not run on esx-02 in the lab any more"
    return True


@exercise("01b.esx-03", "esx-03 prepared, and app-02 moved to it", world="nothing-ready", points=4, hints=(
    ("continuity.migrate(session, 'app-02', host='esx-03') is refused: read run.fault_type and run.message, or "
     "compat.vcenter(session, vms=['app-02']) for every check at once."),
    ("Compare esx-03's row with esx-01's in hostconfig.readiness(session, 'Cluster-A'): each difference (state, "
     "vMotion adapters, datastores, networks) is one thing to fix, and hostconfig has a call for each."),
    "When vCenter no longer refuses the pair, migrate app-02 again and answer with that MigrationRun.",
))
def esx_03(answer, session):
    problem = _vmotion_problem(answer, "app-02", "esx-03")
    if problem:
        return problem
    hosts = inventory.hosts(session).set_index("name")
    if hosts.loc["esx-03", "inMaintenanceMode"]:
        return "esx-03 is still in maintenance mode"
    if _vmotion_adapters(session, "esx-03").empty:
        return "esx-03 has no VMkernel adapter with the vMotion service"
    stores = inventory.datastores(session).set_index("name")
    if "esx-03" not in stores.loc["shared-nfs", "hosts"] or len(stores.index) != len(set(stores.index)):
        return "shared-nfs is not the one datastore both hosts mount"
    vms = inventory.vms(session).set_index("name")
    if vms.loc["app-02", "host"] != "esx-03":
        return "app-02 does not run on esx-03 in the lab"
    return True


@exercise("01b.jumbo", "jumbo frames on the vMotion path between esx-01 and esx-02",
           world="nothing-ready", points=2, hints=(
    "hostconfig.vmkernel_adapters(session, host) shows each adapter's MTU and its switch's MTU.",
    ("A path carries no more than its smallest MTU: raise the switch (hostconfig.set_switch_mtu) and every vMotion "
     "adapter (hostconfig.set_mtu), on both hosts."),
    "Answer with the MTU the vMotion path between the two hosts now carries, read back from the hosts.",
))
def jumbo(answer, session):
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return "answer with a number of bytes"
    path = []
    for host in ("esx-01", "esx-02"):
        rows = _vmotion_adapters(session, host)
        if rows.empty:
            return f"{host} has no vMotion adapter"
        path += [int(v) for v in rows["mtu"]] + [int(v) for v in rows["switch_mtu"]]
    carried = min(path)
    if carried < 9000:
        return f"the path carries {carried} bytes: some adapter or switch still has a smaller MTU"
    return same_number(answer, carried)


@exercise("01b.two-links", "seconds a second vMotion adapter saves on db-02", world=None, points=2, hints=(
    ("Step 4 of the lesson shows the two calls: precopy.workload turns a profile and a memory size into the "
     "model's inputs, and precopy.simulate runs one migration from them."),
    ("The saving is a difference: compare two runs that differ only in the number of vMotion adapters "
     "(each summary's 'total_s')."),
))
def two_links(answer, session):
    if answer is Ellipsis or answer is None:
        return NOT_ANSWERED
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return "answer with a number of seconds"
    return same_number(answer, model_saving_s(), rel=0.01)
