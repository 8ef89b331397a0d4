"""``labkit audit``: a read-only vMotion readiness report of a vCenter.

::

    from labkit import audit
    result = audit.run(session, "audit-report")     # reads, judges, writes report.html, verdicts.csv, findings.json
    result = audit.collect(session)                 # the same, without writing
    result.findings                                 # one row per problem of a blocked or warned pair

The audit reads (:mod:`.reading`; reads only, see :mod:`labkit.readonly`), judges every VM × host pair with
labkit's rules (:mod:`labkit.compat.rules`, through :mod:`.findings`), asks vCenter itself about every pair or a
sample of them (:mod:`.sample`; ``QueryVMotionCompatibilityEx_Task``), judges the hosts and clusters
(:mod:`.readiness`) and writes the report (:mod:`.report`, figures from :mod:`.figures`). A read that vCenter
refuses for lack of privilege is recorded (:class:`.reading.Refusal`) and the audit goes on without it; only the
inventory itself is indispensable (its refusal raises :class:`labkit.errors.LabkitError`).

Time: on the large-datacenter lab world (50 hosts, 2,000 VMs, 100,000 pairs) 9.2 to 10 s on 2 cores, nearly all
of it pyVmomi deserializing the VMs' devices and CPU requirements (read on two cores: :mod:`.reading`); about
11.5 s for the whole ``labkit audit`` command (docs/audit.md has the measured steps).
"""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..compat import Facts, rules
from . import findings as _findings
from . import readiness as _readiness
from . import reading, report, sample
from .reading import Refusal
from .sample import BUDGET, Sample

__all__ = ["run", "collect", "Audit", "Refusal", "Sample", "BUDGET"]


@dataclasses.dataclass
class Audit:
    """One audit: what was read, the verdicts and findings, and what could not be read.

    Tables (pandas DataFrames): ``pairs`` (one row per VM × host, :data:`.findings.PAIR_COLUMNS`), ``findings``
    (one row per problem of a blocked or warned pair, :data:`.findings.FINDING_COLUMNS`), ``by_fault``,
    ``devices``, ``disagreements``, ``hosts`` and ``clusters`` (readiness, :mod:`.readiness`). ``facts`` is the
    inventory as :class:`labkit.compat.Facts`; ``sample`` says which pairs vCenter was asked about;
    ``refusals`` what could not be read; ``timings`` seconds per step; ``files`` the paths written (by
    :func:`run`)."""

    about: dict
    facts: Facts
    pairs: pd.DataFrame
    findings: pd.DataFrame
    by_fault: pd.DataFrame
    devices: pd.DataFrame
    disagreements: pd.DataFrame
    hosts: pd.DataFrame
    clusters: pd.DataFrame
    sample: Sample
    refusals: list[Refusal]
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    files: dict[str, Path] = dataclasses.field(default_factory=dict)

    @property
    def not_checked(self) -> list[str]:
        """The checks left out because a read was refused (labkit.compat.rules' names)."""
        return sorted({c for r in self.refusals for c in reading.CHECKS_OF[r.step]})

    def counts(self) -> dict:
        verdicts = self.pairs["verdict"].value_counts() if len(self.pairs) else pd.Series(dtype=int)
        return {"clusters": int((self.clusters["cluster"] != _readiness.STANDALONE).sum()),
                "hosts": len(self.facts.hosts), "vms": len(self.facts.vms), "pairs": len(self.pairs),
                **{v: int(verdicts.get(v, 0)) for v in ("ok", "warning", "blocked")}}

    def vcenter_summary(self) -> dict:
        """How vCenter was asked and what came of it: ``how`` (words), ``asked`` (pairs answered), ``agree``,
        ``disagree``, ``total`` (all pairs), ``complete``, ``profiles`` and ``covered``."""
        asked = self.pairs[self.pairs["vcenter_asked"]] if len(self.pairs) else self.pairs
        refused = any(r.step == "vcenter" for r in self.refusals)
        how = ("vCenter's verdicts were not read (it refused QueryVMotionCompatibilityEx_Task): the report shows "
               "labkit's rules alone." if refused else self.sample.how)
        return {"how": how, "asked": len(asked), "agree": int((asked["agree"] == True).sum()),  # noqa: E712
                "disagree": int((asked["agree"] == False).sum()), "total": self.sample.total_pairs,  # noqa: E712
                "complete": bool(len(asked) == self.sample.total_pairs and not refused),
                "profiles": self.sample.profiles, "covered": 0 if refused else self.sample.covered}

    def lines(self) -> list[str]:
        """The audit in a few lines, for a terminal."""
        n, v = self.counts(), self.vcenter_summary()
        out = [f"{n['hosts']} hosts, {n['vms']:,} VMs, {n['pairs']:,} pairs: {n['ok']:,} ok, {n['warning']:,} "
               f"warning, {n['blocked']:,} blocked (labkit's rules)"]
        if v["asked"]:
            out.append(f"vCenter asked about {v['asked']:,} of {v['total']:,} pairs: {v['agree']:,} agree, "
                       f"{v['disagree']:,} disagree")
        hosts_ready = int(self.hosts["ready"].sum()) if len(self.hosts) else 0
        out.append(f"hosts ready for vMotion: {hosts_ready} of {len(self.hosts)}; blocking devices: "
                   f"{len(self.devices)}")
        return out


