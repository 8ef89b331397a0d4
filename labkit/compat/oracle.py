"""What vCenter itself says: ``QueryVMotionCompatibilityEx_Task``, side by side with the rules.

The check methods of ``content.vmProvisioningChecker`` only read: they run as
tasks but change nothing, so they are allowed on any vCenter, lab or not.
"""
from __future__ import annotations

import pandas as pd
from pyVmomi import vim

from ..collector import retrieve
from ..tasks import wait_for_task


def _fault_name(fault) -> str:
    # pyVmomi hands a LocalizedMethodFault over as the fault itself, its message in .msg
    return type(fault).__name__.split(".")[-1]


def vcenter(session, vms=None, hosts=None, *, timeout: float = 600) -> pd.DataFrame:
    """vCenter's verdict for every VM × host pair (or those named), from one QueryVMotionCompatibilityEx_Task."""
    got = retrieve(session.content, {vim.VirtualMachine: ["name", "config.template"], vim.HostSystem: ["name"]})
    vm_objs = {p["name"]: o for o, p in got[vim.VirtualMachine] if not p.get("config.template")}
    host_objs = {p["name"]: o for o, p in got[vim.HostSystem]}
    vm_list = [vm_objs[n] for n in (sorted(vm_objs) if vms is None else vms)]
    host_list = [host_objs[n] for n in (sorted(host_objs) if hosts is None else hosts)]
    checker = session.content.vmProvisioningChecker
    task = checker.QueryVMotionCompatibilityEx_Task(vm=vm_list, host=host_list)
    results = wait_for_task(session, task, timeout=timeout, progress=False) or []
    names = {o._moId: n for n, o in {**vm_objs, **host_objs}.items()}
    rows = []
    for r in results:
        errors = sorted(_fault_name(e) for e in (r.error or []))
        warnings = sorted(_fault_name(w) for w in (r.warning or []))
        rows.append({"vm": names[r.vm._moId], "host": names[r.host._moId],
                     "verdict": "blocked" if errors else "warning" if warnings else "ok",
                     "errors": errors, "warnings": warnings,
                     "messages": "; ".join(e.msg or "" for e in [*(r.error or []), *(r.warning or [])])})
    return pd.DataFrame(rows, columns=["vm", "host", "verdict", "errors", "warnings", "messages"])


def compare(mine: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Your verdicts beside vCenter's, pair by pair; ``agree`` is True when the fault types match exactly."""
    both = mine.merge(theirs, on=["vm", "host"], how="outer", suffixes=("", "_vcenter"), indicator=True)
    both["agree"] = [s == "both" and sorted(e) == sorted(ev) and sorted(w) == sorted(wv)
                     for s, e, ev, w, wv in zip(both["_merge"], _lists(both["errors"]), _lists(both["errors_vcenter"]),
                                                _lists(both["warnings"]), _lists(both["warnings_vcenter"]))]
    return both.drop(columns="_merge")


def _lists(col: pd.Series) -> list[list]:
    return [v if isinstance(v, list) else [] for v in col]
