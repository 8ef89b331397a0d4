"""Exercises of notebooks/00-getting-started.ipynb."""
from __future__ import annotations

from .. import inventory
from ..exercises import exercise, same_names, same_number


@exercise("00.cluster-hosts", "hosts in cluster Cluster-A", world="healthy-cluster", points=1, hints=(
    "labkit.inventory.clusters(session) has a numHosts column.",
    "Select the row whose name is 'Cluster-A' and read numHosts, or count the rows of hosts(session) in that cluster.",
))
def cluster_hosts(answer, session):
    truth = inventory.hosts(session)
    return same_number(answer, int((truth["cluster"] == "Cluster-A").sum()))


@exercise("00.vms-on-esx-01", "VMs running on esx-01", world="healthy-cluster", points=2, hints=(
    "labkit.inventory.vms(session) has a host column and a powerState column.",
    "Keep the rows whose host is 'esx-01' and whose powerState is 'poweredOn', then take the name column.",
))
def vms_on_esx01(answer, session):
    vms = inventory.vms(session)
    return same_names(answer, vms.loc[(vms["host"] == "esx-01") & (vms["powerState"] == "poweredOn"), "name"])


@exercise("00.guard", "what the change guard raises", world=None, points=1, hints=(
    "Run the rehearsal cell above and read the first word of the error line.",
    "The answer is an exception class of labkit.errors; give the class or its name.",
))
def guard(answer, session):
    from .. import errors

    name = answer.__name__ if isinstance(answer, type) else str(answer).strip()
    return name == errors.ChangeRefused.__name__
