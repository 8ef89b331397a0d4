"""The convergence explorer: sliders for every input of the pre-copy model, a chart of the rounds.

Like labkit.widgets, it writes its view straight into an ``Output`` widget's
``outputs``, so it behaves the same in JupyterLab, under nbclient and nbval.
"""
from __future__ import annotations

import ipywidgets as w

from . import charts, model

LINK_SPEEDS_GBPS = (1, 10, 25, 40, 100)


class ConvergenceExplorer(w.VBox):
    """Move a slider, see the rounds, the downtime and the total time change."""

    def __init__(self, memory_mib: float = 16384, dirty_rate_mibps: float = 500, hot_set_mib: float = 2048,
                 hot_share: float = 0.9, link_gbps: float = 10, nics: int = 1, switchover_s: float = 0.5,
                 sdps: bool = True):
        style = {"description_width": "170px"}
        layout = w.Layout(width="520px")
        self.controls = {
            "memory_gib": w.FloatLogSlider(value=memory_mib / 1024, base=2, min=0, max=12, step=0.5,
                                           description="VM memory (GiB)", style=style, layout=layout),
            "dirty_rate_mibps": w.FloatSlider(value=dirty_rate_mibps, min=0, max=5000, step=50,
                                              description="dirty rate (MiB/s)", style=style, layout=layout),
            "hot_set_gib": w.FloatLogSlider(value=hot_set_mib / 1024, base=2, min=-4, max=12, step=0.5,
                                            description="hot set (GiB)", style=style, layout=layout),
            "hot_share": w.FloatSlider(value=hot_share, min=0.5, max=1.0, step=0.01,
                                       description="writes to the hot set", style=style, layout=layout),
            "link_gbps": w.SelectionSlider(options=LINK_SPEEDS_GBPS, value=link_gbps,
                                           description="link speed (Gb/s)", style=style, layout=layout),
            "nics": w.IntSlider(value=nics, min=1, max=4, description="vMotion NICs", style=style, layout=layout),
            "switchover_s": w.FloatSlider(value=switchover_s, min=0.1, max=5, step=0.1,
                                          description="switchover budget (s)", style=style, layout=layout),
            "sdps": w.Checkbox(value=sdps, description="SDPS", style=style),
        }
        self.summary = w.HTML()
        self.output = w.Output()
        super().__init__(children=[*self.controls.values(), self.summary, self.output])
        for control in self.controls.values():
            control.observe(lambda change: self.refresh(), names="value")
        self.refresh()

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
        return (f"ConvergenceExplorer({i['memory_mib'] / 1024:g} GiB, {i['dirty_rate_mibps']:g} MiB/s dirtied, "
                f"{i['nics']} x {i['link_gbps']} Gb/s): {self.migration()}")
