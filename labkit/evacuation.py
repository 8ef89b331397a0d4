"""How long a host evacuation takes: every VM's vMotion, queued and run as vCenter's limits allow.

A pure, event-driven planner of the lab's scheduling rules (issue 25; the Go lab simulator,
``labkit/sim/launcher``, follows the same rules):

1. **Each vMotion** runs the course's pre-copy model once, when it starts
   (:func:`labkit.precopy.model.simulate`), on the slower of its two hosts' uplinks divided by its
   ``share``, the fewer of their vMotion adapters, and the efficiency of the smaller of their MTUs
   (:func:`efficiency`). It lasts the model's ``total_s``; a migration that fails lasts its pre-copy
   plus ``max_switchover_s``, the time vMotion waits for the switchover before giving up.
2. **Admission**: a vMotion costs 1 on its source and destination hosts, 1 on each host's vMotion
   network and 1 on its datastore (:data:`labkit.migration_limits.COSTS`); a host allows 8, a vMotion
   network 8 on 10 GbE and 4 on 1 GbE, a datastore 128 (VMware, "Limits on Simultaneous Migrations",
   see :mod:`labkit.migration_limits`). Requests wait in FIFO order; whenever one ends the queue is
   scanned in order and every request that fits starts (no head-of-line blocking, as
   :func:`labkit.migration_limits.admit`).
3. **Share**: the vMotions that start at one instant start together; each one's ``share`` is the
   largest, over its source's and destination's vMotion networks, of the number of vMotions running on
   that network once they have all started (itself included). It keeps that share until it ends.
4. **Evacuation** (EnterMaintenanceMode_Task with DRS fully automated): every VM's vMotion is requested
   at t = 0, in list order, as one batch; the evacuation ends when the last vMotion ends.

Migrations whose end times differ by at most :data:`TIE_S` end at the same instant: they free their
slots together and the queue is scanned once. Every time here is in simulated seconds, from the model,
not a measurement.

::

    from labkit.evacuation import HostLink, VMotion, plan, describe, figure
    links = {"esx-01": HostLink(10, 1, 1500), "esx-02": HostLink(10, 1, 1500)}
    vms = [VMotion(f"vm-{i}", 4096, "web", "esx-01", "esx-02", "ds-a") for i in range(9)]
    p = plan(vms, links)
    p["total_s"], p["schedule"]
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import pandas as pd
import plotly.graph_objects as go

from .errors import InvalidInput
from .migration_limits import COSTS, DATASTORE_MAX_COST, HOST_MAX_COST, NETWORK_MAX_COST, VMOTION
from .precopy import model as precopy_model
from .precopy import params as P
from .precopy import workloads
from .precopy.charts import COLORS

#: End times closer than this (simulated seconds) are one instant (rule 3's "start together").
TIE_S = 1e-9
#: The model inputs a workload dict may give (those of :func:`labkit.precopy.workloads.workload`).
WORKLOAD_KEYS = ("dirty_rate_mibps", "hot_set_mib", "hot_share", "zero_mib")
#: Bytes of each packet that are not vMotion's data in :func:`efficiency`: 20 IP, 20 TCP and 12 TCP
#: timestamp-option bytes (RFC 791, RFC 9293, RFC 7323), and 38 on the wire around it: 14 Ethernet
#: header, 4 FCS, 8 preamble and 12 inter-frame gap bytes (IEEE 802.3). As ``params.EFFICIENCY``.
PACKET_HEADERS = 52
FRAME_OVERHEAD = 38
__all__ = ["COLUMNS", "TIE_S", "HostLink", "VMotion", "describe", "efficiency", "figure", "plan", "schedule"]

COLUMNS = ["vm", "source", "destination", "share", "queued_s", "start_s", "end_s", "duration_s", "outcome",
           "rounds", "downtime_s", "max_throttle_pct"]


@dataclasses.dataclass(frozen=True)
class VMotion:
    """One hot vMotion: VM ``name`` of ``memory_mib`` MiB moves from host ``source`` to ``destination``.

    ``workload`` is a profile of ``datasets/workloads.csv`` (a name, resolved by
    :func:`labkit.precopy.workloads.workload`) or the model inputs themselves, a dict with
    ``dirty_rate_mibps`` and optionally ``hot_set_mib``, ``hot_share`` and ``zero_mib`` (what ``workload()``
    returns; its ``memory_mib``, if left in, must equal this one). ``datastore`` is the VM's shared
    datastore; ``max_switchover_s`` is its ``vmotion.maxSwitchoverSeconds`` (default 100, VMware KB 2141355).
    ``source``, ``destination`` and ``datastore`` are required: they default to "" only so that they can
    follow ``workload`` in this order. Raises :class:`~labkit.errors.InvalidInput` on a value the model
    cannot use.
    """

    name: str
    memory_mib: float
    workload: dict | str = "idle"
    source: str = ""
    destination: str = ""
    datastore: str = ""
    max_switchover_s: float = 100

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"A VMotion's name must be a non-empty string, not {self.name!r}.")
        for field, what in (("source", "host"), ("destination", "host"), ("datastore", "datastore")):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"VM '{self.name}': {field} must be a {what} name, not {value!r}.",
                                   fix=f"VMotion(..., {field}='...')")
        _number(self.name, "memory_mib", self.memory_mib, positive=True)
        _number(self.name, "max_switchover_s", self.max_switchover_s, positive=True)
        self.inputs()  # checks the workload

    def inputs(self) -> dict:
        """The model's workload inputs for this VM: ``dirty_rate_mibps`` and what else the workload gives."""
        w = self.workload
        if isinstance(w, str):
            try:
                out = workloads.workload(w, self.memory_mib)
            except InvalidInput as e:
                raise _about(self.name, e) from None
            out.pop("memory_mib")
            return out
        if not isinstance(w, dict):
            raise InvalidInput(f"VM '{self.name}': workload must be a profile name or a dict, not {w!r}.",
                               fix=f"use one of: {', '.join(workloads.names())}")
        given = dict(w)
        if "memory_mib" in given and given.pop("memory_mib") != self.memory_mib:
            raise InvalidInput(f"VM '{self.name}': its workload's memory_mib ({w['memory_mib']!r}) differs "
                               f"from the VM's ({self.memory_mib!r}).", fix="leave memory_mib out of workload")
        unknown = sorted(set(given) - set(WORKLOAD_KEYS), key=str)
        if unknown:
            raise InvalidInput(f"VM '{self.name}': unknown workload key(s): {', '.join(map(str, unknown))}.",
                               fix=f"use some of: {', '.join(WORKLOAD_KEYS)}")
        if "dirty_rate_mibps" not in given:
            raise InvalidInput(f"VM '{self.name}': its workload has no dirty_rate_mibps.",
                               fix="workload={'dirty_rate_mibps': ...}")
        return given


