"""Explore the calibrated QEMU-window model with sliders, between real runs (which take seconds each)."""
from __future__ import annotations

import ipywidgets as w

from ..widgets import ControlPanel, ValueSlider, linear_grid, number
from . import calibrate, charts

STYLE = {"description_width": "190px"}
LAYOUT = w.Layout(width="540px")


class ModelExplorer(ControlPanel):
    """Dirty rate, hot set, bandwidth, downtime-limit, writer mode and auto-converge: the predicted run."""

    def __init__(self, memory_mib: int = 128, wss_mib: int = 48, hot_mib: int = 16, dirty_rate: int = 8192,
                 max_bandwidth_mibps: int = 24, downtime_limit_ms: int = 100, mode: str = "sleep",
                 auto_converge: bool = False, timeout_s: float = 30.0):
        self.fixed = dict(memory_mib=memory_mib, wss_mib=wss_mib, pattern="seq", timeout_s=timeout_s)

        def slider(value, lo, hi, step, label):
            # starts at exactly the value given: it joins the grid when it is not on it (an IntSlider snaps it)
            return ValueSlider(value, linear_grid(lo, hi, step), description=label, style=STYLE, layout=LAYOUT)

        controls = {
            "dirty_rate": slider(dirty_rate, 0, 16384, 512, "guest writes (pages/s)"),
            "hot_mib": slider(hot_mib, 4, wss_mib, 4, "hot set (MiB)"),
            "max_bandwidth_mibps": slider(max_bandwidth_mibps, 8, 128, 4, "max-bandwidth (MiB/s)"),
            "downtime_limit_ms": slider(downtime_limit_ms, 20, 1000, 20, "downtime-limit (ms)"),
            "mode": w.ToggleButtons(options=["sleep", "spin"], value=mode, description="writer",
                                    style=STYLE),
            "auto_converge": w.Checkbox(value=auto_converge, description="auto-converge", style=STYLE),
        }
        self._wire(controls)

    def settings(self) -> dict:
        return {**self.fixed, **{k: c.value for k, c in self.controls.items()}}

    def prediction(self):
        return calibrate.predict(self.settings())

    def refresh(self) -> None:
        p = self.prediction()
        self.summary.value = f"<b>{p}</b>"
        w_ = p.windows
        fig = charts._figure("Predicted by the QEMU-window model")
        fig.add_scatter(x=w_["t_s"], y=w_["transferred_mib"], name=charts.SENT, line=dict(color="#1f77b4"))
        fig.add_scatter(x=w_["t_s"], y=w_["pending_mib"], name=charts.PENDING, line=dict(color="#d62728"))
        fig.add_scatter(x=w_["t_s"], y=w_["throttle_pct"], name=charts.THROTTLE,
                        line=dict(color="#7f7f7f", dash="dot"), secondary_y=True)
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                                         "text/plain": repr(self)}},)

    def __repr__(self) -> str:
        s = self.settings()
        return (f"ModelExplorer({number(s['dirty_rate'])} pages/s on a {number(s['hot_mib'])} MiB hot set, "
                f"{number(s['max_bandwidth_mibps'])} MiB/s, {number(s['downtime_limit_ms'])} ms, {s['mode']}, "
                f"auto-converge {'on' if s['auto_converge'] else 'off'}): {self.prediction()}")
