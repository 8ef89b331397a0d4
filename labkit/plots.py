"""Shared plotly figures, each with a plain-text summary nbval can compare.

nbval does not compare plotly's JSON (it changes between plotly versions), so
every figure comes with :func:`describe`, which prints what the figure shows.

The axis helpers keep every chart of the course readable: whole numbers on an
axis that counts (:func:`whole_axis`), one labelled tick per power of ten on a
log axis (:func:`log_axis`), round ends (:func:`nice_ceil`), and hover text
wrapped at word boundaries (:func:`wrap_html`).
"""
from __future__ import annotations

import math
import textwrap

import numpy as np
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
    fig.update_yaxes(**whole_axis(counts.sum(axis=1).max() if len(counts) else 1))  # VMs come whole
    return fig


def describe(fig: go.Figure) -> str:
    """One line per trace: its name and its (x, y) points."""
    lines = [f"figure: {fig.layout.title.text}"]
    for trace in fig.data:
        points = ", ".join(f"{x}={y}" for x, y in zip(trace.x, trace.y))
        lines.append(f"  {trace.name}: {points}")
    return "\n".join(lines)


# -- readable axes -------------------------------------------------------------------------------------------------
def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50 … (times a power of ten) that is at least ``raw``."""
    if not raw > 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw * (1 - 1e-9):
            return float(f"{m * power:.12g}")
    return 10 * power


def nice_ceil(x: float) -> float:
    """``x`` rounded up to a round number (1, 2, 2.5, 5 or 10 times a power of ten): an axis end a reader can name."""
    if not x > 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= x * (1 - 1e-9):
            return float(f"{m * power:.12g}")
    return 10 * power


def whole_axis(top: float, most: int = 12) -> dict:
    """Axis settings for a count (rounds, VMs): ticks on whole numbers only, every 1, 2, 5, 10 … of them.

    Without it plotly puts a small count's ticks at 0.5, 1, 1.5.
    """
    step = max(1, int(nice_step(float(top) / most))) if top and top > 0 else 1
    return dict(tickmode="linear", tick0=0, dtick=step, tickformat=",d")


def _tick_text(v: float) -> str:
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


def log_axis(values, pad: float = 0.06) -> dict:
    """Axis settings for a log axis over ``values``: labelled ticks at 1, 10, 100 … only, no minor labels.

    When the values span less than two powers of ten, the ticks are 1, 2, 5, 10, 20, 50 … so
    the axis still has more than one label. Values of zero or less are left out (a log axis cannot
    show them). ``range`` covers the values, in plotly's log10 units.
    """
    v = np.asarray(pd.to_numeric(pd.Series(np.ravel(np.asarray(values, dtype=object))), errors="coerce"),
                   dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return dict(type="log", dtick=1)
    lo, hi = math.log10(v.min()), math.log10(v.max())
    margin = max(hi - lo, 0.5) * pad
    low, high = lo - margin, hi + margin
    first, last = math.floor(low), math.ceil(high)
    mantissas = (1,) if high - low >= 2 else (1, 2, 5)  # two powers of ten or more: label only those
    every = [float(f"{m}e{k}") for k in range(first - 1, last + 2) for m in mantissas]
    ticks = [t for t in every if low <= math.log10(t) <= high]
    if len(ticks) < 2:  # less than a 1-2-5 step wide: widen the range to the round values either side
        below = max(t for t in every if math.log10(t) <= lo)
        above = min(t for t in every if math.log10(t) >= hi)
        if below == above:  # one value, on a round one: a step either side
            below, above = max(t for t in every if t < below), min(t for t in every if t > above)
        low, high = math.log10(below), math.log10(above)
        ticks = [t for t in every if low - 1e-9 <= math.log10(t) <= high + 1e-9]
        low, high = low - 0.02 * (high - low), high + 0.02 * (high - low)
    return dict(type="log", range=[round(low, 4), round(high, 4)], tickmode="array", tickvals=ticks,
                ticktext=[_tick_text(t) for t in ticks], minor=dict(showgrid=False, ticks=""))


def wrap_html(text: str, width: int = 60) -> str:
    """``text`` for plotly hover or table cells: lines of at most ``width`` characters, broken at word boundaries
    with ``<br>`` (plotly never wraps on its own). Existing ``<br>`` breaks are kept."""
    lines = []
    for part in str(text).split("<br>"):
        lines += textwrap.wrap(part, width=width, break_long_words=False, break_on_hyphens=False) or [""]
    return "<br>".join(lines)
