"""Shared plotly figures, each with a plain-text summary nbval can compare.

nbval does not compare plotly's JSON (it changes between plotly versions), so
every figure comes with :func:`describe`, which prints what the figure shows.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

POWER_COLORS = {"poweredOn": "#2e7d32", "poweredOff": "#9e9e9e", "suspended": "#f9a825"}


def vm_count_by_host(vms: pd.DataFrame) -> pd.DataFrame:
    """VMs per host and power state: rows are hosts, columns power states."""
    table = vms.pivot_table(index="host", columns="powerState", values="name", aggfunc="count", fill_value=0)
    table.columns.name = None
    return table.sort_index()


def vms_per_host(vms: pd.DataFrame) -> go.Figure:
    """A stacked bar chart: how many VMs each host runs, by power state."""
    counts = vm_count_by_host(vms)
    fig = go.Figure()
    for state in counts.columns:
        fig.add_bar(name=state, x=list(counts.index), y=[int(v) for v in counts[state]],
                    marker_color=POWER_COLORS.get(state))
    fig.update_layout(barmode="stack", title="Virtual machines per host", xaxis_title="host",
                      yaxis_title="virtual machines", legend_title="power state", height=380)
    return fig


def describe(fig: go.Figure) -> str:
    """One line per trace: its name and its (x, y) points."""
    lines = [f"figure: {fig.layout.title.text}"]
    for trace in fig.data:
        points = ", ".join(f"{x}={y}" for x, y in zip(trace.x, trace.y))
        lines.append(f"  {trace.name}: {points}")
    return "\n".join(lines)
