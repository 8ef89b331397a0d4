"""Which pairs to ask vCenter about when there are too many to ask about all of them.

``QueryVMotionCompatibilityEx_Task`` answers one ``CheckResult`` "for each vm/host combination" (vSphere API
reference, ``VirtualMachineProvisioningChecker``). The lab checks about 5,000 pairs a second, so the 100,000 pairs
of a 2,000-VM, 50-host world take about 20 s: more than an audit's budget. A real vCenter's rate is not known
to the course (not modelled).

Two VMs that labkit's rules cannot tell apart get the same verdict on every host from those rules: same source
host, power state, CPU feature requirement, virtual hardware version, memory, vCPUs and reservation, datastores,
networks (and whether each NIC is connected), and devices that can block (kind, backing class, connection,
image datastore). A *profile* is one such class. Asking vCenter about one VM of every profile against every host
tests each distinct configuration once; VMs chosen evenly from the rest fill the budget and catch what vCenter
looks at and labkit does not. Pure: tables in, choices out.
"""
from __future__ import annotations

import dataclasses

import pandas as pd

#: pairs asked of vCenter by default: all of them up to this many; beyond, a sample of whole VMs against every host
BUDGET = 5000


@dataclasses.dataclass(frozen=True)
class Sample:
    """The VMs to ask about (each against every host in ``hosts``), and how they were chosen, in words."""

    vms: list[str]
    hosts: list[str]
    profiles: int          # distinct profiles among all VMs
    covered: int           # profiles with at least one VM asked about
    total_pairs: int       # VMs × hosts of the whole world
    how: str

    @property
    def pairs(self) -> int:
        return len(self.vms) * len(self.hosts)

    @property
    def complete(self) -> bool:
        return self.pairs == self.total_pairs


def profiles(facts) -> pd.Series:
    """VM name -> profile number (0, 1, ...: in order of each profile's first VM by name), from the facts the rules
    read of a VM. VMs of one profile get the same verdicts from labkit's rules on every host."""
    vms = facts.vms.set_index("vm").sort_index()
    key = _text(vms, ["host_moid", "powerState", "req_signature", "hw", "memoryMB", "numCPU", "reservationMB"])
    for table, cols in ((facts.vm_datastores, ["datastore_moid"]),
                        (facts.vm_nics, ["network_id", "distributed", "connected"]),
                        (facts.vm_devices, ["kind", "block", "backing", "connected", "datastore_moid"])):
        key = key + "|" + _joined(table, cols, vms.index)
    return pd.Series(pd.factorize(key)[0], index=key.index, name="profile")


def _text(table: pd.DataFrame, cols: list[str]) -> pd.Series:
    """Each row's ``cols`` as one string."""
    out = pd.Series("", index=table.index, dtype=object)
    for c in cols:
        out = out + "," + table[c].astype(object).map(str)
    return out


def _joined(table: pd.DataFrame, cols: list[str], index) -> pd.Series:
    """Per VM, its rows' ``cols`` as one sorted string ('' for a VM with none)."""
    if table.empty:
        return pd.Series("", index=index, dtype=object)
    text = _text(table, cols)
    return (pd.Series(text.to_numpy(), index=table["vm"].to_numpy()).sort_values().groupby(level=0).agg(";".join)
            .reindex(index).fillna(""))


def choose(facts, verdicts: pd.DataFrame | None, budget: int = BUDGET) -> Sample | None:
    """The VMs to ask vCenter about, each against every host: all of them when VMs × hosts <= ``budget``;
    otherwise one VM of each profile (profiles with a blocked or warned pair first, then the largest), then VMs
    spread evenly over the rest by name, up to ``budget`` pairs (at least one VM). ``budget`` 0: none.

    ``verdicts`` (labkit's, one row per pair) only order the profiles when there are more than the budget holds;
    given None, the choice is made without them when they would not change it, and None is returned when they
    would (the audit then asks vCenter while its own rules run, or after them)."""
    names = sorted(facts.vms["vm"])
    hosts = sorted(facts.hosts["host"])
    prof = profiles(facts)
    n_prof = int(prof.nunique()) if len(prof) else 0
    total = len(names) * len(hosts)
    if budget <= 0 or not names or not hosts:
        return Sample([], hosts, n_prof, 0, total, "vCenter was not asked (no pairs to ask, or asked for none)")
    if total <= budget:
        return Sample(names, hosts, n_prof, n_prof, total, f"vCenter was asked about every pair ({total:,})")
    room = max(1, budget // len(hosts))
    if verdicts is None and n_prof > room:
        return None
    flagged = (set() if verdicts is None
               else set(prof[prof.index.isin(set(verdicts.loc[verdicts["verdict"] != "ok", "vm"]))]))
    first = prof.reset_index().groupby("profile")["vm"].first()
    size = prof.value_counts()
    order = sorted(first.index, key=lambda p: (p not in flagged, -size[p], first[p]))
    chosen = [first[p] for p in order[:room]]
    covered = len(chosen)
    rest = [v for v in names if v not in set(chosen)]
    extra = room - len(chosen)
    if extra > 0 and rest:
        step = len(rest) / extra
        chosen += [rest[int(i * step)] for i in range(min(extra, len(rest)))]
    chosen = sorted(set(chosen))
    pairs = len(chosen) * len(hosts)
    how = (f"vCenter was asked about {pairs:,} of {total:,} pairs: {len(chosen):,} of {len(names):,} VMs against "
           f"every host; one VM of {covered:,} of the {n_prof:,} groups of VMs that labkit's rules cannot tell "
           "apart (same source host, power state, CPU requirement, hardware version, memory, datastores, "
           "networks and devices), the rest spread evenly by name. The other pairs carry labkit's verdict alone.")
    return Sample(chosen, hosts, n_prof, covered, total, how)