@dataclasses.dataclass(frozen=True)
class HostLink:
    """A host's vMotion network: ``uplink_gbps`` Gb/s per uplink, ``nics`` vMotion VMkernel adapters, ``mtu`` bytes.

    Raises :class:`~labkit.errors.InvalidInput` unless ``uplink_gbps`` > 0, ``nics`` is a whole number >= 1
    and ``mtu`` a whole number above the 52 header bytes of each packet (see :func:`efficiency`).
    """

    uplink_gbps: float
    nics: int = 1
    mtu: int = 1500

    def __post_init__(self):
        P.scalar("uplink_gbps", self.uplink_gbps, positive=True)
        P.scalar("nics", self.nics, minimum=1, integer=True)
        P.scalar("mtu", self.mtu, minimum=PACKET_HEADERS + 1, integer=True)

    @property
    def network_class(self) -> str:
        """"10GbE" if the uplinks are 10 Gb/s or faster, else "1GbE": the key of ``NETWORK_MAX_COST``."""
        return "10GbE" if self.uplink_gbps >= 10 else "1GbE"


def efficiency(mtu: int) -> float:
    """Share of the link's bit rate vMotion's data gets at this MTU: ``round((mtu - 52) / (mtu + 38), 3)``.

    1500 gives ``params.EFFICIENCY`` (0.941), 9000 gives 0.99. See :data:`PACKET_HEADERS`.
    """
    mtu = P.scalar("mtu", mtu, minimum=PACKET_HEADERS + 1, integer=True)
    return round((mtu - PACKET_HEADERS) / (mtu + FRAME_OVERHEAD), 3)


