"""How many migrations vCenter runs at once: the documented cost model, as pure functions.

vCenter gives every migration a *cost* against each resource it uses (a host, a host's vMotion network, a
datastore), and every resource a *maximum cost*. A new migration that would push any resource over its
maximum does not fail: it waits in a queue until running ones finish (VMware, vSphere 6.7 vCenter Server and
Host Management, "Limits on Simultaneous Migrations",
https://docs.vmware.com/en/VMware-vSphere/6.7/com.vmware.vsphere.vcenterhost.doc/GUID-25EA5833-03B5-4EDD-A167-87578B8009B3.html).

The numbers below are that page's tables, which cover ESXi 5.0 to 6.7:

- network: a vMotion costs 1; a host's vMotion network has a maximum of 4 on 1 GbE and 8 on 10 GbE. Network
  limits "apply only to migrations with vMotion", so a Storage vMotion costs 0 here;
- datastore: maximum 128; a vMotion costs 1 against the VM's shared datastore, a Storage vMotion 16. The
  page's table gives 16; its sentence above the table says "1 against the source datastore and 1 against the
  destination datastore". This module follows the table, charged on both datastores;
- host: maximum 8 ("All hosts have a maximum cost per host of 8"); a vMotion costs 1, a Storage vMotion 4, a
  vMotion without shared storage 4. The host table read here (a copy of the 6.5.1 and 6.7 manuals) lists ESXi
  5.0 to 6.0 and vMotion without shared storage from 5.1;
- vMotion without shared storage "is equivalent to a Storage vMotion with a network cost of 1".

Which hosts and networks a migration is charged on is not spelt out in the 6.7 page. This module charges a
host-changing migration on both hosts and both hosts' vMotion networks, as VMware's performance blog does
for vSphere 7.0 ("each host participating in the migration is charged 2 units and each NIC is charged 1
unit", "vCenter Limits for Concurrent vMotion", February 2021,
https://blogs.vmware.com/performance/2021/02/vcenter-limits-for-concurrent-vmotion.html), and Broadcom KB
326281 ("Resource Manager Settings for Managing Migrations") for the per-host costs.

Later releases count in other units with the same result: 16 units per host, 2 per vMotion and 8 per
Storage vMotion (KB 326281 for vSphere 6.0 and later; the 2021 blogs for 6.x and 7.x hosts), so still 8
vMotions or 2 Storage vMotions per host. :data:`VSPHERE_7_HOST_UNITS` holds those numbers.

vCenter starts waiting migrations as resources free up; :func:`admit` only answers which of a list of
migrations, requested in that order, start at once. The lab simulator queues migrations of powered-on VMs by
the same tables (labkit/sim/launcher/costs.go, proved equal by tests/test_precopy_go.py) and starts them as
slots free; labkit.evacuation plans a whole evacuation that way (lesson 07).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

VMOTION = "vMotion"
STORAGE_VMOTION = "Storage vMotion"
WITHOUT_SHARED_STORAGE = "vMotion without shared storage"
KINDS = (VMOTION, STORAGE_VMOTION, WITHOUT_SHARED_STORAGE)

#: the ESXi versions each table of the 6.7 page covers (the host table: as read in the manual's copy)
ESXI_VERSIONS = {"network": "5.0-6.7", "datastore": "5.0-6.7", "host": "5.0-6.0 (vMotion without shared storage 5.1-6.0)"}

#: maximum cost of a host's vMotion network, by link speed
NETWORK_MAX_COST = {"1GbE": 4, "10GbE": 8}
#: maximum cost of a datastore
DATASTORE_MAX_COST = 128
#: maximum cost of a host
HOST_MAX_COST = 8

#: cost of one migration against each resource it uses
COSTS = {
    VMOTION: {"host": 1, "network": 1, "datastore": 1},
    STORAGE_VMOTION: {"host": 4, "network": 0, "datastore": 16},
    WITHOUT_SHARED_STORAGE: {"host": 4, "network": 1, "datastore": 16},
}

#: the same host limits in the units of vSphere 6.0 and later (KB 326281; VMware performance blogs, 2021)
VSPHERE_7_HOST_UNITS = {"max": 16, VMOTION: 2, STORAGE_VMOTION: 8}

RESOURCES = ("host", "network", "datastore")


def _link(link: str) -> int:
    if link not in NETWORK_MAX_COST:
        raise ValueError(f"link {link!r}: the 6.7 table gives network limits for {', '.join(NETWORK_MAX_COST)} only")
    return NETWORK_MAX_COST[link]


def _kind(kind: str) -> dict:
    if kind not in COSTS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    return COSTS[kind]


def max_cost(resource: str, link: str = "10GbE") -> int:
    """The maximum cost of one ``resource`` ("host", "network" or "datastore"); a network's depends on its link."""
    if resource == "host":
        return HOST_MAX_COST
    if resource == "network":
        return _link(link)
    if resource == "datastore":
        return DATASTORE_MAX_COST
    raise ValueError(f"resource {resource!r}: one of {', '.join(RESOURCES)}")


