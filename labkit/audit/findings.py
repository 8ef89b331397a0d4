"""The audit's findings: every pair's verdict beside vCenter's, every problem with its fix and source, the
devices that block, and where labkit and vCenter disagree. Pure: tables in, tables out.

* :func:`judge` runs labkit's rules (:mod:`labkit.compat.rules`) over every VM × host pair.
* :func:`pairs` lays out one row per pair: labkit's verdict and faults, and vCenter's where it was asked
  (``QueryVMotionCompatibilityEx_Task``), with ``agree`` as :func:`labkit.compat.compare` decides it (the same
  error and warning fault types); ``agree`` is None for a pair vCenter was not asked about.
* :func:`findings` has one row per problem of a blocked or warned pair, labkit's and vCenter's (a fault only
  vCenter reported is a row too, ``found_by`` "vcenter"), joined with ``datasets/fault_guide.csv`` (what the
  fault means, the fix, whether it is fixable while the VM runs, the source).
* :func:`by_fault` counts them per fault.
* :func:`disagreements` lists the pairs where labkit and vCenter differ, with what may explain it: the API
  reference says ``QueryVMotionCompatibilityEx_Task`` assumes every VM powered on and every host connected and
  not in maintenance mode (``QueryVMotionCompatibilityEx``, parameters ``vm`` and ``host``), while labkit judges
  them as they are.
* :func:`devices` lists the devices that block or may block a migration: host-backed CD-ROMs, serial and
  parallel ports and USB devices (``CannotAccessVmDevice``), images on a datastore not every host of the VM's
  cluster mounts, client devices and PCI passthrough (``DisallowedMigrationDeviceAttached``), each with the pairs
  it blocks or warns on.
"""
from __future__ import annotations

import pandas as pd

from .. import compat
from ..compat import rules
from ..troubleshoot import faults

SEVERITY_ORDER = {"error": 0, "warning": 1}
PAIR_COLUMNS = ["vm", "vm_cluster", "source_host", "power_state", "host", "host_cluster", "verdict", "errors",
                "warnings", "vcenter_asked", "vcenter_verdict", "vcenter_errors", "vcenter_warnings", "agree",
                "reasons", "vcenter_messages"]
FINDING_COLUMNS = ["vm", "host", "verdict", "severity", "check", "fault", "reason", "found_by", "vcenter_verdict",
                   "agree", "means", "fix", "fixable_live", "source"]
DEVICE_COLUMNS = ["vm", "cluster", "host", "device", "what", "block", "backing", "connected", "datastore",
                  "mounted_on", "fault", "blocked_hosts", "warned_hosts", "note", "fix", "source"]
ASSUMES = ("QueryVMotionCompatibilityEx_Task assumes every VM powered on and every host connected and not in "
           "maintenance mode (vSphere API reference); labkit judges {what} as it is")


def judge(facts, progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """labkit's rules over every VM × host pair: ``(issues, verdicts)``. ``issues``: one row per problem (vm,
    host, check, severity, fault, reason); ``verdicts``: one row per pair (vm, host, verdict, errors, warnings,
    reasons), as :func:`labkit.compat.matrix` gives them. ``progress()`` is called after each rule."""
    p = rules.pairs(facts)
    found = []
    for rule in rules.RULES:
        found.append(rule.find(p, facts))
        if progress is not None:
            progress()
    found = [f for f in found if not f.empty]
    issues = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=rules.ISSUE_COLUMNS)
    return issues, compat.verdicts(p, issues)


def _joined(values) -> list:
    """Each value a list: the value itself, or a new empty list where it is not one (NaN after a merge)."""
    values = values.tolist() if hasattr(values, "tolist") else values  # a plain list iterates much faster
    return [v if isinstance(v, list) else [] for v in values]