def schedule(vmotions: list[VMotion], links: dict[str, HostLink]) -> pd.DataFrame:
    """When each vMotion of an evacuation runs and how it ends (rules 1 to 4 of the module doc).

    ``vmotions`` are requested at t = 0 in this order; ``links`` maps every source and destination host to
    its :class:`HostLink`. Returns one row per vMotion, in the order given: ``vm``, ``source``,
    ``destination``, ``share`` (vMotions it shared the busier network with, itself included), ``queued_s``
    (seconds it waited in the queue: its start time, as every request arrives at t = 0), ``start_s``,
    ``end_s``, ``duration_s``, ``outcome`` (``converged``, ``long switchover`` or ``failed``), ``rounds``,
    ``downtime_s`` (0 when failed) and ``max_throttle_pct``; times in simulated seconds.
    Raises :class:`~labkit.errors.InvalidInput` on a host missing from ``links``, a VM named twice, a VM
    whose source is its destination, or a workload the model cannot use.
    """
    vms = _checked(vmotions, links)
    charges = [_charges(v, links) for v in vms]
    used: dict[tuple[str, str], int] = {}
    on_network: dict[str, int] = {}            # vMotions running on each host's vMotion network
    running: dict[int, float] = {}             # index -> end time
    rows: list[dict | None] = [None] * len(vms)
    cache: dict[tuple, dict] = {}
    queue = list(range(len(vms)))
    now = 0.0
    while queue or running:
        batch = []
        for i in queue:                          # rule 2: in order, every request that fits starts
            if all(used.get(key, 0) + cost <= top for key, cost, top in charges[i]):
                for key, cost, _ in charges[i]:
                    used[key] = used.get(key, 0) + cost
                batch.append(i)
        started = set(batch)
        queue = [i for i in queue if i not in started]
        for i in batch:
            for host in (vms[i].source, vms[i].destination):
                on_network[host] = on_network.get(host, 0) + 1
        for i in batch:                          # rule 3: shares once the whole batch has started
            v = vms[i]
            share = max(on_network[v.source], on_network[v.destination])
            s = _run(v, links, share, cache)
            duration = s["precopy_s"] + float(v.max_switchover_s) if s["outcome"] == "failed" else s["total_s"]
            rows[i] = {"vm": v.name, "source": v.source, "destination": v.destination, "share": share,
                       "queued_s": now, "start_s": now, "end_s": now + duration, "duration_s": duration,
                       "outcome": s["outcome"], "rounds": int(s["rounds"]), "downtime_s": s["downtime_s"],
                       "max_throttle_pct": s["max_throttle_pct"]}
            running[i] = now + duration
        if not running:  # cannot happen: with nothing running, the first request always fits
            raise RuntimeError(f"no vMotion fits with nothing running: {[vms[i].name for i in queue]}")
        now = min(running.values())              # the next instant: every migration ending within TIE_S of it
        for i in [i for i, end in running.items() if end - now <= TIE_S]:
            del running[i]
            for key, cost, _ in charges[i]:
                used[key] -= cost
            for host in (vms[i].source, vms[i].destination):
                on_network[host] -= 1
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.astype({"share": int, "rounds": int}) if len(table) else table


