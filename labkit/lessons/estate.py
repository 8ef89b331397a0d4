"""Exercises of notebooks/08-your-own-estate.ipynb, and the lesson's helpers: from vCenter's verdicts on a whole
estate to the few fixes worth making first.

The lesson's world is scenario ``captured-estate``: an enterprise estate captured with ``labkit capture`` and
anonymised (scripts/make-captured-estate.py made it). Its helpers work on any vCenter, lab or real, and only read:

- :func:`read` asks vCenter for its verdict on every VM and every other host (one
  ``QueryVMotionCompatibilityEx_Task``, which checks and changes nothing) and keeps each error with the object its
  fault names (the host without a vMotion adapter, the datastore not mounted, the network missing, the device). It
  asks about the whole estate in one task: for thousands of VMs, the audit's chunked and sampled read is the tool;
- :func:`fixes` groups those errors by the fix that clears them, with what the fix costs: whether it is made with
  the VMs running (the fault guide's ``fixable_live``, datasets/fault_guide.csv), how many objects it changes, and
  the downtime it needs;
- :func:`plan` ranks the fixes: at each step, among the fixes made live first, the one that frees the most VMs for
  each object it changes, counting what the fixes before it freed;
- :func:`compare` lines up the verdicts before and after fixes: the pairs that changed, the VMs freed.

A VM counts as **movable** when vCenter lets it move to every other host of its own cluster: the hosts DRS balances
it across and maintenance mode evacuates it to (vSphere Resource Management, "Migration Recommendations" and "Place
a Host in Maintenance Mode"). Moves out of a cluster are in the verdicts too, but no fix here is ranked for them.

Every check judges the lab world as vCenter reports it now; none compares the answer with a stored value.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re

import ipywidgets as w
import pandas as pd
from pyVmomi import vim

from .. import inventory, labapi, readonly, scenarios
from ..collector import retrieve
from ..exercises import WrongType, exercise
from ..tasks import wait_for_task
from ..troubleshoot import explain
from ..vmkping import vmkping
from ..widgets import ControlPanel

#: the lesson's lab world
WORLD = "captured-estate"
ERROR_COLUMNS = ["vm", "source", "host", "cluster", "in_cluster", "power", "fault", "detail", "fix", "object"]
VM_COLUMNS = ["vm", "cluster", "host", "power", "datastores", "networks"]


# -- vCenter's verdicts, each error with the object it names ----------------------------------------------------------
@dataclasses.dataclass
class Verdicts:
    """vCenter's verdicts on moving every VM to every other host, read at one moment.

    ``vms``: one row per VM (cluster, host, power state, datastores, networks). ``pairs``: one row per VM and other
    host (``in_cluster`` when both hosts are in one cluster; ``verdict`` ok, warning or blocked; the ``errors`` and
    ``warnings`` fault types). ``errors``: one row per error, with ``detail`` (what the fault's own fields say),
    ``fix`` (the fix that clears it, see :func:`fixes`) and ``object`` (the host, datastore, network, device or VM
    that fix changes). ``world`` is the lab world it was read in (None on a real vCenter), ``changed_by_then`` the
    methods that change something the lab had served since it was built, when this was read (None on a real vCenter).
    """

    vms: pd.DataFrame
    pairs: pd.DataFrame
    errors: pd.DataFrame
    clusters: pd.DataFrame
    world: object = None
    changed_by_then: list | None = None  # on a lab world: the changing methods it had served when this was read

    def __repr__(self) -> str:
        inside = self.pairs[self.pairs["in_cluster"]]
        return (f"Verdicts: {len(self.vms)} VMs, {len(self.pairs)} moves to another host, "
                f"{(self.pairs['verdict'] == 'blocked').sum()} refused; inside a cluster {len(inside)} moves, "
                f"{(inside['verdict'] == 'blocked').sum()} refused; {len(movable(self))} of "
                f"{self.vms['cluster'].notna().sum()} VMs in clusters movable")


def _fault_name(fault) -> str:
    return type(fault).__name__.split(".")[-1]


_IMAGE = re.compile(r"^\[([^\]]+)\]")


def _attribute(fault, vm: str, source: str, host: str, cluster_of: dict, switch_of: dict) -> tuple[str, str, str]:
    """(detail, fix, object) of one error: what its fields say, the fix that clears it, the object that fix changes.

    The fix is named by the object the fault itself names, so that the errors one change clears share one fix:
    ``vmotion:host-03`` (``VMotionNotConfigured.failedHost``), ``mount:ds-04`` (``DatastoreNotWritableOnHost.name``),
    ``portgroup:net-02`` or ``dvs:switch-01`` (``CannotAccessNetwork.backing``), ``images:ds-01`` or
    ``host-devices`` (``CannotAccessVmDevice.backing``), ``evc:cluster-02`` (``FeatureRequirementsNotMet``: the
    destination's cluster), ``upgrade:cluster-02`` (``VirtualHardwareVersionNotSupported``: its hosts).
    """
    kind = _fault_name(fault)
    dest_cluster = cluster_of.get(host) or host
    if isinstance(fault, vim.fault.VMotionInterfaceIssue):
        failed = getattr(fault, "failedHost", None) or (source if getattr(fault, "atSourceHost", False) else host)
        side = "source" if getattr(fault, "atSourceHost", False) else "destination"
        prefix = {"VMotionNotConfigured": "vmotion", "VMotionLinkDown": "uplink",
                  "VMotionNotLicensed": "licence"}.get(kind, kind)
        return f"{side} host {failed}", f"{prefix}:{failed}", failed
    if kind == "DatastoreNotWritableOnHost":
        ds = getattr(fault, "name", "") or "?"
        return f"datastore {ds} not on {host}", f"mount:{ds}", host
    if kind in ("CannotAccessNetwork", "VMOnVirtualIntranet"):
        net = getattr(fault, "backing", "") or "?"
        if kind == "CannotAccessNetwork" and switch_of.get(net):
            return f"{net} (switch {switch_of[net]}) not on {host}", f"dvs:{switch_of[net]}", host
        if kind == "VMOnVirtualIntranet":
            return f"{net} has no uplink on {source}", f"uplink:{net}", source
        return f"port group {net} not on {host}", f"portgroup:{net}", host
    if kind == "CannotAccessVmDevice":
        backing = getattr(fault, "backing", "") or ""
        image = _IMAGE.match(backing)
        detail = f"{getattr(fault, 'device', '?')} on {backing}"
        return (detail, f"images:{image.group(1)}", vm) if image else (detail, "host-devices", vm)
    if kind == "DisallowedMigrationDeviceAttached":
        sub = _fault_name(getattr(fault, "fault", None)) if getattr(fault, "fault", None) is not None else ""
        return sub, ("client-devices" if sub == "RemoteDeviceNotSupported" else f"passthrough:{vm}"), vm
    if kind == "FeatureRequirementsNotMet":
        return f"{host}'s CPU lacks features {vm} runs with", f"evc:{dest_cluster}", vm
    if kind == "VirtualHardwareVersionNotSupported":
        return f"{host}'s ESXi does not run the VM's hardware version", f"upgrade:{dest_cluster}", host
    if kind in ("InvalidState", "InvalidHostConnectionState"):
        return f"host {host}", f"host-state:{host}", host
    if kind == "InsufficientMemoryResourcesFault":
        return f"memory of {host}", f"memory:{host}", host
    return "", f"{kind}:{host}", host


def _changes_so_far(session) -> list | None:
    """On a lab world, the methods that change something (:mod:`labkit.readonly`) it served since it started, in
    any session: the launcher builds the world inside its own process, so the log holds clients' calls only."""
    if getattr(session, "world", None) is None:
        return None
    methods, _ = labapi.served_methods(session)
    return readonly.violations(methods)


def read(session) -> Verdicts:
    """vCenter's verdict on moving every VM to every other host, from one ``QueryVMotionCompatibilityEx_Task``.

    Reads only: the inventory (PropertyCollector) and the check, which "can answer questions about the feasibility
    of certain provisioning operations" and changes nothing (vSphere API reference, VirtualMachineProvisioningChecker).
    """
    vms, hosts = inventory.vms(session), inventory.hosts(session)
    nets = inventory.networks(session)
    clusters = inventory.clusters(session)
    cluster_of = {h: (c if isinstance(c, str) and c else None) for h, c in zip(hosts["name"], hosts["cluster"])}
    switch_of = {n: s for n, s in zip(nets["name"], nets["switch"]) if isinstance(s, str) and s}
    got = retrieve(session.content, {vim.VirtualMachine: ["name", "config.template"], vim.HostSystem: ["name"]})
    vm_objs = {p["name"]: o for o, p in got[vim.VirtualMachine] if not p.get("config.template")}
    host_objs = {p["name"]: o for o, p in got[vim.HostSystem]}
    task = session.content.vmProvisioningChecker.QueryVMotionCompatibilityEx_Task(
        vm=[vm_objs[n] for n in sorted(vm_objs)], host=[host_objs[n] for n in sorted(host_objs)])
    results = wait_for_task(session, task, progress=False) or []
    names = {o._moId: n for n, o in {**vm_objs, **host_objs}.items()}
    where = dict(zip(vms["name"], vms["host"]))
    power = dict(zip(vms["name"], vms["powerState"]))
    pair_rows, error_rows = [], []
    for r in results:
        vm, host = names[r.vm._moId], names[r.host._moId]
        source = where.get(vm)
        if host == source:
            continue
        inside = cluster_of.get(source) is not None and cluster_of.get(source) == cluster_of.get(host)
        errors = sorted(_fault_name(e) for e in r.error or [])
        warnings = sorted(_fault_name(x) for x in r.warning or [])
        pair_rows.append({"vm": vm, "source": source, "host": host, "in_cluster": inside,
                          "verdict": "blocked" if errors else "warning" if warnings else "ok",
                          "errors": errors, "warnings": warnings})
        for e in r.error or []:
            detail, fix, obj = _attribute(e, vm, source, host, cluster_of, switch_of)
            error_rows.append({"vm": vm, "source": source, "host": host, "cluster": cluster_of.get(source),
                               "in_cluster": inside, "power": power.get(vm), "fault": _fault_name(e),
                               "detail": detail, "fix": fix, "object": obj})
    table = pd.DataFrame({"vm": vms["name"], "cluster": vms["host"].map(cluster_of), "host": vms["host"],
                          "power": vms["powerState"], "datastores": vms["datastore"], "networks": vms["network"]})
    pairs = pd.DataFrame(pair_rows, columns=["vm", "source", "host", "in_cluster", "verdict", "errors", "warnings"])
    errors = pd.DataFrame(error_rows, columns=ERROR_COLUMNS)
    return Verdicts(vms=table.sort_values("vm").reset_index(drop=True),
                    pairs=pairs.sort_values(["vm", "host"]).reset_index(drop=True),
                    errors=errors.sort_values(["vm", "host", "fault"]).reset_index(drop=True),
                    clusters=clusters[["name", "hosts", "currentEVCModeKey"]].rename(columns={"name": "cluster"}),
                    world=getattr(session, "world", None), changed_by_then=_changes_so_far(session))


def privilege(method: str) -> str:
    """The privilege the vSphere API requires to call ``method`` (a SOAP method name such as
    ``"QueryVMotionCompatibilityEx_Task"``), as pyVmomi's type information records it; "" for a method it does not
    know or records none for (``MigrateVM_Task``'s privileges depend on the VM's power state and the move)."""
    from pyVmomi import VmomiSupport

    try:
        found = VmomiSupport.GuessWsdlMethod(method)
    except (KeyError, AttributeError, TypeError):
        return ""
    return str(getattr(getattr(found, "info", None), "privId", "") or "")


# -- what the estate looks like ----------------------------------------------------------------------------------------
def _in_cluster(v: Verdicts, without=()) -> pd.DataFrame:
    e = v.errors[v.errors["in_cluster"]]
    return e[~e["fix"].isin(list(without))] if without else e


def movable(v: Verdicts, without=()) -> list[str]:
    """The VMs in a cluster that vCenter lets move to every other host of their cluster; with ``without`` (fix
    names), as if those fixes were made: their errors gone, every other error as it is."""
    clustered = v.vms.loc[v.vms["cluster"].notna(), "vm"]
    stuck = set(_in_cluster(v, without)["vm"])
    return sorted(set(clustered) - stuck)


def readiness(v: Verdicts) -> pd.DataFrame:
    """Per cluster: VMs, how many are movable, the moves inside it and how many vCenter refuses."""
    free = set(movable(v))
    rows = []
    for cluster in sorted(v.vms["cluster"].dropna().unique()):
        vms = v.vms[v.vms["cluster"] == cluster]
        pairs = v.pairs[v.pairs["in_cluster"] & v.pairs["vm"].isin(vms["vm"])]
        n_free = sum(vm in free for vm in vms["vm"])
        rows.append({"cluster": cluster, "VMs": len(vms), "movable VMs": n_free,
                     "movable %": round(100 * n_free / len(vms)) if len(vms) else 0,
                     "moves": len(pairs), "refused moves": int((pairs["verdict"] == "blocked").sum())})
    return pd.DataFrame(rows, columns=["cluster", "VMs", "movable VMs", "movable %", "moves", "refused moves"])


def by_fault(v: Verdicts) -> pd.DataFrame:
    """Per fault type: the moves it refuses, of all and inside a cluster (a move refused for two reasons counts
    under each), and the VMs it touches; most refused moves inside a cluster first."""
    e = v.errors.drop_duplicates(["vm", "host", "fault"])
    rows = []
    for fault, g in e.groupby("fault"):
        inside = g[g["in_cluster"]]
        rows.append({"fault": fault, "refused moves": len(g), "inside a cluster": len(inside),
                     "VMs (inside a cluster)": inside["vm"].nunique()})
    out = pd.DataFrame(rows, columns=["fault", "refused moves", "inside a cluster", "VMs (inside a cluster)"])
    return out.sort_values(["inside a cluster", "refused moves", "fault"], ascending=[False, False, True],
                           kind="stable").reset_index(drop=True)


# -- fixes and what they cost ------------------------------------------------------------------------------------------
_WHAT = {
    "vmotion": "add a vMotion VMkernel adapter on {objects}",
    "mount": "mount datastore {name} on {objects}",
    "portgroup": "add port group {name} on {objects}",
    "dvs": "add {objects} to distributed switch {name}",
    "images": "disconnect the CD-ROMs whose ISO image is on {name}, a datastore not every host mounts: {objects}",
    "host-devices": "disconnect the devices backed by a host's own hardware: {objects}",
    "client-devices": "disconnect the devices of a client's machine: {objects}",
    "evc": "EVC on {name} at its oldest hosts' CPU, then power-cycle the VMs running above it: {objects}",
    "upgrade": "upgrade ESXi on {objects} (maintenance mode, install, reboot, one host at a time)",
    "host-state": "take {name} out of maintenance mode or reconnect it",
    "memory": "free memory on {name}",
    "uplink": "give the vMotion adapter's switch on {name} a physical uplink",
    "licence": "license vMotion on {name}",
    "passthrough": "remove the passthrough device of {name}, or power it off to move it",
}
#: the fault whose guide row says whether a fix is made live (datasets/fault_guide.csv, fixable_live)
_FAULT_OF = {"vmotion": "VMotionNotConfigured", "mount": "DatastoreNotWritableOnHost", "portgroup": "CannotAccessNetwork",
             "dvs": "CannotAccessNetwork", "images": "CannotAccessVmDevice", "host-devices": "CannotAccessVmDevice",
             "client-devices": "DisallowedMigrationDeviceAttached", "evc": "FeatureRequirementsNotMet",
             "upgrade": "VirtualHardwareVersionNotSupported", "host-state": "InvalidState",
             "memory": "InsufficientMemoryResourcesFault", "uplink": "VMotionLinkDown", "licence": "VMotionNotLicensed"}
FIX_COLUMNS = ["fix", "fault", "what", "live", "changes", "downtime", "refused moves", "VMs"]


def _is_live(kind: str) -> bool:
    if kind == "passthrough":  # "client device: yes; passthrough: no" (the guide's DisallowedMigrationDeviceAttached)
        return False
    fault = _FAULT_OF.get(kind)
    return bool(fault) and explain(fault)["fixable_live"].strip().lower().startswith("yes")


def fixes(v: Verdicts) -> pd.DataFrame:
    """One row per fix of the moves vCenter refuses inside a cluster: the fault it clears, what it is, whether it is
    made with the VMs running (``live``), the objects it changes (``changes``: hosts, VMs, a cluster), the
    ``downtime`` it needs, the refused moves it is part of and the VMs they concern. Sorted by fix."""
    e = _in_cluster(v)
    rows = []
    for fix, g in e.groupby("fix"):
        kind, _, name = fix.partition(":")
        objects = sorted(set(g["object"]))
        changes, downtime = len(objects), "none"
        if kind == "evc":  # the cluster's mode, and a power cycle of each VM running above it
            changes, downtime = 1 + len(objects), f"{len(objects)} VMs powered off and on"
        elif kind == "upgrade":
            downtime = f"{len(objects)} hosts in maintenance mode and rebooted"
        elif kind == "passthrough":
            downtime = "the VM powered off for each move"
        rows.append({"fix": fix, "fault": ", ".join(sorted(set(g["fault"]))),
                     "what": _WHAT.get(kind, "{name}: see the fault guide").format(name=name or "", objects=", ".join(objects)),
                     "live": _is_live(kind), "changes": changes, "downtime": downtime,
                     "refused moves": g[["vm", "host"]].drop_duplicates().shape[0], "VMs": g["vm"].nunique()})
    return pd.DataFrame(rows, columns=FIX_COLUMNS).sort_values("fix").reset_index(drop=True)


PLAN_COLUMNS = ["step", "fix", "live", "changes", "frees", "frees alone", "movable after", "what"]


def plan(v: Verdicts) -> pd.DataFrame:
    """Every fix in the order to make them: fixes made live first; at each step the one that frees the most VMs for
    each object it changes (``frees / changes``), counting the VMs the fixes before it freed; then fewer changes,
    then the fix's name. ``frees`` is what the step adds, ``frees alone`` what the fix would free by itself,
    ``movable after`` the movable VMs once the step is made."""
    table = fixes(v).set_index("fix")
    done: list[str] = []
    base = len(movable(v))
    rows = []
    left = list(table.index)
    while left:
        now = len(movable(v, done))

        def key(fix, now=now):
            gain = len(movable(v, [*done, fix])) - now
            return (not table.loc[fix, "live"], -gain / table.loc[fix, "changes"], table.loc[fix, "changes"], fix)

        best = min(left, key=key)
        left.remove(best)
        done.append(best)
        after = len(movable(v, done))
        rows.append({"step": len(done), "fix": best, "live": bool(table.loc[best, "live"]),
                     "changes": int(table.loc[best, "changes"]), "frees": after - now,
                     "frees alone": len(movable(v, [best])) - base, "movable after": after,
                     "what": table.loc[best, "what"]})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def cheapest(v: Verdicts, n: int = 3) -> list[str]:
    """The first ``n`` fixes of :func:`plan` that are made live."""
    p = plan(v)
    return p.loc[p["live"], "fix"].head(n).tolist()


def plan_figure(p: pd.DataFrame, total: int, title: str = "The fixes in order: VMs each frees, and movable VMs after"):
    """Bars: the VMs each step of :func:`plan` frees (blue made live, red with downtime); line: movable VMs after
    each step, out of ``total`` VMs in clusters."""
    import plotly.graph_objects as go

    from ..plots import whole_axis

    top = max(1, int(p["frees"].max())) if len(p) else 1
    fig = go.Figure()
    colours = ["#1f77b4" if live else "#d62728" for live in p["live"]]
    labels = [f"{s}. {f}" for s, f in zip(p["step"], p["fix"])]
    fig.add_bar(x=labels, y=p["frees"], marker_color=colours, name="VMs the step frees",
                text=[f"{c} change{'s' * (c != 1)}" for c in p["changes"]], textposition="outside",
                hovertext=p["what"])
    fig.add_scatter(x=labels, y=p["movable after"], mode="lines+markers", name="movable VMs after the step",
                    yaxis="y2", line={"color": "#2ca02c"})
    fig.update_layout(title=title, xaxis_title="fix, in the plan's order (blue: made live; red: needs downtime)",
                      yaxis={"title": "VMs freed by the step", "range": [0, top * 1.3], **whole_axis(top * 1.3, 6)},
                      yaxis2={"title": f"movable VMs (of {total})", "overlaying": "y", "side": "right",
                              "range": [0, total * 1.3], "showgrid": False, **whole_axis(total * 1.3, 6)},
                      legend={"orientation": "h", "y": -0.35}, margin={"b": 150}, height=480)
    return fig


def describe_plan(p: pd.DataFrame) -> str:
    """The plan in one line per step (what a test or a printed cell checks of the chart)."""
    return "\n".join(f"{r['step']}. {r['fix']} ({'live' if r['live'] else 'downtime'}, {r['changes']} change"
                     f"{'s' * (r['changes'] != 1)}): frees {r['frees']} VM{'s' * (r['frees'] != 1)}, "
                     f"{r['movable after']} movable after" for r in p.to_dict("records"))


def readiness_figure(v: Verdicts, without=(), title: str | None = None):
    """Per cluster, movable and stuck VMs (with ``without``: as if those fixes were made)."""
    import plotly.graph_objects as go

    from ..plots import whole_axis

    free = set(movable(v, without))
    clusters = sorted(v.vms["cluster"].dropna().unique())
    members = {c: v.vms.loc[v.vms["cluster"] == c, "vm"] for c in clusters}
    fig = go.Figure()
    fig.add_bar(x=clusters, y=[sum(m in free for m in members[c]) for c in clusters], name="movable",
                marker_color="#2ca02c")
    fig.add_bar(x=clusters, y=[sum(m not in free for m in members[c]) for c in clusters],
                name="refused a move inside its cluster", marker_color="#d62728")
    most = max((len(m) for m in members.values()), default=1)
    fig.update_layout(barmode="stack", title=title or "VMs that can move to every other host of their cluster",
                      xaxis_title="cluster", yaxis={"title": "VMs", "range": [0, most * 1.05], **whole_axis(most)},
                      height=380, legend={"orientation": "h", "y": -0.25})
    return fig


# -- before and after -------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Proof:
    """Verdicts before and after fixes (:func:`compare`): ``changed`` (the moves whose verdict changed),
    ``freed`` (VMs movable after, not before), the fixes whose errors are gone (``fixed``)."""

    before: Verdicts
    after: Verdicts
    changed: pd.DataFrame
    freed: list
    fixed: list
    world: object = None

    def describe(self) -> str:
        b, a = len(movable(self.before)), len(movable(self.after))
        return (f"{len(self.changed)} moves changed verdict; movable VMs {b} -> {a} (+{len(self.freed)}); "
                f"fixes whose errors are gone: {', '.join(self.fixed) or 'none'}")

    def __repr__(self) -> str:
        return self.describe()


def compare(before: Verdicts, after: Verdicts) -> Proof:
    """The moves whose verdict changed between two reads of one world, and the VMs and fixes that changed."""
    if not isinstance(before, Verdicts) or not isinstance(after, Verdicts):
        raise TypeError("compare(before, after) takes two estate.read(session) results")
    both = before.pairs.merge(after.pairs, on=["vm", "host"], how="inner", suffixes=(" before", " after"))
    changed = both[both["verdict before"] != both["verdict after"]]
    changed = changed[["vm", "host", "in_cluster before", "verdict before", "errors before", "verdict after"]].rename(
        columns={"in_cluster before": "in_cluster", "errors before": "errors before"})
    gone = sorted(set(_in_cluster(before)["fix"]) - set(_in_cluster(after)["fix"]))
    freed = sorted(set(movable(after)) - set(movable(before)))
    return Proof(before, after, changed.reset_index(drop=True), freed, gone, world=after.world)


# -- the explorer ------------------------------------------------------------------------------------------------------
class FixExplorer(ControlPanel):
    """Tick fixes; see how many VMs become movable, in each cluster, and what the chosen fixes cost."""

    def __init__(self, v: Verdicts):
        self.v = v
        self.table = fixes(v).set_index("fix")
        controls = {fix: w.Checkbox(value=False, description=f"{fix} ({'live' if r.live else 'downtime'}, "
                                    f"{r.changes} change{'s' * (r.changes != 1)})", indent=False,
                                    layout=w.Layout(width="560px"))
                    for fix, r in self.table.iterrows()}
        self._wire(controls)

    def chosen(self) -> list[str]:
        return [fix for fix, box in self.controls.items() if box.value]

    def outcome(self) -> dict:
        """The chosen fixes: objects changed, fixes needing downtime, movable VMs (of those in clusters)."""
        chosen = self.chosen()
        return {"fixes": chosen, "changes": int(self.table.loc[chosen, "changes"].sum()) if chosen else 0,
                "downtime": [f for f in chosen if not self.table.loc[f, "live"]],
                "movable": len(movable(self.v, chosen)), "of": int(self.v.vms["cluster"].notna().sum())}

    def refresh(self) -> None:
        o = self.outcome()
        self.summary.value = (f"<b>{o['movable']} of {o['of']} VMs movable</b> with {len(o['fixes'])} fixes, "
                              f"{o['changes']} objects changed; downtime for: {', '.join(o['downtime']) or 'none'}")
        fig = readiness_figure(self.v, o["fixes"])
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                                         "text/plain": repr(self)}},)

    def __repr__(self) -> str:
        o = self.outcome()
        return (f"FixExplorer({len(self.controls)} fixes, {len(o['fixes'])} chosen): {o['movable']} of {o['of']} VMs "
                f"movable, {o['changes']} objects changed, {len(o['downtime'])} fixes with downtime")