def limits(kind: str, link: str = "10GbE") -> dict[str, int | None]:
    """How many migrations of one ``kind`` a single resource of each type allows: maximum cost // cost.

    None where the kind does not use the resource (a Storage vMotion and the vMotion network).
    """
    costs = _kind(kind)
    return {r: (max_cost(r, link) // costs[r] if costs[r] else None) for r in RESOURCES}


def per_host(kind: str, link: str = "10GbE") -> int:
    """How many migrations of one ``kind`` one host runs at once, every other resource being free.

    The smallest of the host's and its vMotion network's limits (a datastore is not the host's: with enough
    datastores it never binds). For the 6.7 tables: vMotion 4 on 1 GbE, 8 on 10 GbE; Storage vMotion 2; vMotion
    without shared storage 2.
    """
    lim = limits(kind, link)
    return min(v for r, v in lim.items() if r != "datastore" and v is not None)


@dataclasses.dataclass(frozen=True)
class Migration:
    """One requested migration: its kind, the hosts and the datastores it uses.

    ``destination`` is the new host (None for a Storage vMotion, which stays on ``source``);
    ``datastore`` the VM's datastore now; ``target_datastore`` the new one (None for a vMotion, whose datastore
    is shared and stays).
    """
    kind: str
    source: str
    datastore: str
    destination: str | None = None
    target_datastore: str | None = None
    name: str = ""

    def charges(self) -> list[tuple[str, str, int]]:
        """(resource type, resource name, cost) for every resource this migration uses."""
        costs = _kind(self.kind)
        hosts = [self.source] + ([self.destination] if self.kind != STORAGE_VMOTION and self.destination else [])
        stores = [self.datastore] + ([self.target_datastore] if self.kind != VMOTION and self.target_datastore else [])
        out = [("host", h, costs["host"]) for h in hosts]
        if costs["network"]:
            out += [("network", h, costs["network"]) for h in hosts]
        out += [("datastore", d, costs["datastore"]) for d in stores]
        return out


def _links(links: str | dict[str, str], host: str) -> str:
    return links if isinstance(links, str) else links.get(host, "10GbE")


def admit(migrations: Iterable[Migration], links: str | dict[str, str] = "10GbE") -> pd.DataFrame:
    """Which of ``migrations``, requested in this order, start at once and which wait.

    Each one starts if every resource it uses stays within its maximum cost with the ones already started,
    else it waits ("is queued until other operations complete", whatever came before it). ``links`` is the
    vMotion link of every host ("1GbE" or "10GbE"), or a dict host -> link (others 10GbE).
    Columns: ``migration`` (its name, else its position from 1), ``kind``, ``starts`` (bool) and ``waits_for``
    (the first resource it would overfill, as "host esx-01", "network esx-01" or "datastore ds-a"; empty if it
    starts).
    """
    used: dict[tuple[str, str], int] = {}
    rows = []
    for i, m in enumerate(migrations, 1):
        over = ""
        for resource, name, cost in m.charges():
            top = max_cost(resource, _links(links, name)) if resource == "network" else max_cost(resource)
            if used.get((resource, name), 0) + cost > top:
                over = f"{resource} {name}"
                break
        if not over:
            for resource, name, cost in m.charges():
                used[(resource, name)] = used.get((resource, name), 0) + cost
        rows.append({"migration": m.name or str(i), "kind": m.kind, "starts": not over, "waits_for": over})
    return pd.DataFrame(rows, columns=["migration", "kind", "starts", "waits_for"])


def starting(migrations: Iterable[Migration], links: str | dict[str, str] = "10GbE") -> int:
    """How many of ``migrations`` start at once (see :func:`admit`)."""
    return int(admit(migrations, links)["starts"].sum())


def usage(migrations: Iterable[Migration], links: str | dict[str, str] = "10GbE") -> pd.DataFrame:
    """What the migrations that start use of each resource: ``resource``, ``used``, ``max``, sorted by resource.

    Resource names read "host esx-01", "network esx-01", "datastore ds-a".
    """
    migrations = list(migrations)
    table = admit(migrations, links)
    used: dict[tuple[str, str], int] = {}
    for m, starts in zip(migrations, table["starts"], strict=True):
        for resource, name, cost in m.charges():
            used.setdefault((resource, name), 0)
            if starts:
                used[(resource, name)] += cost
    rows = [{"resource": f"{r} {n}", "used": u,
             "max": max_cost(r, _links(links, n)) if r == "network" else max_cost(r)}
            for (r, n), u in sorted(used.items(), key=lambda item: (RESOURCES.index(item[0][0]), item[0][1]))]
    return pd.DataFrame(rows, columns=["resource", "used", "max"])


def evacuation(vmotions: int, storage_vmotions: int = 0, without_shared: int = 0, *, destinations: int = 3,
               source: str = "esx-01") -> list[Migration]:
    """A plan for one host: its Storage vMotions first (ds-a to ds-b), then its vMotions without shared
    storage (to the destinations' local datastores), then its vMotions (datastore ds-a shared), destinations
    taken in turn (esx-02, esx-03, ...)."""
    hosts = [f"esx-{i:02d}" for i in range(2, 2 + destinations)]
    plan = [Migration(STORAGE_VMOTION, source, "ds-a", target_datastore="ds-b", name=f"svm-{i + 1}")
            for i in range(storage_vmotions)]
    plan += [Migration(WITHOUT_SHARED_STORAGE, source, "ds-a", destination=hosts[i % len(hosts)],
                       target_datastore=f"local-{hosts[i % len(hosts)][-2:]}", name=f"xvm-{i + 1}")
             for i in range(without_shared)]
    plan += [Migration(VMOTION, source, "ds-a", destination=hosts[i % len(hosts)], name=f"vm-{i + 1}")
             for i in range(vmotions)]
    return plan


def describe(migrations: Iterable[Migration], links: str | dict[str, str] = "10GbE") -> str:
    """One line: how many start, and what the others wait for."""
    table = admit(migrations, links)
    waiting = table[~table["starts"]]
    line = f"{int(table['starts'].sum())} of {len(table)} migration(s) start at once"
    if len(waiting):
        reasons = waiting.groupby("waits_for", sort=True).size()
        line += "; waiting: " + ", ".join(f"{n} for {r}" for r, n in reasons.items())
    return line


def figure(migrations: Iterable[Migration], links: str | dict[str, str] = "10GbE",
           title: str | None = None) -> go.Figure:
    """Each resource's maximum cost, and how much of it the migrations that start use (a bar per resource)."""
    migrations = list(migrations)
    table = usage(migrations, links)
    share = (100 * table["used"] / table["max"]).round(1)
    full = table["used"] >= table["max"]
    text = [f"{u} of {m}" for u, m in zip(table["used"], table["max"], strict=True)]

    def used(rows, name: str, color: str) -> go.Bar:  # one trace per legend entry: a colour means one thing
        return go.Bar(y=table["resource"][rows], x=share[rows], orientation="h", name=name, marker_color=color,
                      text=[t for t, r in zip(text, rows, strict=True) if r], textposition="auto")

    fig = go.Figure([
        used(~full, "used by the migrations that start", "#1f77b4"),
        used(full, "full: the next migration that needs it waits", "#d62728"),
        go.Bar(y=table["resource"], x=100 - share, orientation="h", name="free", marker_color="#dddddd"),
    ])
    fig.update_layout(barmode="stack", title=title or describe(migrations, links), xaxis_title="% of the maximum cost",
                      xaxis_range=[0, 100], yaxis_autorange="reversed", height=170 + 28 * len(table),
                      legend_orientation="h")
    return fig