def plan(vmotions: list[VMotion], links: dict[str, HostLink]) -> dict:
    """An evacuation's schedule and what sums it up.

    Returns ``total_s`` (when the last vMotion ends: the evacuation's duration, simulated seconds),
    ``vmotions`` (how many), ``waves`` (how many instants vMotions started at), ``peak`` (most vMotions
    running at once), ``queued`` (how many waited), ``outcomes`` (outcome -> count) and ``schedule`` (the
    table of :func:`schedule`). Raises what :func:`schedule` raises.
    """
    table = schedule(vmotions, links)
    starts = sorted(set(table["start_s"]))
    peak = max((int(((table["start_s"] <= t) & (table["end_s"] - t > TIE_S)).sum()) for t in starts), default=0)
    return {"total_s": float(table["end_s"].max()) if len(table) else 0.0, "vmotions": len(table),
            "waves": len(starts), "peak": peak, "queued": int((table["queued_s"] > 0).sum()),
            "outcomes": {k: int(n) for k, n in table["outcome"].value_counts(sort=False).items()},
            "schedule": table}


def describe(p: dict) -> str:
    """One paragraph in plain English: how long the evacuation took, how many ran at once, how they ended."""
    n = p["vmotions"]
    if not n:
        return ("No vMotion to run: the evacuation ends at once (0 simulated seconds). "
                "All times are simulated seconds.")
    table = p["schedule"]
    text = (f"Evacuating {n} VM{'s' if n != 1 else ''} takes {p['total_s']:.1f} simulated seconds, "
            f"in {p['waves']} wave{'s' if p['waves'] != 1 else ''} with at most {p['peak']} vMotion"
            f"{'s' if p['peak'] != 1 else ''} running at once")
    if p["queued"]:
        text += (f"; {p['queued']} waited in the queue for a free slot, "
                 f"{table['queued_s'].max():.1f} s at most")
    outcomes = ", ".join(f"{count} {name}" for name, count in p["outcomes"].items())
    text += f". Outcomes: {outcomes}."
    if p["outcomes"].get("failed"):
        text += " A failed vMotion leaves its VM running on the source host."
    return text + " All times are simulated seconds from the course's pre-copy model, not measurements."


def figure(p: dict, title: str | None = None) -> go.Figure:
    """One horizontal bar per VM: light grey while it waits in the queue, then coloured by outcome while it runs."""
    table = p["schedule"]
    fig = go.Figure()
    waiting = table[table["queued_s"] > 0]
    if len(waiting):
        fig.add_bar(y=waiting["vm"], x=waiting["queued_s"], base=0, orientation="h", name="queued",
                    marker_color="#dddddd", hovertemplate="%{y}: queued %{x:.1f} s<extra></extra>")
    for outcome in precopy_model.OUTCOMES:  # one trace per legend entry: a colour means one outcome
        part = table[table["outcome"] == outcome]
        if not len(part):
            continue
        hover = [f"{r.vm}: {r.source} → {r.destination}, share {r.share}, {r.start_s:.1f}–{r.end_s:.1f} s, "
                 f"{r.rounds} round(s), downtime {r.downtime_s * 1000:.0f} ms" for r in part.itertuples()]
        fig.add_bar(y=part["vm"], x=part["duration_s"], base=part["start_s"], orientation="h", name=outcome,
                    marker_color=COLORS[outcome], hovertext=hover, hoverinfo="text")
    fig.update_layout(barmode="overlay", xaxis_title="simulated seconds", yaxis_autorange="reversed",
                      yaxis_type="category", height=170 + 24 * len(table), legend_orientation="h",
                      title=title or (f"Evacuation: {p['vmotions']} vMotion(s), {p['total_s']:.1f} simulated "
                                      f"seconds, at most {p['peak']} at once"))
    return fig


# -- helpers -------------------------------------------------------------------
def _about(vm: str, error: InvalidInput) -> InvalidInput:
    """``error`` with the VM it is about in front of its message."""
    return InvalidInput(f"VM '{vm}': {error.args[0]}", fix=error.fix)


def _number(vm: str, field: str, value, **rules) -> float:
    try:
        return P.scalar(field, value, **rules)
    except InvalidInput as e:
        raise _about(vm, e) from None


