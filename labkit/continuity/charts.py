"""plotly figures of migrations, pings and storage copies, each with a text description nbval can compare."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..plots import wrap_html
from . import network, storage
from .runner import MigrationRun

COLORS = {"answered": "#2e7d32", "lost": "#c62828", "stunned": "#c62828", "rarp": "#f9a825",
          "mirror": "#1565c0", "iterative": "#8e24aa", "retransmission": "#424242"}
RUN_COLORS = ["#1565c0", "#8e24aa", "#00897b", "#ef6c00"]
#: the ping chart's labels: one row each above the plot, this many pixels apart (a 12 px label is 17 px high)
LABEL_ROW_PX = 20
LABEL_FONT_PX = 12


def _label(run: MigrationRun) -> str:
    target = " + ".join(x for x in (run.host, run.datastore) if x)
    return f"{run.vm} → {target} ({run.kind})"


def timeline_figure(*runs: MigrationRun, title: str = "Migrations in the lab world") -> go.Figure:
    """Task progress over time, one line per migration, with the events posted as markers."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        task = run.timeline[(run.timeline["source"] == "task") & run.timeline["progress"].notna()]
        fig.add_scatter(name=_label(run), x=task["t_s"].round(3).tolist(), y=task["progress"].tolist(),
                        mode="lines+markers", line=dict(color=color, shape="hv"),
                        text=task["what"].tolist(), hovertemplate="%{text} %{y}% at %{x:.2f} s<extra></extra>")
        ev = run.timeline[run.timeline["source"] == "event"]
        y = [0 if w.startswith(("VmBeing", "VmFailed")) else 100 for w in ev["what"]]
        fig.add_scatter(name=f"events of {run.vm}", x=ev["t_s"].round(3).tolist(), y=y, mode="markers",
                        marker=dict(symbol="diamond", size=12, color=color, line=dict(width=1, color="black")),
                        text=ev["what"].tolist(), customdata=[wrap_html(d) for d in ev["detail"]],
                        hovertemplate="%{text}<br>%{customdata}<extra></extra>", showlegend=False)
    fig.update_layout(title=title, xaxis_title="seconds since the task was queued", yaxis_title="task progress (%)",
                      yaxis_range=[-8, 108], height=380, legend=dict(orientation="h", y=-0.3))
    fig.update_yaxes(tickmode="array", tickvals=[0, 20, 40, 60, 80, 100])
    return fig


def describe_timeline(*runs: MigrationRun) -> str:
    """The order of task states and events for each run, without times or progress samples."""
    lines = []
    for run in runs:
        t = run.timeline
        steps = t[(t["source"] == "event") | (t["what"] != "running") | (t["progress"] == 0)]["what"]
        lines.append(f"{_label(run)}: {' -> '.join(steps)}")
    return "\n".join(lines)


