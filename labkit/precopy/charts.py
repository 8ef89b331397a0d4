"""plotly figures of the pre-copy model, each with a plain-text description nbval can compare."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..plots import log_axis, whole_axis
from . import model

COLORS = {"pre-copy": "#1565c0", "switchover": "#c62828", "dirtied": "#f9a825",
          "converged": "#2e7d32", "long switchover": "#f9a825", "failed": "#424242"}


def rounds_figure(migration: model.Migration, title: str | None = None) -> go.Figure:
    """One bar per round (what it sent) and a line (what the guest dirtied meanwhile)."""
    r = migration.rounds
    fig = go.Figure()
    for phase in ("pre-copy", "switchover"):
        part = r[r["phase"] == phase]
        fig.add_bar(name=f"sent ({phase})", x=part["round"].tolist(), y=part["sent_mib"].round(1).tolist(),
                    marker_color=COLORS[phase],
                    customdata=np.c_[part["start_s"].round(2), part["duration_s"].round(3), part["throttle_pct"]],
                    hovertemplate="round %{x}: %{y:.0f} MiB sent from %{customdata[0]} s in %{customdata[1]} s"
                                  ", vCPUs throttled %{customdata[2]} %<extra></extra>")
    pre = r[r["phase"] == "pre-copy"]
    fig.add_scatter(name="dirtied during the round", x=pre["round"].tolist(),
                    y=pre["remaining_mib"].round(1).tolist(), mode="lines+markers",
                    line_color=COLORS["dirtied"])
    s = migration.summary
    fig.update_layout(title=title or f"Pre-copy rounds: {s['outcome']}, downtime {s['downtime_s'] * 1000:.0f} ms",
                      xaxis_title="round", yaxis_title="MiB", height=400,
                      legend=dict(orientation="h", y=-0.25), bargap=0.2)
    # rounds are whole; MiB on a log axis labelled at 1, 10, 100 … only
    fig.update_xaxes(**whole_axis(r["round"].max() if len(r) else 1))
    fig.update_yaxes(**log_axis([y for trace in fig.data for y in trace.y]))
    fig.add_annotation(text=headline(migration), xref="paper", yref="paper", x=1, y=1.02, xanchor="right",
                       yanchor="bottom", showarrow=False, font=dict(size=12))
    return fig


def headline(migration: model.Migration) -> str:
    """Total time, downtime, data sent and throttling in one short line."""
    s = migration.summary
    parts = [f"total {s['total_s']:.1f} s", f"downtime {s['downtime_s'] * 1000:.0f} ms",
             f"{s['sent_gib']:.1f} GiB sent", f"{s['rounds']} round(s)"]
    if s["max_throttle_pct"]:
        parts.append(f"vCPUs throttled up to {s['max_throttle_pct']:.0f} %")
    return " · ".join(parts)


def dirty_growth_figure(table: pd.DataFrame, title: str = "Distinct memory dirtied since a clean start") -> go.Figure:
    """Measured points against the working-set model and the constant-rate model (log axes)."""
    fig = go.Figure()
    fig.add_scatter(name="measured", x=table["period_s"].tolist(), y=table["measured_mib"].round(0).tolist(),
                    mode="markers", marker=dict(size=8, color="#212121"))
    fig.add_scatter(name="working-set model", x=table["period_s"].tolist(), y=table["model_mib"].round(0).tolist(),
                    mode="lines", line_color=COLORS["pre-copy"])
    fig.add_scatter(name="constant rate", x=table["period_s"].tolist(), y=table["linear_mib"].round(0).tolist(),
                    mode="lines", line=dict(dash="dash", color=COLORS["switchover"]))
    fig.update_layout(title=title, xaxis_title="seconds since the dirty bitmap was cleared", yaxis_title="MiB",
                      height=380)
    fig.update_xaxes(**log_axis(table["period_s"]))
    fig.update_yaxes(**log_axis([y for trace in fig.data for y in trace.y]))
    return fig


def convergence_map(memory_mib: float, dirty_rates_mibps, link_speeds_gbps, **options) -> tuple[go.Figure, pd.DataFrame]:
    """A heatmap over dirty rate × link speed, one colour per outcome, shaded by downtime; grey where it fails.

    Returns the figure and the sweep behind it (one row per cell).
    """
    axes = model.grid(dirty_rate_mibps=np.asarray(dirty_rates_mibps, dtype=float),
                      link_gbps=np.asarray(link_speeds_gbps, dtype=float))
    table = model.sweep(memory_mib=memory_mib, **axes, **options)
    rates, links = sorted(set(axes["dirty_rate_mibps"])), sorted(set(axes["link_gbps"]))
    cube = table.set_index(["link_gbps", "dirty_rate_mibps"])
    downtime = cube["downtime_s"].unstack().reindex(index=links, columns=rates)
    outcome = cube["outcome"].unstack().reindex(index=links, columns=rates)
    total = cube["total_s"].unstack().reindex(index=links, columns=rates)
    hover = np.vectorize(lambda o, d, t: f"{o}<br>downtime {d:.0f} ms<br>total {t:.1f} s" if o != "failed"
                         else "failed: switchover would exceed the maximum<br>the VM stays on the source")(
        outcome.to_numpy(), (downtime * 1000).to_numpy(), total.to_numpy())
    log_ms = np.log10((downtime * 1000).clip(lower=1)).to_numpy()
    rows = [f"{g:g} Gb/s" for g in links]  # one evenly sized row per link speed
    fig = go.Figure()
    # one layer per outcome: the hue says the outcome, the shade the downtime
    layers = (("converged", "Viridis", dict(title="downtime<br>(converged)", tickvals=[0, 1, 2, 3],
                                             ticktext=["1 ms", "10 ms", "100 ms", "1 s"], x=1.0, len=0.5, y=0.75)),
              ("long switchover", [[0, "#fdd49e"], [1, "#7f2704"]], dict(title="downtime<br>(long)", tickvals=[3, 4, 5],
                                                  ticktext=["1 s", "10 s", "100 s"], x=1.0, len=0.5, y=0.2)))
    for name, scale, bar in layers:
        z = np.where(outcome.to_numpy() == name, log_ms, np.nan)
        fig.add_heatmap(name=name, x=rates, y=rows, z=z, text=hover, hoverinfo="text", colorscale=scale,
                        zmin=bar["tickvals"][0], zmax=bar["tickvals"][-1], colorbar=bar)
    failed = np.where(outcome.to_numpy() == "failed", 1.0, np.nan)
    fig.add_heatmap(name="failed", x=rates, y=rows, z=failed, text=hover, hoverinfo="text", showscale=False,
                    colorscale=[[0, COLORS["failed"]], [1, COLORS["failed"]]])
    bandwidth_mibps = np.asarray(links) * 1e9 / 8 / 2**20 * (options.get("efficiency", model.DEFAULTS["efficiency"])
                                                             * options.get("nics", 1))
    fig.add_scatter(name="dirty rate = send rate", x=bandwidth_mibps.round(1).tolist(), y=rows, mode="lines",
                    line=dict(color="white", dash="dot"))
    fig.update_layout(title=f"Where pre-copy converges: a {memory_mib / 1024:g} GiB VM", height=420,
                      xaxis_title="dirty rate (MiB/s)", yaxis_title="link speed per vMotion NIC",
                      xaxis_range=[min(rates), max(rates)], legend=dict(orientation="h", y=-0.2))
    return fig, table


def describe_map(table: pd.DataFrame) -> str:
    """What the convergence map shows, in words: outcomes counted, and the downtime range of completed cells."""
    counts = table["outcome"].value_counts()
    parts = [f"{counts.get(o, 0)} {o}" for o in model.OUTCOMES]
    done = table[table["outcome"] != "failed"]
    lines = [f"{len(table)} configurations: " + ", ".join(parts)]
    if len(done):
        lines.append(f"downtime of completed migrations: between {done['downtime_s'].min() * 1000:.0f} ms "
                     f"and {done['downtime_s'].max() * 1000:.0f} ms")
    return "\n".join(lines)
