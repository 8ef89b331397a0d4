"""Exercises of notebooks/07-inflight-failures.ipynb, and the lesson's helpers.

Five lab worlds, one per way a vMotion that vCenter allowed can still fail or crawl once data flows: jumbo
frames the path drops (scenario inflight-jumbo), adapters in two subnets with no gateway (inflight-routed), a
busy database on one 1 GbE link (inflight-busy-db), a destination lost mid-copy (inflight-host-lost), and a host
evacuated by maintenance mode (inflight-evacuation).

Every check judges the lab world as it is, or as its hosts' vmkernel logs and vCenter's events recorded it: where
the VM runs, the adapters' MTUs and gateways, a don't-fragment vmkping across the path, the number of vMotion
adapters the migration used (its log line), when the evacuation's vMotions started and ended in lab time. None
compares the answer with a stored value.

The helpers turn the host logs into text that does not depend on when a cell ran: the ``sim`` lab clock at the
head of each line, and the ``sim_s`` a measured line carries, are left out or masked. Every time they show is
simulated.
"""
from __future__ import annotations

import ipaddress
import re

import ipywidgets as w
import pandas as pd
from pyVmomi import vim

from .. import evacuation, hostconfig, hostlog, inventory
from ..exercises import WrongType, exercise
from ..vmkping import vmkping
from ..widgets import ControlPanel, ValueSlider, linear_grid
from .preparing_hosts import _vmotion_adapters, _vmotion_problem

# -- reading the host logs without the clock ------------------------------------------------------------------------
#: facts every parsed line has, or that depend on when the line was written: left out of :func:`story`
_NOT_FACTS = ("host", "line", "sim", "sim_s", "role", "mid", "vm", "event")


def _fmt(value) -> str:
    """A fact as the log means it: whole numbers whole, others to a few significant digits."""
    if isinstance(value, float):
        if value == int(value):
            return str(int(value))
        if abs(value) >= 100:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    text = str(value)
    return f'"{text}"' if " " in text else text


def story(session, host, vm: str | None = None, *, events=None) -> str:
    """``host``'s vMotion log lines (of ``vm``, of ``events``), one per line: role, migration id, VM, event, facts.

    The lab clock (``sim=``) and the lines' measured ``sim_s`` are left out, so the text is the same on every
    run; every figure in it is the lab's model or configuration, in simulated seconds where it is a time.
    """
    table = hostlog.read(session, host)
    if vm is not None:
        table = table[table["vm"] == vm]
    if events is not None:
        table = table[table["event"].isin(list(events))]
    if table.empty:
        return f"({getattr(host, 'name', host)}'s log has no vMotion line{' of ' + vm if vm else ''} yet)"
    lines = []
    for _, row in table.iterrows():
        facts = " ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k not in _NOT_FACTS and not pd.isna(v))
        lines.append(f"{row['role']} {int(row['mid'])} {row['vm']} {row['event']}: {facts}".rstrip(": "))
    return "\n".join(lines)


_CLOCK = re.compile(r"^sim=[0-9.]+")
_MEASURED = re.compile(r"\bsim_s=[0-9.e+-]+")


def without_clock(line: str) -> str:
    """A raw log line with its lab clock (``sim=...``) and measured ``sim_s`` masked as ``…``."""
    return _MEASURED.sub("sim_s=…", _CLOCK.sub("sim=…", line))


def last_migration(session, host, vm: str, *, role: str = "S") -> pd.Series | None:
    """The last migration of ``vm`` in ``host``'s log with that role (hostlog.migrations' row), or None."""
    table = hostlog.migrations(session, host)
    table = table[(table["vm"] == vm) & (table["role"] == role)]
    return None if table.empty else table.iloc[-1]


def start_line(session, host, mid) -> pd.Series | None:
    """The ``start`` line of migration ``mid`` in ``host``'s log: its inputs (memory, workload, link, share, nics,
    mtu), or None."""
    table = hostlog.read(session, host)
    table = table[(table["mid"] == mid) & (table["event"] == "start")]
    return None if table.empty else table.iloc[0]