def ping_figure(downtime_s: float, *, interval_s: float = network.PING_INTERVAL_S, rarp_delay_s: float = 0.0,
                phase_s: float = 0.0, rto_s: float = network.LINUX_RTO_MIN_S, app_timeout_s: float | None = None,
                before_s: float = 2.0, after_s: float = 3.0) -> go.Figure:
    """Echo requests around a switchover (answered or lost) and a TCP segment's retransmissions."""
    table = network.pings(downtime_s, interval_s=interval_s, rarp_delay_s=rarp_delay_s, phase_s=phase_s,
                          before_s=before_s, after_s=after_s)
    tcp = network.tcp(downtime_s, rarp_delay_s=rarp_delay_s, rto_s=rto_s, app_timeout_s=app_timeout_s)
    fig = go.Figure()
    labels = [("VM stunned", 0.0, COLORS["stunned"])]
    fig.add_vrect(x0=0, x1=downtime_s, fillcolor=COLORS["stunned"], opacity=0.15, line_width=0)
    if rarp_delay_s > 0:
        end = round(downtime_s + rarp_delay_s, 9)  # 0.9 + 0.05 ends at 0.95, not 0.9500000000000001
        fig.add_vrect(x0=downtime_s, x1=end, fillcolor=COLORS["rarp"], opacity=0.25, line_width=0)
        labels.append(("switches learning", downtime_s, "#a66f00"))
    for lost, name in ((False, "answered"), (True, "lost")):
        part = table[table["lost"] == lost]
        fig.add_scatter(name=f"ping {name}", x=part["sent_s"].round(3).tolist(), y=["ping"] * len(part),
                        mode="markers", marker=dict(color=COLORS[name], size=10,
                                                    symbol="x" if lost else "circle"))
    sends = [0.0, *tcp["retransmit_at_s"]]
    fig.add_scatter(name="TCP segment and retransmissions", x=sends, y=["TCP"] * len(sends), mode="markers+lines",
                    marker=dict(color=COLORS["retransmission"], size=9, symbol="triangle-right"),
                    line=dict(dash="dot", color=COLORS["retransmission"]))
    if app_timeout_s is not None:
        fig.add_vline(x=app_timeout_s, line_dash="dash", line_color="black")
        labels.append((f"application timeout {app_timeout_s:g} s", app_timeout_s, "black"))
    # The labels sit above the plot, one row each, starting where their band or line starts: with a short
    # switchover the bands are a few pixels wide and labels side by side would overlap.
    for row, (text, x, color) in enumerate(reversed(labels)):
        fig.add_annotation(text=text, x=x, xref="x", y=1, yref="paper", xanchor="left", yanchor="bottom",
                           yshift=row * LABEL_ROW_PX, showarrow=False, font=dict(size=LABEL_FONT_PX, color=color))
    lost = int(table["lost"].sum())
    verdict = "" if app_timeout_s is None else (", the application survives" if tcp["app_survives"]
                                                 else ", the application times out")
    fig.update_layout(title=f"Outage {tcp['outage_s']:.2f} s: {lost} of {len(table)} pings lost, TCP stalls "
                            f"{tcp['stall_s']:.2f} s{verdict}",
                      xaxis_title="seconds from the stun", height=300 + LABEL_ROW_PX * len(labels),
                      margin=dict(t=56 + LABEL_ROW_PX * len(labels)), legend=dict(orientation="h", y=-0.35),
                      yaxis=dict(categoryorder="array", categoryarray=["TCP", "ping"]))
    fig.update_layout(title=dict(y=1, yref="container", yanchor="top", pad=dict(t=14)))  # the title above the labels
    return fig


def describe_pings(table: pd.DataFrame) -> str:
    lost = table[table["lost"]]
    seqs = ", ".join(str(s) for s in lost["seq"]) or "none"
    return f"{len(table)} pings, {len(lost)} lost (seq {seqs})"


def copy_figure(*copies: storage.Copy, title: str = "Storage vMotion: data still to copy") -> go.Figure:
    """Remaining data over time for each copy design."""
    fig = go.Figure()
    for c in copies:
        curve = storage.remaining(c)
        s = c.summary
        fig.add_scatter(name=f"{s['method']}: {s['outcome']}, {s['passes']} pass(es), {s['total_s']:.0f} s",
                        x=curve["t_s"].round(2).tolist(), y=(curve["remaining_mib"] / 1024).round(3).tolist(),
                        mode="lines", line=dict(color=COLORS[s["method"]]))
    fig.update_layout(title=title, xaxis_title="seconds", yaxis_title="GiB still to copy", height=380,
                      legend=dict(orientation="h", y=-0.3))
    return fig


def describe_copies(*copies: storage.Copy) -> str:
    lines = []
    for c in copies:
        s = c.summary
        lines.append(f"{s['method']}: {s['outcome']} after {s['passes']} pass(es), copy {s['copy_s']:.1f} s, "
                     f"switchover {s['switchover_s']:.2f} s, {s['mirrored_mib']:.0f} MiB mirrored, "
                     f"{s['recopied_mib']:.0f} MiB copied again")
    return "\n".join(lines)
