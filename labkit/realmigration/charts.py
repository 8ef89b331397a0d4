"""Charts of real migrations: a live one fed by the samples, and measured against predicted."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..plots import nice_ceil

SENT, PENDING, THROTTLE = "sent (MiB)", "pending (MiB)", "vCPU throttle (%)"


def _figure(title: str) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.update_layout(title=title, height=380, margin=dict(l=60, r=60, t=50, b=40),
                      legend=dict(orientation="h", y=-0.2), template="plotly_white")
    fig.update_xaxes(title_text="seconds since the migrate command", hoverformat=".2f")
    fig.update_yaxes(title_text="MiB", rangemode="tozero", hoverformat=".1f", secondary_y=False)
    # the throttle is a percentage: ticks at 0, 20, 40 … 100, whatever the MiB axis beside it does, and no
    # second grid across the chart
    fig.update_yaxes(title_text="throttle %", range=[0, 100], tickmode="linear", tick0=0, dtick=20,
                     showgrid=False, hoverformat=".0f", secondary_y=True)
    return fig


def samples_figure(samples: pd.DataFrame, title: str = "Live migration, sampled every 100 ms") -> go.Figure:
    """Sent and pending MiB, the throttle, and a mark at each dirty-bitmap sync."""
    fig = _figure(title)
    fig.add_scatter(x=samples["t_s"], y=samples["transferred_mib"], name=SENT, line=dict(color="#1f77b4"))
    fig.add_scatter(x=samples["t_s"], y=samples["remaining_mib"], name=PENDING, line=dict(color="#d62728"))
    fig.add_scatter(x=samples["t_s"], y=samples["throttle_pct"], name=THROTTLE,
                    line=dict(color="#7f7f7f", dash="dot"), secondary_y=True)
    syncs = samples[samples["dirty_sync_count"].diff().fillna(0) > 0]
    fig.add_scatter(x=syncs["t_s"], y=syncs["remaining_mib"], name="dirty-bitmap sync", mode="markers",
                    marker=dict(symbol="line-ns-open", size=14, color="black"))
    return fig


class LiveChart:
    """A chart in an ``Output`` widget, redrawn from ``query-migrate`` samples while the migration runs.

    Pass ``chart.update`` as ``on_sample``. Like the lessons' explorers it
    writes the figure into the widget's outputs, so it shows the same in
    JupyterLab, under nbclient and in the committed notebook.
    """

    def __init__(self, title: str = "Live migration, sampled every 100 ms", every_s: float = 0.3):
        import ipywidgets as w

        self.title = title
        self.every_s = every_s
        self.output = w.Output()
        self.samples = pd.DataFrame()
        self._drawn_at = None

    def update(self, samples: pd.DataFrame) -> None:
        self.samples = samples
        t = float(samples["t_s"].iloc[-1])
        final = samples["status"].iloc[-1] in ("completed", "failed", "cancelled")
        if final or self._drawn_at is None or t - self._drawn_at >= self.every_s:
            self._drawn_at = t
            fig = samples_figure(samples, self.title)
            self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                    "data": {"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                                             "text/plain": f"{self.title}: {len(samples)} samples"}},)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.output)


def overlay(run, predicted, title: str | None = None) -> go.Figure:
    """Measured samples (solid) against the QEMU-window model's prediction (dashed)."""
    s, w = run.samples, predicted.windows
    fig = _figure(title or "Measured (solid) and predicted (dashed)")
    fig.add_scatter(x=s["t_s"], y=s["transferred_mib"], name=f"{SENT}, measured", line=dict(color="#1f77b4"))
    fig.add_scatter(x=s["t_s"], y=s["remaining_mib"], name=f"{PENDING}, measured", line=dict(color="#d62728"))
    fig.add_scatter(x=s["t_s"], y=s["throttle_pct"], name=f"{THROTTLE}, measured", line=dict(color="#7f7f7f"),
                    secondary_y=True)
    fig.add_scatter(x=w["t_s"], y=w["transferred_mib"], name=f"{SENT}, predicted",
                    line=dict(color="#1f77b4", dash="dash"))
    fig.add_scatter(x=w["t_s"], y=w["pending_mib"], name=f"{PENDING}, predicted",
                    line=dict(color="#d62728", dash="dash"))
    fig.add_scatter(x=w["t_s"], y=w["throttle_pct"], name=f"{THROTTLE}, predicted",
                    line=dict(color="#7f7f7f", dash="dash"), secondary_y=True)
    return fig


def error_figure(table: pd.DataFrame) -> go.Figure:
    """Predicted against measured total time, one marker per point, calibration and held-back apart."""
    fig = go.Figure()
    done = table[table["measured_total_ms"].notna()]
    for role, symbol in (("calibrate", "circle"), ("held-back", "diamond")):
        t = done[done["role"] == role]
        fig.add_scatter(x=t["measured_total_ms"] / 1000, y=t["predicted_total_ms"] / 1000, mode="markers+text",
                        text=t["point"], textposition="top center", name=role, marker=dict(symbol=symbol, size=10))
    # both axes end at the same round number of seconds, so the diagonal is the 45° line it stands for
    top = nice_ceil(float(max(done["measured_total_ms"].max(), done["predicted_total_ms"].max())) / 1000 * 1.05)
    fig.add_scatter(x=[0, top], y=[0, top], mode="lines", name="exact", line=dict(color="gray", dash="dot"))
    fig.update_layout(title="QEMU-window model against the measured matrix: total migration time",
                      xaxis_title="measured (s, median of 3)", yaxis_title="predicted (s)", height=420,
                      template="plotly_white")
    fig.update_xaxes(range=[0, top], hoverformat=".2f")
    fig.update_yaxes(range=[0, top], hoverformat=".2f")
    return fig
