"""Exercises of notebooks/00-getting-started.ipynb."""
from __future__ import annotations

from .. import inventory
from ..exercises import exercise


def _as_names(answer) -> set[str]:
    if isinstance(answer, str):
        raise TypeError("a single string")
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
    return {str(a) for a in answer}


@exercise("00.cluster-hosts", "hosts in cluster DC0_C0", points=1, hints=(
    "labkit.inventory.clusters(session) has a numHosts column.",
    "Select the row whose name is 'DC0_C0' and read numHosts, or count the rows of hosts(session) with that cluster.",
))
def cluster_hosts(answer, session):
    truth = inventory.hosts(session)
    return int(answer) == int((truth["cluster"] == "DC0_C0").sum())


@exercise("00.standalone-vms", "VMs on the standalone host", points=2, hints=(
    "A standalone host belongs to no cluster: its cluster column is None in hosts(session).",
    "Find the standalone host's name, then filter vms(session) on the host column and take the name column.",
))
def standalone_vms(answer, session):
    hosts = inventory.hosts(session)
    standalone = set(hosts.loc[hosts["cluster"].isna(), "name"])
    vms = inventory.vms(session)
    truth = set(vms.loc[vms["host"].isin(standalone), "name"])
    names = _as_names(answer)
    if names == truth:
        return True
    if names < truth:
        return "some of those VMs are missing"
    return "that set includes VMs that are not on a standalone host" if names - truth else False


@exercise("00.guard", "what the change guard raises", points=1, hints=(
    "Run the rehearsal cell above and read the first word of the error line.",
    "The answer is an exception class of labkit.errors; give the class or its name.",
))
def guard(answer, session):
    from .. import errors

    name = answer.__name__ if isinstance(answer, type) else str(answer).strip()
    return name == errors.ChangeRefused.__name__
