"""Exercises of notebooks/00-getting-started.ipynb."""
from __future__ import annotations

from .. import inventory
from ..exercises import exercise, same_names, same_number


@exercise("00.cluster-hosts", "hosts in cluster Cluster-A", world="healthy-cluster", points=1, hints=(
    "labkit.inventory.clusters(session) has a numHosts column.",
    "Select the row of Cluster-A in that table; the number you need is already in one of its columns.",
))
def cluster_hosts(answer, session):
    truth = inventory.hosts(session)
    return same_number(answer, int((truth["cluster"] == "Cluster-A").sum()))


@exercise("00.vms-on-esx-01", "VMs running on esx-01", world="healthy-cluster", points=2, hints=(
    "labkit.inventory.vms(session) has a host column and a powerState column.",
    "Filter that table on two columns at once (in pandas, & joins two conditions), then answer with the names.",
))
def vms_on_esx01(answer, session):
    vms = inventory.vms(session)
    return same_names(answer, vms.loc[(vms["host"] == "esx-01") & (vms["powerState"] == "poweredOn"), "name"])


@exercise("00.guard", "what the change guard raises", world=None, points=1, hints=(
    "The answer is one of the exception classes in labkit.errors: the class itself, or its name.",
    "Run the rehearsal cell again: a labkit error line starts with the name of its class.",
))
def guard(answer, session):
    from .. import errors

    name = answer.__name__ if isinstance(answer, type) else str(answer).strip()
    return name == errors.ChangeRefused.__name__