def _completed(table: pd.DataFrame, vm: str) -> list[dict]:
    """Each completed migration of ``vm`` in one host's parsed log: its id, hosts, adapters, summary and rounds."""
    out = []
    if table.empty:
        return out
    mine = table[table["vm"] == vm]
    for mid, lines in mine.groupby("mid", sort=False):
        done = lines[lines["event"] == "completed"]
        start = lines[lines["event"] == "start"]
        if done.empty or start.empty:
            continue
        d, s = done.iloc[-1], start.iloc[0]
        rounds = lines[lines["event"] == "precopy"]
        out.append({"mid": int(mid), "src": s["src"], "dest": s["dest"], "nics": int(s["nics"]),
                    "rounds": int(d["rounds"]), "total_s": float(d["total_s"]),
                    "max_throttle_pct": float(d["max_throttle_pct"]),
                    "durations": rounds["duration_s"].astype(float).tolist(),
                    "throttles": rounds["throttle_pct"].astype(float).tolist()})
    return out


def progress_figure(session, host, vm: str, title: str | None = None):
    """Each completed migration of ``vm`` in ``host``'s log: the task's progress (the lab's rule: 10 % once both
    hosts have taken it, then in proportion to simulated time) and the SDPS throttle, round by round, against
    simulated seconds."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, m in enumerate(_completed(hostlog.read(session, host), vm)):
        label = f"migration {m['mid']} ({m['nics']} adapter{'s' if m['nics'] != 1 else ''})"
        t = pd.Series(m["durations"]).cumsum().tolist()
        progress = [10] + [10 + int(89 * s / m["total_s"]) for s in t] + [100]
        colour = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")[i % 4]
        fig.add_scatter(x=[0.0] + t + [m["total_s"]], y=progress, mode="lines+markers", name=f"{label}: progress %",
                        line={"color": colour})
        fig.add_scatter(x=[0.0] + t, y=[0.0] + m["throttles"], mode="lines", yaxis="y2",
                        name=f"{label}: SDPS throttle %", line={"color": colour, "dash": "dot", "shape": "hv"})
    fig.update_layout(title=title or f"{vm}: task progress and SDPS throttle over simulated time",
                      xaxis_title="simulated seconds since the migration started",
                      yaxis={"title": "task progress (%)", "range": [0, 105]},
                      yaxis2={"title": "vCPU throttle (%)", "overlaying": "y", "side": "right", "range": [0, 105]},
                      legend={"orientation": "h", "y": -0.25}, margin={"b": 110}, height=480)
    return fig


def describe_progress(session, host, vm: str) -> str:
    """One line per completed migration of ``vm`` in ``host``'s log: adapters, rounds, time, throttle."""
    done = _completed(hostlog.read(session, host), vm)
    if not done:
        return f"no completed migration of {vm} in {getattr(host, 'name', host)}'s log yet"
    return "\n".join(f"migration {m['mid']} {m['src']} -> {m['dest']}, {m['nics']} vMotion adapter(s): "
                     f"{m['rounds']} rounds, {m['total_s']:.0f} simulated s, "
                     f"vCPUs throttled up to {m['max_throttle_pct']:.0f} %" for m in done)