def pairs(verdicts: pd.DataFrame, facts, theirs: pd.DataFrame | None) -> pd.DataFrame:
    """One row per pair, sorted by VM then host: where the VM runs (``source_host``, ``vm_cluster``,
    ``power_state``), the destination's cluster, labkit's verdict and faults, and vCenter's (``vcenter_*``) with
    ``agree`` where ``theirs`` (compat.vcenter's layout) has the pair. Stand-alone hosts have cluster None."""
    vm = facts.vms.set_index("vm")
    cluster = dict(zip(facts.hosts["host"], facts.hosts["cluster"]))
    out = verdicts.copy()
    out["source_host"] = out["vm"].map(vm["host"])
    out["power_state"] = out["vm"].map(vm["powerState"])
    out["vm_cluster"] = out["source_host"].map(cluster)
    out["host_cluster"] = out["host"].map(cluster)
    if theirs is None or theirs.empty:
        out["vcenter_asked"] = False
        out["vcenter_verdict"], out["agree"], out["vcenter_messages"] = None, None, ""
        out["vcenter_errors"] = [[] for _ in range(len(out))]
        out["vcenter_warnings"] = [[] for _ in range(len(out))]
    else:
        asked = verdicts.merge(theirs[["vm", "host"]], on=["vm", "host"])
        both = compat.compare(asked, theirs)[["vm", "host", "verdict_vcenter", "errors_vcenter",
                                              "warnings_vcenter", "messages", "agree"]]
        out = out.merge(both, on=["vm", "host"], how="left")
        out["vcenter_asked"] = out["verdict_vcenter"].notna()
        out["vcenter_verdict"] = out["verdict_vcenter"].where(out["vcenter_asked"], None)
        out["vcenter_errors"] = _joined(out.pop("errors_vcenter"))
        out["vcenter_warnings"] = _joined(out.pop("warnings_vcenter"))
        out["agree"] = [bool(a) if asked else None for a, asked in zip(out["agree"], out["vcenter_asked"])]
        out["vcenter_messages"] = out.pop("messages").fillna("")
        out = out.drop(columns="verdict_vcenter")
    for col in ("vm_cluster", "host_cluster"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out[PAIR_COLUMNS].sort_values(["vm", "host"], kind="stable").reset_index(drop=True)


def findings(issues: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """One row per problem of a blocked or warned pair, labkit's (``found_by`` "labkit", or "both" when vCenter
    reported the same fault type at the same severity) and vCenter's alone ("vcenter"; ``check`` "vCenter",
    ``reason`` its message), with the fault guide's ``means``, ``fix``, ``fixable_live`` and ``source``. Sorted:
    errors first, then by fault, VM, host, check."""
    info = table.set_index(["vm", "host"])
    mine = issues.merge(table[["vm", "host", "verdict", "vcenter_asked", "vcenter_verdict", "vcenter_errors",
                               "vcenter_warnings", "agree"]], on=["vm", "host"], how="left")
    theirs = [set(e if s == "error" else w) for s, e, w in zip(mine["severity"], _joined(mine["vcenter_errors"]),
                                                                 _joined(mine["vcenter_warnings"]))]
    mine["found_by"] = ["both" if f in t else "labkit" for f, t in zip(mine["fault"], theirs)]
    extra = []
    asked = table[table["vcenter_asked"]]
    if len(asked):
        own = issues.groupby(["vm", "host", "severity"])["fault"].agg(set).to_dict() if len(issues) else {}
        for r in asked[(asked["vcenter_verdict"] != "ok")].itertuples():
            for severity, found in (("error", r.vcenter_errors), ("warning", r.vcenter_warnings)):
                for fault in sorted(set(found) - own.get((r.vm, r.host, severity), set())):
                    extra.append({"vm": r.vm, "host": r.host, "check": "vCenter", "severity": severity,
                                  "fault": fault, "reason": r.vcenter_messages or "(vCenter gave no message)",
                                  "found_by": "vcenter"})
    if extra:
        add = pd.DataFrame(extra)
        add["verdict"] = [info.loc[(v, h), "verdict"] for v, h in zip(add["vm"], add["host"])]
        add["vcenter_verdict"] = [info.loc[(v, h), "vcenter_verdict"] for v, h in zip(add["vm"], add["host"])]
        add["agree"] = False
        mine = pd.concat([mine, add], ignore_index=True)
    if mine.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    guide = faults.guide().set_index("fault")
    for col in ("means", "fix", "fixable_live", "source"):
        mine[col] = mine["fault"].map(guide[col]).fillna(
            "not in the course's fault guide: see the vSphere API reference for this fault" if col == "means" else "")
    mine["agree"] = [None if pd.isna(a) else bool(a) for a in mine["agree"]]
    mine["vcenter_verdict"] = mine["vcenter_verdict"].astype(object).where(mine["vcenter_verdict"].notna(), None)
    order = mine["severity"].map(SEVERITY_ORDER).fillna(2)
    mine = mine.assign(_o=order).sort_values(["_o", "fault", "vm", "host", "check", "reason"], kind="stable")
    return mine[FINDING_COLUMNS].reset_index(drop=True)


def by_fault(found: pd.DataFrame) -> pd.DataFrame:
    """Per fault and severity: how many pairs, VMs and destination hosts; of the pairs, how many labkit and
    vCenter both found, labkit alone (vCenter disagreed, or was not asked) and vCenter alone; what the fault
    means, the fix and the source. Errors first, then the most pairs."""
    cols = ["severity", "fault", "checks", "pairs", "vms", "hosts", "found_by_both", "found_by_labkit_only",
            "found_by_vcenter_only", "means", "fix", "source"]
    if found.empty:
        return pd.DataFrame(columns=cols)
    g = found.groupby(["severity", "fault"], sort=False)
    out = pd.DataFrame({
        "checks": g["check"].agg(lambda s: ", ".join(sorted(set(s)))),
        "pairs": found.drop_duplicates(["severity", "fault", "vm", "host"]).groupby(["severity", "fault"]).size(),
        "vms": g["vm"].nunique(), "hosts": g["host"].nunique(),
        **{f"found_by_{name}": found[found["found_by"] == by].drop_duplicates(["severity", "fault", "vm", "host"])
           .groupby(["severity", "fault"]).size() for by, name in (("both", "both"), ("labkit", "labkit_only"),
                                                                     ("vcenter", "vcenter_only"))},
        "means": g["means"].first(), "fix": g["fix"].first(), "source": g["source"].first(),
    }).fillna(0).reset_index()
    for col in ("found_by_both", "found_by_labkit_only", "found_by_vcenter_only"):
        out[col] = out[col].astype(int)
    out["_o"] = out["severity"].map(SEVERITY_ORDER).fillna(2)
    return out.sort_values(["_o", "pairs", "fault"], ascending=[True, False, True], kind="stable")[cols] \
        .reset_index(drop=True)


def disagreements(table: pd.DataFrame) -> pd.DataFrame:
    """The pairs vCenter was asked about where its fault types differ from labkit's, with ``note``: what may
    explain it (a VM not powered on, a destination not connected or in maintenance mode), or that nothing known
    does. Sorted by VM, host."""
    d = table[table["vcenter_asked"] & (table["agree"] == False)].copy()  # noqa: E712 (None is not False)
    notes = []
    for r in d.itertuples():
        if r.power_state != "poweredOn":
            notes.append(ASSUMES.format(what=f"the VM, {r.power_state},"))
        elif any(f in ("InvalidState", "InvalidHostConnectionState") for f in r.errors + r.vcenter_errors):
            notes.append(ASSUMES.format(what="the host"))
        else:
            notes.append("not explained by a documented difference: one of the two checks something the other does "
                         "not (compare the faults and vCenter's message)")
    d["note"] = notes
    return d[["vm", "host", "power_state", "verdict", "errors", "warnings", "vcenter_verdict", "vcenter_errors",
              "vcenter_warnings", "vcenter_messages", "note"]].reset_index(drop=True)


def _what(kind: str, block: str, backing: str) -> str:
    """A device in words: 'CD/DVD drive backed by a device of its host (/vmfs/devices/cdrom/...)'."""
    on = f" ({backing})" if backing else ""
    if block == "passthrough":
        return "PCI passthrough (DirectPath I/O) device" + on
    if block == "client":
        return f"{kind} connected to a device of the vSphere Client's machine"
    if kind == "USB device":
        return "USB device passed through from its host" + on
    return f"{kind} backed by a device of its host" + on


def devices(facts, issues: pd.DataFrame) -> pd.DataFrame:
    """The devices that block or may block a migration, one row each, by VM then device: what it is, where it
    runs, the pairs it blocks (``blocked_hosts``) or warns on (``warned_hosts``) per labkit's device rules, the
    fault and its fix and source from the fault guide. An image counts when its datastore is not mounted on every
    host of the VM's cluster (``mounted_on`` says where), or when it already blocks or warns on a pair; an image
    on the host's own file system is listed as not checked (not modelled)."""
    d = facts.vm_devices
    if d.empty:
        return pd.DataFrame(columns=DEVICE_COLUMNS)
    vm_host = dict(zip(facts.vms["vm"], facts.vms["host"]))
    host_cluster = dict(zip(facts.hosts["host"], facts.hosts["cluster"]))
    host_moid = dict(zip(facts.hosts["host"], facts.hosts["moid"]))
    members = facts.hosts.groupby(facts.hosts["cluster"].fillna(""))["moid"].agg(set).to_dict()
    mounted = facts.mounts.groupby("datastore_moid")["host_moid"].agg(set).to_dict()
    per_vm: dict[str, list] = {}
    if len(issues):
        dev = issues[issues["check"].isin(["devices", "device images"])]
        for vm, reason, severity, host, fault in zip(dev["vm"], dev["reason"], dev["severity"], dev["host"],
                                                     dev["fault"]):
            per_vm.setdefault(vm, []).append((reason, severity, host, fault))
    guide = faults.guide().set_index("fault")
    rows = []
    for r in d.sort_values(["vm", "label"], kind="stable").itertuples():
        mine = [i for i in per_vm.get(r.vm, []) if i[0].startswith(f"'{r.label}'")]
        if r.block == "client" and not r.connected and not mine:
            continue  # a client device blocks only while connected (labkit.compat.rules.devices)
        host = vm_host.get(r.vm)
        cluster = host_cluster.get(host)
        blocked = sorted(i[2] for i in mine if i[1] == "error")
        warned = sorted(i[2] for i in mine if i[1] == "warning")
        peers = members.get(cluster or "", {host_moid.get(host)})
        where, note = "", ""
        if r.block == "image":
            if not isinstance(r.datastore_moid, str):
                where, note = "the host's own file system", "not checked (not modelled): an image outside a datastore"
            else:
                on = mounted.get(r.datastore_moid, set())
                where = f"{len(on & peers)} of {len(peers)} hosts of {cluster or 'its host'}"
                if on >= peers and not mine:
                    continue  # an image every host of its cluster reaches blocks nothing there
            what = f"image {r.backing}" + (f" on datastore {r.datastore}" if isinstance(r.datastore, str) else "")
            fault = "CannotAccessVmDevice"
        else:
            what = _what(r.kind, r.block, r.backing)
            fault = "CannotAccessVmDevice" if r.block == "host" else "DisallowedMigrationDeviceAttached"
        if mine:
            fault = ", ".join(sorted({i[3] for i in mine}))
        elif not note:
            note = ("no pair affected now: " + ("it is not connected" if not r.connected else
                                                "the VM is not powered on" if r.block == "passthrough" else
                                                "no other host to move to"))
        first = fault.split(", ")[0]
        rows.append({"vm": r.vm, "cluster": cluster, "host": host, "device": r.label, "what": what, "block": r.block,
                     "backing": r.backing, "connected": bool(r.connected),
                     "datastore": r.datastore if isinstance(r.datastore, str) else None, "mounted_on": where,
                     "fault": fault, "blocked_hosts": blocked, "warned_hosts": warned, "note": note,
                     "fix": guide["fix"].get(first, ""), "source": guide["source"].get(first, "")})
    return pd.DataFrame(rows, columns=DEVICE_COLUMNS)