def _checked(vmotions, links) -> list[VMotion]:
    if isinstance(vmotions, (str, bytes, VMotion)) or not hasattr(vmotions, "__iter__"):
        raise InvalidInput(f"vmotions must be a list of VMotion, not {type(vmotions).__name__}.",
                           fix="schedule([VMotion(...), ...], links)")
    vms = list(vmotions)
    if not isinstance(links, dict):
        raise InvalidInput(f"links must be a dict of host name -> HostLink, not {type(links).__name__}.",
                           fix="links={'esx-01': HostLink(uplink_gbps=10, nics=1, mtu=1500), ...}")
    for host, link in links.items():
        if not isinstance(link, HostLink):
            raise InvalidInput(f"links['{host}'] must be a HostLink, not {type(link).__name__}.",
                               fix=f"links['{host}'] = HostLink(uplink_gbps=10, nics=1, mtu=1500)")
    seen = set()
    for v in vms:
        if not isinstance(v, VMotion):
            raise InvalidInput(f"vmotions must hold VMotion objects, not {type(v).__name__}.",
                               fix="VMotion(name, memory_mib, workload, source, destination, datastore)")
        if v.name in seen:
            raise InvalidInput(f"VM '{v.name}' is in vmotions twice: an evacuation moves each VM once.")
        seen.add(v.name)
        if v.source == v.destination:
            raise InvalidInput(f"VM '{v.name}': its source and destination are both '{v.source}'; a hot vMotion "
                               "changes host.", fix="give it another destination")
        for host in (v.source, v.destination):
            if host not in links:
                raise InvalidInput(f"VM '{v.name}': host '{host}' is not in links.",
                                   fix=f"links['{host}'] = HostLink(uplink_gbps=10, nics=1, mtu=1500)")
    return vms


def _charges(v: VMotion, links: dict[str, HostLink]) -> list[tuple[tuple[str, str], int, int]]:
    """((resource, name), cost, maximum cost) for every resource a vMotion uses (rule 2)."""
    cost = COSTS[VMOTION]
    out = [(("host", h), cost["host"], HOST_MAX_COST) for h in (v.source, v.destination)]
    out += [(("network", h), cost["network"], NETWORK_MAX_COST[links[h].network_class])
            for h in (v.source, v.destination)]
    return out + [(("datastore", v.datastore), cost["datastore"], DATASTORE_MAX_COST)]


def _run(v: VMotion, links: dict[str, HostLink], share: int, cache: dict) -> dict:
    """The pre-copy model's summary for ``v`` at ``share`` (rule 1); equal inputs are run once."""
    src, dst = links[v.source], links[v.destination]
    options = dict(v.inputs(), link_gbps=min(src.uplink_gbps, dst.uplink_gbps) / share,
                   nics=min(src.nics, dst.nics), efficiency=efficiency(min(src.mtu, dst.mtu)),
                   max_switchover_s=v.max_switchover_s)
    key = (v.memory_mib, *sorted((k, _hashable(x)) for k, x in options.items()))
    if key not in cache:
        try:
            cache[key] = precopy_model.simulate(v.memory_mib, **options).summary
        except InvalidInput as e:
            raise _about(v.name, e) from None
    return cache[key]


def _hashable(x):
    if isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x)):
        return float(x)
    return repr(x)


def _workload_of(spec: dict | None, memory_mib: float):
    """A scenario VM's workload (labkit.scenarios.workload_spec) as VMotion takes it: a profile's name, or the
    model's inputs (the hot set at most the VM's memory, the never-written share as MiB, as the lab does)."""
    if spec is None:
        from .scenarios import DEFAULT_WORKLOAD

        return DEFAULT_WORKLOAD
    if spec["profile"] != "custom":
        return spec["profile"]
    hot = spec["hotSetMiB"]
    return {"dirty_rate_mibps": spec["dirtyRateMiBps"], "hot_set_mib": None if hot is None else min(hot, memory_mib),
            "hot_share": spec["hotShare"], "zero_mib": spec["zeroShare"] * memory_mib}


