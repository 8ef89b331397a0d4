"""vMotion compatibility: the checks vCenter makes, as rules you can read and run.

::

    from labkit import compat
    compat.check(session, "db-01", "esx-02")     # one row per check: status, facts, reason, remedy, fault
    compat.matrix(session)                       # every VM x host pair from one inventory fetch
    compat.vcenter(session, ["db-01"], ["esx-02"])  # what vCenter (or the lab) says, for comparison

The facts come from one PropertyCollector pass (:mod:`.facts`); the rules are
pure functions over tables (:mod:`.rules`).
"""
from __future__ import annotations

import pandas as pd

from ..errors import LabkitError
from . import rules
from .facts import Facts, fetch
from .oracle import compare, vcenter
from .rules import RULES

__all__ = ["check", "matrix", "vcenter", "compare", "fetch", "Facts", "RULES", "rules", "verdicts", "charts",
           "CheckExplorer"]


def _known(names, known: pd.Series, kind: str) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in set(known)]
    if unknown:
        listed = ", ".join(sorted(known)[:12])
        raise LabkitError(f"No {kind} named '{unknown[0]}' in the inventory.", fix=f"use one of: {listed}")
    return names


def verdicts(p: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: ``verdict`` (ok, warning, blocked), the error and warning fault types, the reasons."""
    base = p[["vm", "host"]].copy()
    if issues.empty:
        base["verdict"], base["errors"], base["warnings"], base["reasons"] = "ok", [[]] * len(base), [[]] * len(base), ""
        return base
    errs = issues[issues["severity"] == "error"].groupby(["vm", "host"])["fault"].agg(sorted)
    warns = issues[issues["severity"] == "warning"].groupby(["vm", "host"])["fault"].agg(sorted)
    why = (issues["check"] + ": " + issues["reason"]).groupby([issues["vm"], issues["host"]]).agg("; ".join)
    idx = pd.MultiIndex.from_frame(base)
    base["errors"] = [e if isinstance(e, list) else [] for e in errs.reindex(idx)]
    base["warnings"] = [w if isinstance(w, list) else [] for w in warns.reindex(idx)]
    base["reasons"] = why.reindex(idx).fillna("").to_numpy()
    base["verdict"] = ["blocked" if e else "warning" if w else "ok" for e, w in zip(base["errors"], base["warnings"])]
    return base[["vm", "host", "verdict", "errors", "warnings", "reasons"]]


def matrix(conn_or_facts, vms=None, hosts=None) -> pd.DataFrame:
    """Every VM × host pair (or those named): one inventory fetch, every rule over all pairs at once."""
    if isinstance(vms, str):
        vms = [vms]
    f = conn_or_facts if isinstance(conn_or_facts, Facts) else fetch(
        conn_or_facts, requirements_of=None if vms is None else list(vms))
    if vms is not None:
        vms = _known(vms, f.vms["vm"], "VM")
    if hosts is not None:
        hosts = _known(hosts, f.hosts["host"], "host")
    p = rules.pairs(f, vms, hosts)
    return verdicts(p, rules.evaluate(p, f))


def check(conn_or_facts, vm: str, host: str) -> pd.DataFrame:
    """The checklist of moving ``vm`` to ``host``: one row per check, in the order the lab's checker runs them."""
    f = conn_or_facts if isinstance(conn_or_facts, Facts) else fetch(conn_or_facts, requirements_of=[vm])
    _known(vm, f.vms["vm"], "VM")
    _known(host, f.hosts["host"], "host")
    p = rules.pairs(f, [vm], [host])
    row = p.iloc[0]
    rows = []
    for rule in RULES:
        found = rule.find(p, f)
        errors, warnings = found[found["severity"] == "error"], found[found["severity"] == "warning"]
        status = "fail" if len(errors) else "warning" if len(warnings) else "pass"
        if status == "pass":
            reason = _why_pass(rule.name, row)
            fault = ""
        else:
            reason = "; ".join(found["reason"])
            fault = ", ".join(sorted(set(found["fault"])))
        rows.append({"check": rule.name, "status": status, "facts": _facts(rule.name, row, f), "reason": reason,
                     "remedy": rule.remedy if status != "pass" else "", "fault": fault})
    return pd.DataFrame(rows, columns=["check", "status", "facts", "reason", "remedy", "fault"])


#: the checks that look only at a vMotion of a powered-on VM, and those at a powered-on or suspended VM
HOT_ONLY = {"vMotion network", "vMotion link", "vMotion link capacity", "vMotion MTU", "memory"}
RUNNING_ONLY = {"CPU"}


def _why_pass(name: str, row) -> str:
    if not row["host_change"]:
        return "the VM is already on this host" if name != "storage" else "its datastores are mounted here"
    if (name in HOT_ONLY and not row["powered_on"]) or (name in RUNNING_ONLY and not row["running"]):
        return f"not checked: the VM is {row['powerState']} (a cold migration)"
    return "no problem found"


def _side(f: Facts, moid, name: str) -> str:
    """One host's vMotion adapters as the link checks see them: device, port group, MTU, best uplink."""
    v = f.vmotion_vnics[f.vmotion_vnics["host_moid"] == moid]
    if v.empty:
        return f"{name}: no vMotion adapter"
    return f"{name}: " + ", ".join(
        f"{r.device} on '{r.network}' MTU {r.mtu}, " + (f"best uplink {r.speedMb} Mb/s "
                                                       f"{'full' if r.fullDuplex else 'half'} duplex"
                                                       if r.uplinks else "no physical uplink")
        for r in v.itertuples())


def _facts(name: str, row, f: Facts) -> str:
    vm = row["vm"]
    if name == "host state":
        entering = bool(row.get("enteringMaintenanceMode", False))
        mode = "on" if row["inMaintenanceMode"] else "entering" if entering else "off"
        return f"{row['host']}: {row['connectionState']}, maintenance mode {mode}"
    if name == "vMotion network":
        src = f.hosts.set_index("moid").loc[row["host_moid"], "vmotionVnics"] if row["host_moid"] else []
        return (f"source {row['source']}: {', '.join(src) or 'none'}; "
                f"destination {row['host']}: {', '.join(row['vmotionVnics']) or 'none'}")
    if name in ("vMotion link", "vMotion link capacity", "vMotion MTU"):
        return (_side(f, row["host_moid"], f"source {row['source']}") + "; "
                + _side(f, row["host_moid_dest"], f"destination {row['host']}"))
    if name == "CPU":
        evc = row["currentEVCModeKey"] if isinstance(row["currentEVCModeKey"], str) else "no EVC mode"
        if row["requirements"] is None:
            return f"no CPU feature requirement recorded (the VM is {row['powerState']}); {row['host']}: {evc}"
        gone = rules.missing_features(row["requirements"], row["capabilities"])
        return (f"{len(row['requirements'])} features required, {len(row['requirements']) - len(gone)} exposed "
                f"by {row['host']} ({evc})")
    if name == "hardware version":
        limit = row["maxHardwareVersion"]
        return f"VM vmx-{row['hw']}; ESXi {row['version']} runs up to " + (f"vmx-{int(limit)}" if pd.notna(limit)
                                                                            else "an unknown version")
    if name == "devices":
        d = f.vm_devices[(f.vm_devices["vm"] == vm) & (f.vm_devices["block"] != "image")]
        return ", ".join(f"{r.label} ({r.block}, {'connected' if r.connected else 'not connected'})"
                         for r in d.itertuples()) or "no host, client or passthrough devices"
    if name == "device images":
        d = f.vm_devices[(f.vm_devices["vm"] == vm) & (f.vm_devices["block"] == "image")]
        mounted = set(f.mounts.loc[f.mounts["host_moid"] == row["host_moid_dest"], "datastore_moid"])
        return ", ".join(f"{r.label}: {r.backing} ({'connected' if r.connected else 'not connected'}; "
                         f"{r.datastore} {'mounted' if r.datastore_moid in mounted else 'not mounted'} on "
                         f"{row['host']})" for r in d.itertuples()) or "no ISO or floppy images"
    if name == "storage":
        ds = f.vm_datastores.loc[f.vm_datastores["vm"] == vm, "datastore"]
        return f"VM on {', '.join(sorted(ds)) or 'no datastore'}"
    if name == "networks":
        n = f.vm_nics[f.vm_nics["vm"] == vm]
        return ", ".join(f"{r.label}: {r.network}{' (distributed)' if r.distributed else ''}"
                         for r in n.itertuples()) or "no network adapters"
    if name == "virtual intranet":
        n = f.vm_nics[(f.vm_nics["vm"] == vm) & ~f.vm_nics["distributed"].astype(bool)]
        g = f.portgroups[f.portgroups["host_moid"] == row["host_moid"]].set_index("portgroup")
        return ", ".join(f"{r.label}: {r.network} on {row['source']}'s "
                         + (f"{g.loc[r.network, 'switch']} ({g.loc[r.network, 'uplinks']} uplinks)"
                            if r.network in g.index else "(no such port group)")
                         for r in n.itertuples()) or "no standard port groups"
    if name == "memory":
        free = row["memoryMB_dest"] - row["reservedMB"]
        return (f"VM reservation {row['reservationMB']} MB + overhead {row['demandMB'] - row['reservationMB']} MB "
                f"({row['memoryMB']} MB, {row['numCPU']} vCPUs); {row['host']} has {free} MB unreserved of "
                f"{row['memoryMB_dest']} MB")
    return ""


from . import charts  # noqa: E402  (charts and the explorer use check() above)
from .explorer import CheckExplorer  # noqa: E402
