"""The report's figures: the VM × host verdict heatmap, readable for thousands of VMs, and verdicts per host.
Pure: tables in, plotly figures out.

A heatmap row per VM stops being readable long before 2,000 VMs. VMs whose verdicts and fault types are the
same on every host share one row (:func:`groups`): in a world of identically built VMs that is a handful of rows
whatever the number of VMs. Rows are labelled by their first VM and how many share it; the hover names up to ten
of them. Columns are hosts, labelled ``cluster / host`` so that a cluster's hosts sit together. A cell where
vCenter's verdict differs from labkit's for any VM of the row carries a black ✕. Colours and hover text are
:func:`labkit.compat.charts.heatmap`'s.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..compat import charts

#: rows drawn at most; the groups with problems come first, the rest are summed up in the title
MAX_ROWS = 300


def _column(host: str, cluster) -> str:
    return f"{cluster if isinstance(cluster, str) and cluster else '(standalone)'} / {host}"


def groups(table: pd.DataFrame) -> pd.DataFrame:
    """One row per group of VMs with the same verdict and fault types on every host: ``group`` (number, groups
    with problems first, then the largest, then by first VM), ``label``, ``vms`` (names, sorted), ``size``,
    ``problems`` (pairs not ok per VM)."""
    if table.empty:
        return pd.DataFrame(columns=["group", "label", "vms", "size", "problems"])
    cell = table["verdict"].to_numpy().astype(object) + ":" + np.array(
        [",".join(e + w) for e, w in zip(table["errors"], table["warnings"])], dtype=object)
    code = pd.factorize(cell)[0]
    vms, vi = np.unique(table["vm"].to_numpy().astype(str), return_inverse=True)
    _, hi = np.unique(table["host"].to_numpy().astype(str), return_inverse=True)
    grid = np.full((len(vms), hi.max() + 1), -1)
    grid[vi, hi] = code
    _, which = np.unique(grid, axis=0, return_inverse=True)
    bad = np.bincount(vi, weights=(table["verdict"] != "ok").to_numpy(), minlength=len(vms)).astype(int)
    out = pd.DataFrame({"vm": vms, "g": which.ravel(), "bad": bad}).groupby("g", sort=False).agg(
        vms=("vm", list), problems=("bad", "first"))
    out["size"] = out["vms"].map(len)
    out["first"] = out["vms"].map(lambda v: v[0])
    out = out.sort_values(["problems", "size", "first"], ascending=[False, False, True], kind="stable")
    out["group"] = range(len(out))
    out["label"] = [v[0] if len(v) == 1 else f"{v[0]} + {len(v) - 1} like it" for v in out["vms"]]
    return out[["group", "label", "vms", "size", "problems"]].reset_index(drop=True)


def heatmap(table: pd.DataFrame, title: str = "Can each VM move to each host? (labkit's rules)") -> go.Figure:
    """The verdict heatmap of ``table`` (the audit's pairs: vm, host, host_cluster, verdict, errors, warnings,
    reasons, vcenter_asked, agree): one row per group of alike VMs, at most :data:`MAX_ROWS`."""
    g = groups(table)
    shown = g.head(MAX_ROWS)
    first = dict(zip(shown["vms"].map(lambda v: v[0]), shown.index))
    sub = table[table["vm"].isin(first)].copy()
    sub["x"] = [_column(h, c) for h, c in zip(sub["host"], sub["host_cluster"])]
    label = dict(zip(shown.index, shown["label"]))
    members = dict(zip(shown.index, shown["vms"]))
    row = sub["vm"].map(first)
    sub["y"] = row.map(label)
    head = [("" if len(members[i]) == 1 else
             f"{len(members[i])} VMs alike: {', '.join(members[i][:10])}{', …' if len(members[i]) > 10 else ''}; ")
            for i in row]
    home = sub["host"] == sub["source_host"] if "source_host" in sub else pd.Series(False, index=sub.index)
    why = ["the VM runs on this host" if at and len(members[i]) == 1 else r
           for at, i, r in zip(home, row, sub["reasons"])]
    sub["reasons"] = [h + (r or "no problem found") if h else r for h, r in zip(head, why)]
    fig = charts.heatmap(sub.assign(vm=sub["y"], host=sub["x"]), title=title)
    if len(g) > len(shown):
        more = g.iloc[len(shown):]
        fig.update_layout(title=f"{title}: the first {len(shown)} of {len(g)} groups of alike VMs; "
                                f"{int(more['size'].sum()):,} VMs in the other groups")
    # a ✕ where vCenter disagrees with labkit for any VM of the row
    asked = table[table["vcenter_asked"] & (table["agree"] == False)]  # noqa: E712 (None is not False)
    if len(asked):
        member_row = {v: label[i] for i, vms in members.items() for v in vms}
        marks = asked[asked["vm"].isin(member_row)]
        if len(marks):
            xy = sorted({(_column(h, c), member_row[v]) for v, h, c in
                         zip(marks["vm"], marks["host"], marks["host_cluster"])})
            fig.add_trace(go.Scatter(x=[x for x, _ in xy], y=[y for _, y in xy], mode="markers",
                                     marker=dict(symbol="x", color="black", size=10),
                                     name="vCenter disagrees", hoverinfo="skip", showlegend=True))
    rows = len(shown)
    fig.update_layout(height=min(4000, max(320, 140 + 22 * rows)), margin=dict(l=10, r=10, t=60, b=10),
                      xaxis=dict(tickangle=-45, type="category"),
                      yaxis=dict(type="category", categoryorder="array", categoryarray=list(shown["label"])),
                      legend=dict(orientation="h", y=1.02, x=1, xanchor="right"))
    return fig


def per_host(table: pd.DataFrame) -> go.Figure:
    """Pairs per destination host (``cluster / host``), stacked by labkit's verdict."""
    counts = table.groupby(["host", "verdict"]).size().unstack(fill_value=0)
    cluster = table.drop_duplicates("host").set_index("host")["host_cluster"]
    counts.index = [_column(h, cluster[h]) for h in counts.index]
    counts = counts.sort_index()
    fig = go.Figure()
    for verdict, color in (("ok", "#2e7d32"), ("warning", "#f9a825"), ("blocked", "#c62828")):
        if verdict in counts:
            fig.add_bar(name=verdict, x=list(counts.index), y=[int(v) for v in counts[verdict]], marker_color=color)
    fig.update_layout(barmode="stack", title="VMs that could move to each host, by labkit's verdict",
                      xaxis_title="destination host", yaxis_title="VMs", height=380,
                      xaxis=dict(tickangle=-45, type="category"), margin=dict(l=10, r=10, t=60, b=10))
    return fig
