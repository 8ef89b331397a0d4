"""Troubleshooting a refused vMotion: ask vCenter, read the faults, the events and the guide.

The loop an admin follows, and lesson 06 teaches:

1. try the migration (``continuity.migrate``) and read its fault;
2. ``diagnose(session, vm, host)``: vCenter's own check of that one move
   (``CheckRelocate_Task``, which changes nothing), every error and warning with
   the fault's fields, what it means, where to look and what fixes it (the
   guide, :mod:`labkit.troubleshoot.faults`), and the VM's latest events;
3. look at the facts the guide names, fix them through the API
   (:mod:`labkit.hostconfig`, :mod:`labkit.vmconfig`);
4. prove the fix with the migration itself.

``board(session)`` is vCenter's verdict for every VM × host pair at once
(``QueryVMotionCompatibilityEx_Task``); ``board_figure`` draws it.
"""
from __future__ import annotations

import dataclasses
import html

import pandas as pd
from pyVmomi import vim

from .. import inventory
from ..collector import retrieve_objects
from ..compat import charts as _charts
from ..compat import oracle as _oracle
from ..tasks import fault_message, wait_for_task
from ..widgets import table_html
from .explorer import Explorer
from .faults import details, explain, guide

__all__ = ["Diagnosis", "Explorer", "board", "board_figure", "details", "diagnose", "explain", "guide", "recent_events"]

FINDING_COLUMNS = ["severity", "fault", "details", "check", "fix", "fixable_live", "message"]
EVENT_COLUMNS = ["type", "message"]


@dataclasses.dataclass
class Diagnosis:
    vm: str
    host: str | None
    datastore: str | None
    findings: pd.DataFrame  # one row per error or warning vCenter reports
    events: pd.DataFrame    # the VM's latest events, oldest first

    @property
    def verdict(self) -> str:
        """``blocked`` (an error), ``warning`` (warnings only) or ``ok``."""
        sev = set(self.findings["severity"])
        return "blocked" if "error" in sev else "warning" if "warning" in sev else "ok"

    @property
    def faults(self) -> list[str]:
        """The fault types of the errors, in vCenter's order."""
        return self.findings.loc[self.findings["severity"] == "error", "fault"].tolist()

    def describe(self) -> str:
        """The diagnosis in words, one finding per line, with what to look at and the fix."""
        target = " and ".join(x for x in (self.host, self.datastore) if x)
        lines = [f"{self.vm} -> {target}: {self.verdict}"]
        for f in self.findings.itertuples():
            row = explain(f.fault)
            lines.append(f"  {f.severity}: {f.fault}" + (f" ({f.details})" if f.details else ""))
            lines.append(f"    means: {row['means']}")
            if not row["check"]:  # not in the guide: vCenter's own words are all there is
                lines.append(f"    message: {f.message}")
            if row["look_at"]:
                lines.append(f"    look at: {row['look_at']}")
            if row["fix"]:
                lines.append(f"    fix: {row['fix']}" + (f" [live: {row['fixable_live']}]" if row['fixable_live'] else ""))
        if len(self.events):
            lines.append("  latest events: " + ", ".join(self.events["type"]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.describe()

    def _repr_html_(self) -> str:
        target = " and ".join(x for x in (self.host, self.datastore) if x)
        head = f"<p><b>{html.escape(self.vm)} → {html.escape(target)}: {self.verdict}</b></p>"
        # every reason, fix and event message in full, wrapping at word boundaries
        table = table_html(self.findings.drop(columns="message")) if len(self.findings) else \
            "<p>vCenter reports no error and no warning.</p>"
        events = ("<p>Latest events of the VM:</p>" + table_html(self.events)) if len(self.events) else ""
        return head + table + events


def _vm(session, vm):
    return inventory.find(session, vm, "VirtualMachine") if isinstance(vm, str) else vm


def recent_events(session, vm, count: int = 5) -> pd.DataFrame:
    """The VM's latest ``count`` events, oldest first: type and vCenter's message."""
    vm = _vm(session, vm)
    spec = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=vm, recursion="self"))
    found = sorted(session.content.eventManager.QueryEvents(spec) or [], key=lambda e: e.key)[-count:] if count else []
    rows = [{"type": type(e).__name__.split(".")[-1], "message": e.fullFormattedMessage or ""} for e in found]
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def diagnose(session, vm, host=None, datastore=None, *, pool=None, events: int = 3) -> Diagnosis:
    """vCenter's check of one move (``CheckRelocate_Task``), explained; it changes nothing, on any vCenter.

    ``host`` and ``datastore`` are names or objects; give either or both, as for ``continuity.migrate``.
    A host of another cluster (or a standalone host) needs a resource pool of its own compute resource:
    without ``pool``, the destination's root pool is used then, as vCenter requires.
    """
    from ..errors import InvalidInput

    if host is None and datastore is None:
        raise InvalidInput("Say which move to diagnose: host=, datastore=, or both.")
    vm_obj = _vm(session, vm)
    host_obj = inventory.find(session, host, "HostSystem") if isinstance(host, str) else host
    ds_obj = inventory.find(session, datastore, "Datastore") if isinstance(datastore, str) else datastore
    if pool is None and host_obj is not None:
        pool = _pool_for(session, vm_obj, host_obj)
    task = session.content.vmProvisioningChecker.CheckRelocate_Task(
        vm=vm_obj, spec=vim.vm.RelocateSpec(host=host_obj, datastore=ds_obj, pool=pool))
    results = wait_for_task(session, task, progress=False) or []
    rows = []
    for r in results:
        for severity, faults in (("error", r.error or []), ("warning", r.warning or [])):
            for f in faults:
                kind, message = fault_message(f)
                row = explain(kind)
                rows.append({"severity": severity, "fault": kind, "details": details(f), "check": row["check"],
                             "fix": row["fix"], "fixable_live": row["fixable_live"], "message": message})
    return Diagnosis(vm=vm_obj.name, host=host_obj.name if host_obj is not None else None,
                     datastore=ds_obj.name if ds_obj is not None else None,
                     findings=pd.DataFrame(rows, columns=FINDING_COLUMNS),
                     events=recent_events(session, vm_obj, events))