# -- exercise 1: the fault that refuses the most moves inside a cluster ------------------------------------------------
def _fault_answer(answer) -> str:
    if not isinstance(answer, str):
        raise WrongType("answer with the fault's type name as text, such as 'InvalidState'")
    return answer.strip().split(".")[-1]


@exercise("08.top-fault", "the fault that refuses the most moves inside a cluster", world=WORLD, points=1, hints=(
    ("Count the moves inside a cluster, not all moves: in verdicts.csv keep the rows whose vm_cluster equals their "
     "host_cluster (the stand-alone host's VMs have none), then count the faults of vcenter_errors."),
    ("vcenter_errors joins a pair's faults with ';': split it, make each pair's faults a set, explode and count "
     "(pandas: .str.split(';').map(set).explode().value_counts())."),
))
def top_fault(answer, session):
    name = _fault_answer(answer)
    table = by_fault(read(session))
    if table.empty:
        return "vCenter refuses no move in the lab world now"
    counts = dict(zip(table["fault"], table["inside a cluster"]))
    overall = table.sort_values("refused moves", ascending=False, kind="stable").iloc[0]["fault"]
    if name not in counts:
        return (f"vCenter reports no {name} for any move in the lab world now (if you have made fixes since the audit, "
                "re-run the connect cell and the cells after it)")
    if counts[name] == max(counts.values()):
        return True
    if name == overall:
        return (f"{name} refuses the most moves of all, but most of them leave a cluster, by design; count the moves "
                "inside a cluster")
    return f"{name} refuses {counts[name]} moves inside a cluster; another fault refuses more"


