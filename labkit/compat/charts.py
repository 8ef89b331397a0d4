"""The VM × host matrix as a plotly heatmap, with the blocking reasons on hover."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..plots import wrap_html

LEVELS = {"ok": 0, "warning": 1, "blocked": 2}
SCALE = [[0, "#2e7d32"], [0.33, "#2e7d32"], [0.34, "#f9a825"], [0.66, "#f9a825"], [0.67, "#c62828"], [1, "#c62828"]]


def heatmap(table: pd.DataFrame, title: str = "Can this VM move to this host?") -> go.Figure:
    """Rows are VMs, columns hosts; green ok, amber warning, red blocked, blank not checked; hover shows why."""
    vms, hosts = sorted(table["vm"].unique()), sorted(table["host"].unique())
    grid = table.set_index(["vm", "host"])
    z = grid["verdict"].map(LEVELS).unstack().reindex(index=vms, columns=hosts)
    # a pair missing from the table (a VM's own host, say) stays blank
    why = grid["reasons"].where(grid["reasons"] != "", "no problem found").unstack() \
        .reindex(index=vms, columns=hosts).fillna("not checked")
    text = np.vectorize(lambda v, h, r: f"{v} → {h}<br>{_reasons(r)}")(
        np.array(vms)[:, None], np.array(hosts)[None, :], why.to_numpy())
    fig = go.Figure(go.Heatmap(x=hosts, y=vms, z=z.to_numpy(), zmin=0, zmax=2, colorscale=SCALE, text=text,
                               hoverinfo="text", xgap=2, ygap=2,
                               colorbar=dict(tickvals=[0, 1, 2], ticktext=["ok", "warning", "blocked"])))
    fig.update_layout(title=title, xaxis_title="destination host", yaxis_title="virtual machine",
                      height=max(300, 60 + 28 * len(vms)), yaxis_autorange="reversed")
    return fig


def _reasons(reasons: str) -> str:
    """Hover text: one reason a paragraph, each wrapped at word boundaries (plotly's hover box never wraps, so a
    long reason ran off the chart)."""
    parts = reasons.split("; ")
    if len(parts) == 1:
        return wrap_html(reasons)
    return "<br>".join("• " + wrap_html(p).replace("<br>", "<br>   ") for p in parts)


def describe(table: pd.DataFrame) -> str:
    """The matrix in words: counts, then each pair that is not ok with its fault types."""
    counts = table["verdict"].value_counts()
    lines = [f"{len(table)} pairs: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in LEVELS)]
    for r in table[table["verdict"] != "ok"].sort_values(["vm", "host"]).itertuples():
        lines.append(f"  {r.vm} -> {r.host}: {r.verdict} ({', '.join(r.errors + r.warnings)})")
    return "\n".join(lines)