def _pool_for(session, vm, host):
    """The destination's root resource pool when ``host`` belongs to another compute resource than the VM's
    pool, else None (the VM keeps its pool)."""
    [(_, v)] = retrieve_objects(session.content, [vm], ["resourcePool"])
    [(_, h)] = retrieve_objects(session.content, [host], ["parent"])
    own = v.get("resourcePool")
    if own is None or h.get("parent") is None:
        return None
    [(_, p)] = retrieve_objects(session.content, [own], ["owner"])
    if p.get("owner") == h["parent"]:
        return None
    [(_, cr)] = retrieve_objects(session.content, [h["parent"]], ["resourcePool"])
    return cr.get("resourcePool")


def board(session, vms=None, hosts=None) -> pd.DataFrame:
    """vCenter's verdict for every VM × host pair (one ``QueryVMotionCompatibilityEx_Task``), with ``reasons``.

    A VM's own host is left out: there is nothing to move.
    """
    table = _oracle.vcenter(session, vms=vms, hosts=hosts)
    where = inventory.vms(session).set_index("name")["host"]
    table = table[[where.get(v) != h for v, h in zip(table["vm"], table["host"])]].reset_index(drop=True)
    table["reasons"] = ["; ".join(e + w) for e, w in zip(table["errors"], table["warnings"])]
    return table


def board_figure(table: pd.DataFrame, title: str = "What vCenter allows: every VM to every other host"):
    """The board as a heatmap (green ok, amber warning, red blocked; the faults on hover)."""
    return _charts.heatmap(table, title=title)