def evacuation_runs(session, host="esx-01", vms=None) -> pd.DataFrame:
    """The last vMotion of each VM that left ``host``, as its log recorded it: ``vm``, ``dest``, ``result``,
    ``nics``, ``start`` and ``end`` on the lab clock (simulated seconds; they depend on when it ran). ``vms``
    limits it to those VMs."""
    table = hostlog.read(session, host)
    cols = ["vm", "dest", "mid", "result", "nics", "start", "end"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    starts = table[(table["event"] == "start") & (table["role"] == "S")]
    if vms is not None:
        starts = starts[starts["vm"].isin(list(vms))]
    rows = []
    for vm, mine in starts.groupby("vm", sort=False):
        first = mine.iloc[-1]
        ends = table[(table["mid"] == first["mid"]) & (table["event"].isin(["completed", "failed"]))]
        end = ends.iloc[-1] if len(ends) else None
        rows.append({"vm": vm, "dest": first["dest"], "mid": int(first["mid"]),
                     "result": end["event"] if end is not None else "running", "nics": int(first["nics"]),
                     "start": float(first["sim"]), "end": float(end["sim"]) if end is not None else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def evacuation_took_s(runs: pd.DataFrame) -> float:
    """From the first start to the last end of :func:`evacuation_runs`, in simulated seconds (NaN if empty)."""
    if runs.empty:
        return float("nan")
    return float(runs["end"].max() - runs["start"].min())


# -- network facts the checks read -------------------------------------------------------------------------------------
def _vnics(session, host: str) -> list:
    """The HostVirtualNic objects of ``host`` that have the vMotion service, in adapter order."""
    devices = set(_vmotion_adapters(session, host)["device"])
    esx = hostconfig.host(session, host)
    return [n for n in esx.config.network.vnic or [] if n.device in devices]


def gateway_of(session, host: str, nic) -> str:
    """The default gateway an adapter's traffic to another subnet takes: its own override
    (``HostVirtualNicSpec.ipRouteSpec``), else its TCP/IP stack's; "" when it has none."""
    spec = nic.spec
    route = getattr(spec, "ipRouteSpec", None)
    if route is not None and route.ipRouteConfig is not None and route.ipRouteConfig.defaultGateway:
        return route.ipRouteConfig.defaultGateway
    key = spec.netStackInstanceKey or "defaultTcpipStack"
    esx = hostconfig.host(session, host)
    for stack in esx.config.network.netStackInstance or []:
        if stack.key == key and stack.ipRouteConfig is not None:
            return stack.ipRouteConfig.defaultGateway or ""
    return ""


def _subnet(nic) -> ipaddress.IPv4Network | None:
    ip = nic.spec.ip
    if ip is None or not ip.ipAddress or not ip.subnetMask:
        return None
    return ipaddress.IPv4Network(f"{ip.ipAddress}/{ip.subnetMask}", strict=False)


def stack_gateways(session, hosts=("esx-01", "esx-02")) -> pd.DataFrame:
    """Each host's vMotion adapters: address, TCP/IP stack, the gateway their traffic takes, and whether that
    gateway is in the adapter's own subnet."""
    rows = []
    for host in hosts:
        for nic in _vnics(session, host):
            gw, net = gateway_of(session, host, nic), _subnet(nic)
            inside = bool(gw) and net is not None and ipaddress.IPv4Address(gw) in net
            override = nic.spec.ipRouteSpec is not None and nic.spec.ipRouteSpec.ipRouteConfig is not None \
                and bool(nic.spec.ipRouteSpec.ipRouteConfig.defaultGateway)
            rows.append({"host": host, "device": nic.device, "ip": f"{nic.spec.ip.ipAddress}/{net.prefixlen}"
                         if net else "", "stack": nic.spec.netStackInstanceKey or "defaultTcpipStack",
                         "gateway": gw or "(none)", "from": "adapter override" if override else "stack",
                         "in its subnet": inside})
    return pd.DataFrame(rows, columns=["host", "device", "ip", "stack", "gateway", "from", "in its subnet"])


def _host_events(session, host: str) -> set[str]:
    esx = hostconfig.host(session, host)
    spec = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=esx, recursion="self"))
    return {type(e).__name__.rsplit(".", 1)[-1] for e in session.content.eventManager.QueryEvents(spec) or []}


def _runs_on(session, vm: str) -> str | None:
    vms = inventory.vms(session).set_index("name")
    return vms.loc[vm, "host"] if vm in vms.index else None


# -- exercise 1: jumbo frames the path drops ---------------------------------------------------------------------------
JUMBO = {"vm": "app-01", "source": "esx-01", "destination": "esx-02"}


@exercise("07.jumbo", "app-01 moved to esx-02 with an MTU the whole path carries", world="inflight-jumbo", points=2,
          hints=(
    ("vmkping proved which frames cross between the hosts and which do not. Which MTU do both vMotion adapters "
     "need so that every segment vMotion sends fits?"),
    ("Change the MTU of each host's vMotion adapter with HostNetworkSystem.UpdateVirtualNic "
     "(hostconfig.set_mtu), on both hosts: the KB asks for one MTU along the whole path."),
    ("Prove the new MTU with vmkping -d at its full size from each host, then migrate app-01 to esx-02 with "
     "continuity.migrate and answer with the run."),
))
def jumbo(answer, session):
    problem = _moved(answer, session, JUMBO)
    if problem:
        return problem
    for host, other in ((JUMBO["source"], JUMBO["destination"]), (JUMBO["destination"], JUMBO["source"])):
        peers = _vnics(session, other)
        if not peers:
            return f"host {other} has no vMotion adapter any more"
        target = peers[0].spec.ip.ipAddress
        for nic in _vnics(session, host):
            mtu = nic.spec.mtu or 1500
            ping = vmkping(session, host, target, interface=nic.device, size=mtu - 28, df=True, count=1)
            if not ping.ok:
                return (f"on host {host}, {nic.device} has an MTU of {mtu}, and a don't-fragment ping of that size to {other} "
                        "gets no reply: its full-sized frames still do not cross the path")
    return True


def _moved(answer, session, case: dict) -> str | None:
    """Why ``answer`` is not a successful vMotion of the case's VM to its destination, where it still runs (None
    if it is)."""
    problem = _vmotion_problem(answer, case["vm"], case["destination"])
    if problem:
        return problem
    if _runs_on(session, case["vm"]) != case["destination"]:
        return f"VM {case['vm']} does not run on {case['destination']} in the lab any more"
    return None


# -- exercise 2: routed vMotion ----------------------------------------------------------------------------------------
#: each host's vMotion subnet in scenario inflight-routed (its rack): the fix routes between them, it does not move them
ROUTED = {"vm": "app-01", "destination": "esx-02",
          "subnets": {"esx-01": "10.10.1.0/24", "esx-02": "10.10.2.0/24"}}


@exercise("07.routed", "app-01 moved to esx-02 across two subnets, routed", world="inflight-routed", points=2,
          hints=(
    ("The log says there is no route between the two vMotion addresses. Which TCP/IP stack are the adapters on, "
     "and which default gateway does that stack have on each host?"),
    ("Give the vmotion stack of each host a default gateway in that host's own subnet: "
     "HostNetworkSystem.UpdateNetworkConfig with a netStackSpec (operation 'edit') whose NetStackInstance has key "
     "'vmotion' and an ipRouteConfig. The racks' routers answer at the .1 address of each subnet."),
    "Prove the route with vmkping, then migrate app-01 to esx-02 and answer with the run.",
))
def routed(answer, session):
    problem = _moved(answer, session, ROUTED)
    if problem:
        return problem
    table = stack_gateways(session, tuple(ROUTED["subnets"]))
    for host, subnet in ROUTED["subnets"].items():
        mine = table[table["host"] == host]
        if mine.empty:
            return f"host {host} has no vMotion adapter any more"
        for _, row in mine.iterrows():
            address = ipaddress.IPv4Interface(row["ip"]) if row["ip"] else None
            if address is None or address.ip not in ipaddress.IPv4Network(subnet):
                return (f"on host {host}, {row['device']} is no longer in its rack's subnet {subnet}: keep the addresses, "
                        "and route between the subnets")
    for _, row in table.iterrows():
        if not row["in its subnet"]:
            return f"on host {row['host']}, {row['device']} has no default gateway in its own subnet"
    a, b = (next(iter(_vnics(session, h))) for h in ROUTED["subnets"])
    for host, target in (("esx-01", b.spec.ip.ipAddress), ("esx-02", a.spec.ip.ipAddress)):
        if not vmkping(session, host, target, count=1).ok:
            return f"a vmkping from {host} to {target} gets no reply"
    return True


# -- exercise 3: a second vMotion adapter for the busy database --------------------------------------------------------
BUSY = {"vm": "db-01", "source": "esx-02", "destination": "esx-01"}


@exercise("07.second-adapter", "db-01 back on esx-01 over two vMotion adapters per host", world="inflight-busy-db",
          points=2, hints=(
    ("Each host has one vMotion adapter on one 1 GbE uplink. The lab, like multi-NIC vMotion (vSphere 5.0 and "
     "later), sends over as many adapter pairs as both hosts have vMotion adapters."),
    ("On each host: a port group (hostconfig.add_port_group), a VMkernel adapter on it with an address in the "
     "vMotion subnet (hostconfig.add_vmkernel_adapter) and the vMotion service on it (hostconfig.enable_service, "
     "SelectVnicForNicType)."),
    "Then migrate db-01 back to esx-01 with continuity.migrate and answer with the run.",
))
def second_adapter(answer, session):
    problem = _moved(answer, session, BUSY)
    if problem:
        return problem
    for host in (BUSY["source"], BUSY["destination"]):
        if len(_vmotion_adapters(session, host)) < 2:
            return f"host {host} has fewer than two vMotion adapters"
    last = last_migration(session, BUSY["source"], BUSY["vm"], role="S")
    if last is None or last["dest"] != BUSY["destination"] or last["result"] != "completed":
        return f"the log of {BUSY['source']} has no completed vMotion of {BUSY['vm']} to {BUSY['destination']}"
    start = start_line(session, BUSY["source"], last["mid"])
    if start is None or int(start["nics"]) < 2:
        return (f"the last vMotion of {BUSY['vm']} used one adapter pair (its log line says nics=1): add the "
                "adapters first, then migrate")
    return True


# -- exercise 4: an evacuation inside its window -----------------------------------------------------------------------
#: the maintenance window of exercise 4: esx-01 must be empty this many simulated seconds after the first vMotion starts
WINDOW_S = 600.0
#: how far the plan may be from what the lab did (the lab's own overhead, a few ms of real time per migration,
#: is scaled by the time scale)
PLAN_TOLERANCE = 0.10


@exercise("07.window", "esx-01 evacuated within 600 simulated seconds, as planned", world="inflight-evacuation",
          points=3, hints=(
    ("Use the explorer: which change of the vMotion network brings the plan under the window? Then make that "
     "change through the API on esx-01 and on the host evacuation.from_lab names as the destination."),
    ("Plan again from the lab after the change (evacuation.from_lab, evacuation.plan): the plan is your answer. "
     "Then put esx-01 in maintenance mode (EnterMaintenanceMode_Task) and wait for the task."),
    ("An evacuation that has run cannot be run again: whatever went wrong, run the case's labkit.connect cell "
     "again for a pristine world, make the change first, plan from the lab, then enter maintenance mode."),
))
def window(answer, session):
    if not isinstance(answer, dict) or "schedule" not in answer or "total_s" not in answer:
        raise WrongType("answer with the plan: the dict that evacuation.plan(...) returns")
    schedule = answer["schedule"]
    names = set(schedule["vm"]) if isinstance(schedule, pd.DataFrame) and "vm" in schedule else set()
    if not names:
        return "your plan moves no VM: plan from the lab before esx-01 enters maintenance mode"
    if "EnteredMaintenanceModeEvent" not in _host_events(session, "esx-01"):
        return "esx-01 has not entered maintenance mode in the lab"
    runs = evacuation_runs(session, "esx-01", names)
    if set(runs["vm"]) != names:
        return f"{len(names - set(runs['vm']))} VM(s) of your plan never left esx-01 in the lab"
    if (runs["result"] != "completed").any():
        return "a vMotion of the evacuation did not complete"
    took = evacuation_took_s(runs)
    if took > WINDOW_S:
        return (f"the evacuation took longer than the {WINDOW_S:.0f}-simulated-second window: change the vMotion "
                "network before you evacuate")
    if abs(float(answer["total_s"]) - took) > PLAN_TOLERANCE * took:
        return ("your plan is more than 10 % off what the lab took: plan from the lab as it was just before the "
                "evacuation")
    return True


# -- the evacuation explorer ---------------------------------------------------------------------------------------------
LINK_SPEEDS_GBPS = (1, 10, 25, 40, 100)
STYLE = {"description_width": "200px"}
LAYOUT = w.Layout(width="540px")


class EvacuationExplorer(ControlPanel):
    """Plan one evacuation while changing both hosts' vMotion network: link speed, adapters, MTU.

    ``vmotions`` is the list :func:`labkit.evacuation.from_lab` returns (every VM from ``source`` to
    ``destination``); the same link is given to both hosts. The chart is :func:`labkit.evacuation.figure`, with
    the window marked.
    """

    def __init__(self, vmotions, source: str = "esx-01", destination: str = "esx-02", link_gbps: float = 10,
                 nics: int = 1, mtu: int = 1500, window_s: float = WINDOW_S):
        self.vmotions, self.source, self.destination, self.window_s = list(vmotions), source, destination, window_s
        controls = {
            "link_gbps": ValueSlider(link_gbps, LINK_SPEEDS_GBPS, description="uplink speed (Gb/s)", style=STYLE,
                                     layout=LAYOUT),
            "nics": ValueSlider(nics, linear_grid(1, 4, 1), description="vMotion adapters per host", style=STYLE,
                                layout=LAYOUT),
            "mtu": w.ToggleButtons(options=[1500, 9000], value=mtu, description="MTU (bytes)", style=STYLE),
        }
        self._wire(controls)

    def links(self) -> dict:
        c = {k: v.value for k, v in self.controls.items()}
        link = evacuation.HostLink(uplink_gbps=float(c["link_gbps"]), nics=int(c["nics"]), mtu=int(c["mtu"]))
        return {self.source: link, self.destination: link}

    def plan(self) -> dict:
        return evacuation.plan(self.vmotions, self.links())

    def fits(self, p: dict | None = None) -> bool:
        return (p or self.plan())["total_s"] <= self.window_s

    def refresh(self) -> None:
        p = self.plan()
        verdict = "fits" if self.fits(p) else "does not fit"
        self.summary.value = (f"<b>{p['total_s']:.0f} simulated s: {verdict} the {self.window_s:.0f} s window.</b> "
                              f"{evacuation.describe(p)}")
        fig = evacuation.figure(p)
        fig.add_vline(x=self.window_s, line_dash="dash", line_color="#d62728",
                      annotation_text=f"window {self.window_s:.0f} s")
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                                         "text/plain": repr(self)}},)

    def __repr__(self) -> str:
        c = {k: v.value for k, v in self.controls.items()}
        p = self.plan()
        return (f"EvacuationExplorer({len(self.vmotions)} VMs, {c['nics']} x {c['link_gbps']} Gb/s per host, MTU "
                f"{c['mtu']}): {p['total_s']:.0f} simulated s, {'fits' if self.fits(p) else 'does not fit'} the "
                f"{self.window_s:.0f} s window")


__all__ = ["EvacuationExplorer", "WINDOW_S", "describe_progress", "evacuation_runs", "evacuation_took_s", "gateway_of",
           "last_migration", "progress_figure", "stack_gateways", "start_line", "story", "without_clock"]
