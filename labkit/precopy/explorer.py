"""The convergence explorer: sliders for every input of the pre-copy model, a chart of the rounds.

Like labkit.widgets, it writes its view straight into an ``Output`` widget's
``outputs``, so it behaves the same in JupyterLab, under nbclient and nbval.
"""
from __future__ import annotations

import ipywidgets as w

from ..widgets import ControlPanel, ValueSlider, binary_grid, linear_grid, mib_text, number
from . import charts, model

LINK_SPEEDS_GBPS = (1, 10, 25, 40, 100)


class ConvergenceExplorer(ControlPanel):
    """Move a slider, see the rounds, the downtime and the total time change."""

    def __init__(self, memory_mib: float = 16384, dirty_rate_mibps: float = 500, hot_set_mib: float = 2048,
                 hot_share: float = 0.9, link_gbps: float = 10, nics: int = 1, switchover_s: float = 0.5,
                 sdps: bool = True):
        style = {"description_width": "170px"}
        layout = w.Layout(width="520px")

        def slider(value, grid, label, **kw):
            return ValueSlider(value, grid, description=label, style=style, layout=layout, **kw)

        def gib(value):  # the memory controls hold GiB; a size that is not a short number of GiB reads in MiB
            return mib_text(value * 1024)

        # each slider starts at exactly the value given (it joins the grid if it is not on it) and reads it out
        controls = {
            "memory_gib": slider(memory_mib / 1024, binary_grid(1, 4096), "VM memory", text=gib),
            "dirty_rate_mibps": slider(dirty_rate_mibps, linear_grid(0, 5000, 50), "dirty rate (MiB/s)"),
            "hot_set_gib": slider(hot_set_mib / 1024, binary_grid(1 / 16, 4096), "hot set", text=gib),
            "hot_share": slider(hot_share, linear_grid(0.5, 1.0, 0.01), "writes to the hot set"),
            "link_gbps": slider(link_gbps, LINK_SPEEDS_GBPS, "link speed (Gb/s)"),
            "nics": slider(nics, linear_grid(1, 4, 1), "vMotion NICs"),
            "switchover_s": slider(switchover_s, linear_grid(0.1, 5, 0.1), "switchover budget (s)"),
            "sdps": w.Checkbox(value=sdps, description="SDPS", style=style),
        }
        self._wire(controls)

    def inputs(self) -> dict:
        """The model inputs the controls hold now."""
        c = {k: v.value for k, v in self.controls.items()}
        memory_mib = c["memory_gib"] * 1024
        return {"memory_mib": memory_mib, "dirty_rate_mibps": c["dirty_rate_mibps"],
                "hot_set_mib": min(c["hot_set_gib"] * 1024, memory_mib), "hot_share": c["hot_share"],
                "link_gbps": c["link_gbps"], "nics": c["nics"], "switchover_s": c["switchover_s"],
                "sdps": c["sdps"]}

    def migration(self) -> model.Migration:
        return model.simulate(**self.inputs())

    def refresh(self) -> None:
        m = self.migration()
        self.summary.value = f"<b>{m.summary['outcome']}</b>: {m}"
        fig = charts.rounds_figure(m)
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                                         "text/plain": str(m)}},)

    def __repr__(self) -> str:
        i = self.inputs()
        return (f"ConvergenceExplorer({mib_text(i['memory_mib'])}, {number(i['dirty_rate_mibps'])} MiB/s dirtied, "
                f"{number(i['nics'])} x {number(i['link_gbps'])} Gb/s): {self.migration()}")
