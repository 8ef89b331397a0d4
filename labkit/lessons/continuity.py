"""Exercises of notebooks/04-storage-continuity.ipynb and 05-network-continuity.ipynb.

Lab exercises are checked against the lab world (where the VM runs now, what
its files and adapters are); model exercises against labkit.continuity's
models, never against a stored number.
"""
from __future__ import annotations

import dataclasses

from .. import inventory
from ..continuity import MigrationRun, network, state, storage
from ..exercises import NOT_ANSWERED, exercise, same_number, whole_number


def _run_problem(run, vm: str) -> str | None:
    """Why ``run`` is not a good, complete migration of ``vm`` (None if it is)."""
    if not isinstance(run, MigrationRun):
        return "answer with the MigrationRun that continuity.migrate(...) returned"
    if run.vm != vm:
        return f"that run migrated {run.vm}, not {vm}"
    if not run.succeeded and run.in_flight:
        return (f"that migration failed in flight ({run.fault_type}): read its fault and the hosts' logs, fix the "
                "cause, then migrate again")
    if not run.succeeded:
        return f"that migration was refused ({run.fault_type}); read its fault and change the request"
    if not run.holds:
        return "not every invariant of that run holds"
    return None


@exercise("04.not-shared", "app-local runs on esx-01, nothing lost", world="partial-storage", points=3, hints=(
    "Try it: continuity.migrate(session, 'app-local', host='esx-01') and read run.fault_type and run.message.",
    "local-03 is mounted on esx-03 only. Move the files too: add datastore= a datastore esx-01 mounts "
    "(labkit.inventory.datastores(session) lists each datastore's hosts).",
    "One call changes host and datastore together (shared-nothing vMotion); answer with the run it returns.",
))
def not_shared(answer, session):
    problem = _run_problem(answer, "app-local")
    if problem:
        return problem
    vms = inventory.vms(session).set_index("name")
    stores = inventory.datastores(session).set_index("name")
    if vms.loc["app-local", "host"] != "esx-01":
        return "app-local does not run on esx-01 in the lab"
    if vms.loc["app-local", "powerState"] != "poweredOn":
        return "app-local is not powered on any more"
    if not all("esx-01" in stores.loc[d, "hosts"] for d in vms.loc["app-local", "datastore"]):
        return "app-local's files are on a datastore esx-01 cannot reach"
    return True


@exercise("04.mirrored", "data the mirror driver mirrors", world=None, points=2, hints=(
    "First find how long the copy takes: the disk size and the copy rate give it (1 GiB = 1024 MiB).",
    "A write is mirrored only if it lands behind the copier, on a block already copied. Writes are spread "
    "evenly over the disk: on average, what share of the disk is behind the copier during the copy?",
))
def mirrored(answer, session):
    truth = storage.copy(200, 500, 60, method="mirror").summary["mirrored_mib"]
    return same_number(answer, truth, rel=0.01)


def _left_behind_truth(run: MigrationRun) -> list[str]:
    out = []
    for old in run.before.datastores:
        if old != run.datastore:
            out += list(run.after.browsed_on(old) or ())
    return sorted(out)


@exercise("04.left-behind", "your 'nothing left behind' check", world=None, points=3, hints=(
    "run.before.datastores names the datastores the VM used before; run.after.browsed_on(name) lists the files "
    "the datastore browser still finds in the VM's folder there (None if it did not look there).",
    "Which of the old datastores should be empty now? Every one except the datastore the VM moved to "
    "(run.datastore).",
))
def left_behind(answer, session):
    fn, run = answer if isinstance(answer, tuple) else (answer, None)
    if not callable(fn):
        return "give (your function, the storage run it was tested on)"
    if not isinstance(run, MigrationRun) or run.datastore is None or not run.succeeded:
        return "the second item must be a successful storage migration run"
    good = fn(run)
    if good is None or good is Ellipsis:
        return NOT_ANSWERED
    # the same run, had the copy left the old folder in place
    half = dataclasses.replace(run, after=state.changed(run.after, browsed=run.before.browsed))
    for case, name in ((run, "the real run"), (half, "a run that left its files behind")):
        if sorted(fn(case) or []) != _left_behind_truth(case):
            return f"your function is wrong on {name}"
    return True


@exercise("05.port-group", "web-prod runs on esx-03 with its MAC and network",
           world="network-mismatch", points=3, hints=(
    "continuity.migrate(session, 'web-prod', host='esx-03') is refused: read run.fault_type and run.message.",
    "vMotion matches standard port groups by name, and esx-03 has no port group with the name of web-prod's "
    "network. labkit.hostconfig.add_port_group adds one to a host's vSwitch0 (HostNetworkSystem.AddPortGroup).",
    "Then migrate web-prod again and answer with the run that continuity.migrate returns.",
))
def port_group(answer, session):
    problem = _run_problem(answer, "web-prod")
    if problem:
        return problem
    vms = inventory.vms(session).set_index("name")
    nets = inventory.networks(session).set_index("name")
    if vms.loc["web-prod", "host"] != "esx-03":
        return "web-prod does not run on esx-03 in the lab"
    if "esx-03" not in nets.loc["Prod", "hosts"]:
        return "the network Prod does not reach esx-03"
    vm = inventory.find(session, "web-prod")
    now = state.read(session, vm)
    if [n.network for n in now.nics] != ["Prod"] or [n.mac for n in now.nics] != [n.mac for n in answer.before.nics]:
        return "web-prod's adapter is no longer the one it had, on Prod"
    return True


@exercise("05.lost-pings", "pings lost in the outage", world=None, points=2, hints=(
    "Traffic is lost from the stun until the switches have learned the new port: downtime + RARP delay.",
    "Count the send times 0, 0.2, 0.4, ... that fall inside that window (the one at exactly its end gets through).",
))
def lost_pings(answer, session):
    return whole_number(answer) == network.lost_pings(0.9, interval_s=0.2, rarp_delay_s=0.3)


@exercise("05.survives-2s", "does the 2 s session survive?", world=None, points=2, hints=(
    "Outage = downtime + RARP delay. The segment in flight is resent after 0.2 s, then the wait doubles each time.",
    "Add up the waits until a retransmission leaves after the outage: that is the stall. Compare it with 2 s.",
))
def survives_2s(answer, session):
    if not isinstance(answer, bool):
        return "answer True or False"
    return answer == network.tcp(1.9, rarp_delay_s=0.05, app_timeout_s=2.0)["app_survives"]