# -- exercise 2: the three cheapest fixes -----------------------------------------------------------------------------
def _fix_names(answer) -> list[str]:
    if isinstance(answer, (str, bytes)) or not isinstance(answer, (list, tuple, pd.Series)):
        raise WrongType("answer with a list of three fix names, in order, such as ['vmotion:host-99', ...]")
    names = [str(a).strip() for a in (answer.tolist() if isinstance(answer, pd.Series) else answer)]
    return names


@exercise("08.cheapest", "the three cheapest fixes, ranked", world=WORLD, points=2, hints=(
    ("Fixes made with the VMs running come first. Among them, take at each step the fix that frees the most VMs for "
     "each object it changes, counting the VMs the fixes before it already freed."),
    ("estate.movable(before, without=[...]) counts the movable VMs as if those fixes were made: try each live fix "
     "after the ones you have chosen, and divide what it adds by its changes (estate.fixes(before))."),
    "Answer with the first three fixes of the plan that are made live, as a list of their names, in order.",
))
def cheapest_three(answer, session):
    names = _fix_names(answer)
    if len(names) != 3:
        return f"name three fixes, not {len(names)}"
    v = read(session)
    table = fixes(v).set_index("fix")
    for name in names:
        if name not in table.index:
            return (f"the fix '{name}' clears no refused move inside a cluster in the lab world now (estate.fixes lists those "
                    "that do; if you have made fixes already, re-run the connect cell and the audit)")
        if not table.loc[name, "live"]:
            return f"the fix {name} needs downtime ({table.loc[name, 'downtime']}); the cheapest fixes are made live"
    if len(set(names)) != 3:
        return "name three different fixes"
    right = cheapest(v, 3)
    if names == right:
        return True
    wrong = [n for n in names if n not in right]
    if wrong:
        return f"the fix {wrong[0]} is not among the three cheapest: another live fix frees more VMs for each object it changes"
    return "the right three fixes, in another order: rank them step by step, counting what the fixes before freed"


