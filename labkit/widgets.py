"""ipywidgets explorers. Each one drives a plain function that tests and
printed lines can call too, since nbval never compares widget views.

An explorer writes its view straight into an ``Output`` widget's ``outputs``
instead of capturing ``display()`` calls: that behaves the same in JupyterLab,
under nbclient and under nbval, and leaves no ``clear_output`` frames behind.
"""
from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
import pandas as pd


class Explorer(w.VBox):
    """A control above an output area; shows a one-line repr in text form."""

    def __init__(self, control: w.ValueWidget, render: Callable[[object], object]):
        self.control = control
        self.render = render
        self.output = w.Output()
        super().__init__(children=[control, self.output])
        control.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def refresh(self) -> None:
        self.output.outputs = (_bundle(self.render(self.control.value)),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.control.description}={self.control.value!r})"


def _bundle(obj) -> dict:
    data = {"text/plain": repr(obj) if not isinstance(obj, str) else obj}
    if hasattr(obj, "_repr_html_"):
        data["text/html"] = obj._repr_html_()
    return {"output_type": "display_data", "data": data, "metadata": {}}


def vms_on_host(vms: pd.DataFrame, host: str) -> pd.DataFrame:
    """The VMs that run on ``host``, with the columns a vMotion lesson looks at."""
    cols = ["name", "powerState", "memoryMB", "numCPU", "datastore", "network"]
    return vms.loc[vms["host"] == host, cols].reset_index(drop=True)


def host_explorer(vms: pd.DataFrame) -> Explorer:
    """Pick a host, see its VMs."""
    hosts = sorted(h for h in vms["host"].dropna().unique())
    return Explorer(w.Dropdown(options=hosts, description="host"), lambda host: vms_on_host(vms, host))