def _bar(progress: bool, **kw):
    from tqdm.auto import tqdm

    return tqdm(disable=not progress, leave=False, **kw)


def collect(session, *, progress: bool = True, vcenter_pairs: int = BUDGET) -> Audit:
    """Read ``session``'s vCenter and judge it; nothing is written.

    ``vcenter_pairs``: how many pairs vCenter is asked about at most (all of them when the world has no more;
    0: none). Raises :class:`labkit.errors.LabkitError` when the inventory itself cannot be read."""
    refusals: list[Refusal] = []
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    helper: dict[str, float] = {}
    with _bar(progress, desc="reading the inventory", unit=" objects") as bar:
        facts, cluster_rows, datastores = reading.facts(session, refusals, bar, helper)
    timings["read"] = time.perf_counter() - t0
    timings.update(helper)  # the part read in a helper process, if one was (reading.facts)

    t = time.perf_counter()
    # vCenter is asked before labkit's rules run when the choice of pairs does not need their verdicts (it
    # checks while the rules run here); otherwise after them
    chosen = sample.choose(facts, None, vcenter_pairs)
    asked = reading.ask(session, facts, chosen.vms, chosen.hosts, refusals) if chosen and chosen.vms else None
    with _bar(progress, total=len(rules.RULES), desc="checking every VM × host pair", unit=" checks") as bar:
        issues, verdicts = _findings.judge(facts, bar.update)
    if chosen is None:
        chosen = sample.choose(facts, verdicts, vcenter_pairs)
        asked = reading.ask(session, facts, chosen.vms, chosen.hosts, refusals) if chosen.vms else None
    # what does not need vCenter's answers, made while vCenter checks
    hosts, clusters = _readiness.hosts(facts), _readiness.clusters(facts, cluster_rows, datastores)
    devices = _findings.devices(facts, issues)
    timings["check"] = time.perf_counter() - t

    t = time.perf_counter()
    theirs = None
    if asked is not None:
        with _bar(progress, total=chosen.pairs, desc="asking vCenter (QueryVMotionCompatibilityEx_Task)",
                  unit=" pairs") as bar:
            theirs = reading.answers(session, asked, refusals, bar)
    timings["vcenter"] = time.perf_counter() - t  # the wait for vCenter's answers after labkit's own checks

    t = time.perf_counter()
    table = _findings.pairs(verdicts, facts, theirs)
    found = _findings.findings(issues, table)
    result = Audit(about=reading.about(session), facts=facts, pairs=table, findings=found,
                   by_fault=_findings.by_fault(found), devices=devices,
                   disagreements=_findings.disagreements(table), hosts=hosts,
                   clusters=clusters, sample=chosen, refusals=refusals,
                   timings=timings)
    timings["judge"] = time.perf_counter() - t
    return result


def run(session, folder, *, progress: bool = True, vcenter_pairs: int = BUDGET) -> Audit:
    """:func:`collect`, then write report.html, verdicts.csv and findings.json into ``folder`` (made if needed).
    The result's ``files`` names them; ``timings`` has the seconds of each step."""
    result = collect(session, progress=progress, vcenter_pairs=vcenter_pairs)
    t = time.perf_counter()
    with _bar(progress, total=3, desc="writing the report", unit=" files") as bar:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        timed = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
        result.files = report.write(result, Path(folder), generated=f"Generated {stamp} by labkit audit ({timed}).",
                                    progress=bar.update)
    result.timings["write"] = time.perf_counter() - t
    return result