# -- exercise 3: the fixes made, and proven by vCenter's verdicts ------------------------------------------------------
def _pristine_vms() -> dict:
    """Each VM of the scenario as the world started: (host, power state, datastore)."""
    return {v["name"]: (v["host"], v["powerState"], v["datastore"]) for v in scenarios.compile(WORLD)["vms"]}


def _vmotion_nics(session, host: str) -> list:
    esx = inventory.find(session, host, "HostSystem")
    selected = set()
    for nc in esx.config.virtualNicManagerInfo.netConfig or []:
        if nc.nicType == "vmotion":
            keys = {c.key: c.device for c in nc.candidateVnic or []}
            selected |= {keys.get(k, k.rsplit("VirtualNic-", 1)[-1]) for k in nc.selectedVnic or []}
    return [n for n in esx.config.network.vnic or [] if n.device in selected]


def _vmotion_problem(session, host: str, peers: list[str]) -> str | None:
    """Why ``host``'s new vMotion adapter would fail in flight although vCenter's checks pass (lesson 07), or None."""
    mine = _vmotion_nics(session, host)
    others = [(p, n) for p in peers for n in _vmotion_nics(session, p)]
    if not mine or not others:
        return None  # vCenter's verdicts say so already
    nic = mine[0]
    ip = nic.spec.ip
    peer_host, peer = others[0]
    net = ipaddress.IPv4Network(f"{peer.spec.ip.ipAddress}/{peer.spec.ip.subnetMask}", strict=False)
    if ip is None or ip.dhcp or not ip.ipAddress:
        return f"host {host}'s vMotion adapter {nic.device} has no fixed address in the vMotion subnet {net}"
    if ipaddress.IPv4Address(ip.ipAddress) not in net:
        return (f"host {host}'s vMotion adapter {nic.device} ({ip.ipAddress}) is outside the other hosts' vMotion "
                f"subnet {net}: vCenter's check passes, but migrations would fail in flight (lesson 07)")
    used = {n.spec.ip.ipAddress: p for p, n in others}
    if ip.ipAddress in used:
        return f"host {host}'s vMotion adapter has {ip.ipAddress}, the address of {used[ip.ipAddress]}'s"
    if (nic.spec.mtu or 1500) != (peer.spec.mtu or 1500):
        return (f"host {host}'s vMotion adapter has MTU {nic.spec.mtu}, the others {peer.spec.mtu}: one MTU along the "
                "path (lesson 07)")
    if not vmkping(session, host, peer.spec.ip.ipAddress, interface=nic.device, count=1).ok:
        return f"a vmkping from {host}'s vMotion adapter to {peer_host}'s gets no reply"
    return None


