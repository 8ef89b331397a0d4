"""Exercises of notebooks/02-compatibility-checks.ipynb.

Every truth comes from the lab world: vCenter's own verdicts
(QueryVMotionCompatibilityEx_Task on the simulator) and its inventory.
"""
from __future__ import annotations

from .. import compat, evc, inventory
from ..exercises import NOT_ANSWERED, exercise, same_names


@exercise("02.destinations", "hosts app-ab can move to", world="partial-storage", points=2, hints=(
    "labkit.compat.matrix(session, vms=['app-ab']) has one row per destination with a verdict.",
    "Which verdicts still let the VM move? And one host is no destination at all, whatever its verdict.",
))
def destinations(answer, session):
    said = compat.vcenter(session, vms=["app-ab"])
    here = inventory.vms(session).set_index("name").loc["app-ab", "host"]
    return same_names(answer, said.loc[(said["verdict"] != "blocked") & (said["host"] != here), "host"])


@exercise("02.highest-evc", "highest EVC mode for Cluster-NoEVC", world="mixed-intel-evc", points=2, hints=(
    "Each host's maxEVCModeKey (labkit.inventory.hosts) is the best mode it can run.",
    ("The cluster can run only a mode every one of its hosts supports; labkit.evc has a function for the highest "
     "such mode."),
))
def highest_evc(answer, session):
    hosts = inventory.hosts(session)
    return str(answer).strip() == evc.highest(hosts.loc[hosts["cluster"] == "Cluster-NoEVC", "maxEVCModeKey"])


@exercise("02.storage-rule", "your storage rule agrees with vCenter", world="partial-storage", points=3, hints=(
    "Your function gets inventory.vms, inventory.datastores and inventory.hosts tables and returns (vm, host) pairs.",
    "A pair is blocked when one of the VM's datastores (vms.datastore) does not list the host (datastores.hosts).",
    ("Return a set of tuples such as {('app-local', 'esx-01')}; vCenter checks storage for every pair, "
     "the VM's own host included."),
))
def storage_rule(answer, session):
    if not callable(answer):
        return "give a function, such as the blocked_by_storage you defined"
    got = answer(inventory.vms(session), inventory.datastores(session), inventory.hosts(session))
    if got is None or got is Ellipsis:
        return NOT_ANSWERED
    got = {tuple(p) for p in got}
    said = compat.vcenter(session)
    truth = {(r.vm, r.host) for r in said.itertuples() if "DatastoreNotWritableOnHost" in r.errors}
    if got == truth:
        return True
    return f"{len(got - truth)} pair(s) too many and {len(truth - got)} missing"


@exercise("02.fix-and-prove", "web-01 runs on esx-02", world="host-states", points=2, hints=(
    ("esx-02 is in maintenance mode: labkit.hostconfig.exit_maintenance(session, host) ends it "
     "(HostSystem.ExitMaintenanceMode_Task)."),
    ("Then migrate web-01 with MigrateVM_Task through session.change, and answer with the host the inventory "
     "says it runs on afterwards."),
))
def fix_and_prove(answer, session):
    vms = inventory.vms(session).set_index("name")
    hosts = inventory.hosts(session).set_index("name")
    if vms.loc["web-01", "host"] != "esx-02":
        return "web-01 does not run on esx-02 in the lab yet"
    if hosts.loc["esx-02", "inMaintenanceMode"]:
        return "esx-02 is still in maintenance mode"
    return str(answer).strip() == "esx-02"