def host_link(host) -> HostLink:
    """A HostSystem's vMotion network as the API reports it: the fastest uplink under its vMotion adapters, how
    many adapters are selected for vMotion, and the first one's MTU."""
    net = host.config.network
    selected = []
    for nc in host.config.virtualNicManagerInfo.netConfig or []:
        if nc.nicType == "vmotion":
            keys = set(nc.selectedVnic or [])
            selected = [v for v in nc.candidateVnic or [] if v.key in keys or f"vmotion.{v.key}" in keys]
    if not selected:
        raise InvalidInput(f"{host.name} has no VMkernel adapter selected for vMotion.",
                           fix="select one for vMotion (lesson 01b) before planning an evacuation")
    speeds = {p.key: p.linkSpeed.speedMb for p in net.pnic if p.linkSpeed}
    fastest = 0
    for v in selected:
        switch = next((pg.spec.vswitchName for pg in net.portgroup if pg.spec.name == v.portgroup), None)
        for vs in net.vswitch:
            if vs.name == switch:
                fastest = max([fastest, *(speeds.get(k, 0) for k in vs.pnic or [])])
        for ps in net.proxySwitch or []:
            if v.spec.distributedVirtualPort and ps.dvsUuid == v.spec.distributedVirtualPort.switchUuid:
                fastest = max([fastest, *(speeds.get(k, 0) for k in ps.pnic or [])])
    if not fastest:
        raise InvalidInput(f"{host.name}'s vMotion adapters have no uplink that is up.")
    return HostLink(uplink_gbps=fastest / 1000, nics=len(selected), mtu=selected[0].spec.mtu or 1500)


def from_lab(session, host, destination=None) -> tuple[list[VMotion], dict[str, HostLink]]:
    """The vMotions that evacuating ``host`` (a HostSystem or its name) of the session's lab world needs, and the
    links of the hosts involved: ``(vmotions, links)`` for :func:`plan`.

    Every powered-on VM of the host, in the host's order, with its memory and its scenario's workload (a VM the
    scenario gives none runs the idle profile), its ``vmotion.maxSwitchoverSeconds`` if set, to ``destination``
    (a host or its name; default: the first other connected host of the cluster that is not in maintenance
    mode, where the lab's DRS puts VMs that reserve no memory). Raises InvalidInput for an unknown host, and
    LabkitError off the lab (a real vCenter's workloads are not known: build the list yourself).
    """
    from pyVmomi import vim

    from . import scenarios
    from .errors import LabkitError
    from .hostlog import _host

    from . import labapi

    try:
        state = labapi._state(session)
    except LabkitError:
        raise LabkitError("from_lab needs a session on the lab, whose scenario gives the VMs' workloads.",
                          fix="build the VMotion list yourself from your workloads, then call plan()") from None
    h = _host(session, host)
    doc = scenarios.compile(state.scenario) if state.scenario else {"vms": []}
    spec = {v["name"]: v.get("workload") for v in doc.get("vms", [])}
    if destination is None:
        others = [o for o in h.parent.host if o != h and o.runtime.connectionState == "connected"
                  and not o.runtime.inMaintenanceMode]
        if not others:
            raise InvalidInput(f"{h.name}'s cluster has no other connected host to take its VMs.")
        dest = others[0]
    else:
        dest = _host(session, destination)
    vmotions = []
    for vm in h.vm:
        if vm.runtime.powerState != vim.VirtualMachinePowerState.poweredOn:
            continue
        extra = {o.key: o.value for o in vm.config.extraConfig or []}
        limit = float(extra.get("vmotion.maxSwitchoverSeconds", 100) or 100)
        memory = float(vm.config.hardware.memoryMB)
        vmotions.append(VMotion(vm.name, memory, _workload_of(spec.get(vm.name), memory),
                                h.name, dest.name, vm.datastore[0].name if vm.datastore else "-", limit))
    return vmotions, {h.name: host_link(h), dest.name: host_link(dest)}