def _portgroup_problem(session, net: str) -> str | None:
    """A standard port group added with another VLAN or switch than the hosts that had it: the check passes on the
    name alone, but the VMs would lose their network."""
    found = {}
    for _, props in retrieve(session.content, {vim.HostSystem: ["name", "config.network.portgroup"]})[vim.HostSystem]:
        for pg in props.get("config.network.portgroup") or []:
            if pg.spec.name == net:
                found[props["name"]] = (pg.spec.vlanId, pg.spec.vswitchName)
    if len(set(found.values())) > 1:
        common = max(set(found.values()), key=list(found.values()).count)
        odd = sorted(h for h, spec in found.items() if spec != common)
        return (f"on host {odd[0]}, port group {net} has VLAN {found[odd[0]][0]} on {found[odd[0]][1]}, where the other "
                f"hosts have VLAN {common[0]} on {common[1]}: vCenter's check passes on the name alone, but the VMs "
                "would lose their network (hostconfig.remove_port_group, then add it again)")
    return None


@exercise("08.prove", "the three cheapest fixes made live, proven by vCenter's verdicts", world=WORLD, points=3, hints=(
    ("Make each of the three fixes through the API (hostconfig: add_port_group, add_vmkernel_adapter and "
     "enable_service; mount_nfs; add_port_group), then read the verdicts again and compare them with the audit's."),
    ("Change nothing else: no VM powered off or moved, no device disconnected, no EVC. A new vMotion adapter needs a "
     "free address in the other adapters' subnet and their MTU; a new port group the VLAN it has on the other hosts."),
    "Answer with estate.compare(before, after): before is the audit's estate.read, after a read made after the fixes.",
))
def prove(answer, session):
    if not isinstance(answer, Proof):
        raise WrongType("answer with estate.compare(before, after), the verdicts before and after the fixes")
    now = read(session)
    pristine = _pristine_vms()
    before = {r.vm: (r.host, r.power) for r in answer.before.vms.itertuples()}
    if answer.before.changed_by_then or any(before.get(vm) != (host, power) for vm, (host, power, _) in pristine.items()):
        return ("your 'before' is not the world as it started: it must be read before the first fix (re-run the connect "
                "cell and the cells after it, then make the fixes again)")
    stores = {r.vm: sorted(r.datastores) for r in answer.before.vms.itertuples()}
    for r in now.vms.itertuples():
        host, power, _ = pristine[r.vm]
        if r.power != power:
            return (f"VM {r.vm} is {r.power} now, {power} before: a fix that stops VMs is not made live (re-run the "
                    "connect cell and the cells after it for the world as it was)")
        if r.host != host or sorted(r.datastores) != stores.get(r.vm):
            return f"VM {r.vm} moved: the exercise asks for the fixes, not for moving VMs (move it back where it was)"
    if sorted(map(tuple, now.errors.drop(columns=["detail"]).astype(str).values.tolist())) != \
            sorted(map(tuple, answer.after.errors.drop(columns=["detail"]).astype(str).values.tolist())):
        return "your 'after' is not what vCenter says now: read the verdicts again after the last fix"
    three = cheapest(answer.before, 3)
    gone = set(_in_cluster(answer.before)["fix"]) - set(_in_cluster(now)["fix"])
    missing = [f for f in three if f not in gone]
    if missing:
        faults = sorted(set(_in_cluster(now).loc[lambda e: e["fix"].isin(missing), "fault"]))
        one = len(missing) == 1
        return (f"{len(missing)} of the 3 cheapest fixes {'is' if one else 'are'} not made yet: vCenter still reports "
                f"{', '.join(faults)} for moves inside a cluster that {'it clears' if one else 'they clear'}")
    # every other error vCenter reported before is still there, and no new one: nothing else was changed
    def others(v: Verdicts) -> set:
        e = v.errors[~v.errors["fix"].isin(three)]
        return set(zip(e["vm"], e["host"], e["fault"], e["fix"]))

    was, now_others = others(answer.before), others(now)
    cleared = sorted(was - now_others, key=lambda r: (r[3], r[0], r[1]))
    if cleared:
        vm, _, _, fix = cleared[0]
        return (f"the fix {fix} was made too (for {vm}), which is not one of the three cheapest: change only what "
                "the three need")
    added = sorted(now_others - was)
    if added:
        vm, host, fault, _ = added[0]
        return f"vCenter now refuses {vm} -> {host} ({fault}), which it allowed before: undo the change that did it"
    hosts = inventory.hosts(session)
    for fix in three:
        kind, _, name = fix.partition(":")
        if kind == "vmotion":
            cluster = hosts.set_index("name").loc[name, "cluster"]
            peers = sorted(h for h, c in zip(hosts["name"], hosts["cluster"]) if c == cluster and h != name)
            problem = _vmotion_problem(session, name, peers)
        elif kind == "portgroup":
            problem = _portgroup_problem(session, name)
        else:
            problem = None
        if problem:
            return problem
    if len(movable(now)) != len(movable(answer.before, three)):
        return "vCenter's verdicts now free other VMs than the three fixes would: read the verdicts again"
    return True


__all__ = ["FixExplorer", "Proof", "Verdicts", "WORLD", "by_fault", "cheapest", "compare", "describe_plan", "fixes",
           "movable", "plan", "plan_figure", "privilege", "read", "readiness", "readiness_figure"]
