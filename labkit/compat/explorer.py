"""Pick a VM and a destination host, see the checklist: one ipywidgets control pair over compat.check()."""
from __future__ import annotations

import ipywidgets as w

from ..widgets import FullText, table_html
from . import check
from .facts import Facts


class CheckExplorer(FullText, w.VBox):
    """Two dropdowns over one inventory snapshot; the checklist below follows them."""

    def __init__(self, facts: Facts, vm: str | None = None, host: str | None = None):
        self.facts = facts
        vms, hosts = sorted(facts.vms["vm"]), sorted(facts.hosts["host"])
        self.vm = w.Dropdown(options=vms, value=vm or vms[0], description="VM")
        self.host = w.Dropdown(options=hosts, value=host or hosts[0], description="destination")
        self.output = w.Output()
        super().__init__(children=[w.HBox([self.vm, self.host]), self.output])
        for control in (self.vm, self.host):
            control.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def table(self):
        return check(self.facts, self.vm.value, self.host.value)

    def refresh(self) -> None:
        t = self.table()
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"text/plain": t.to_string(), "text/html": table_html(t)}},)

    def __repr__(self) -> str:
        t = self.table()
        failing = t.loc[t["status"] != "pass", "check"].tolist()
        return (f"CheckExplorer({self.vm.value} -> {self.host.value}): "
                + (f"{', '.join(failing)} not passing" if failing else "every check passes"))
