"""Explorers for lessons 04 and 05: sliders driving the storage copy and the ping-loss models.

Like the convergence explorer, each writes its chart straight into an
``Output`` widget's ``outputs``, so it behaves the same in JupyterLab, under
nbclient and under nbval; what it shows is also reachable as plain calls.
"""
from __future__ import annotations

import ipywidgets as w

from ..widgets import FullText, ValueSlider, binary_grid, linear_grid
from . import charts, network, storage

STYLE = {"description_width": "190px"}
LAYOUT = w.Layout(width="540px")


def _show(output: w.Output, fig, text: str) -> None:
    output.outputs = ({"output_type": "display_data", "metadata": {},
                       "data": {"application/vnd.plotly.v1+json": fig.to_plotly_json(), "text/plain": text}},)


def _slider(value, grid, label) -> ValueSlider:
    """A slider that starts at exactly ``value`` (it joins the grid when it is not on it) and reads it out so."""
    return ValueSlider(value, grid, description=label, style=STYLE, layout=LAYOUT)


class _Panel(FullText, w.VBox):
    """Sliders on top, a one-line summary, then the chart; any slider move redraws."""

    def _assemble(self, controls: dict) -> None:
        self.controls = controls
        self.summary = w.HTML()
        self.output = w.Output()
        super().__init__(children=[*controls.values(), self.summary, self.output])
        for control in controls.values():
            control.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def inputs(self) -> dict:
        return {k: float(v.value) for k, v in self.controls.items()}

    def refresh(self) -> None:
        raise NotImplementedError


class PingExplorer(_Panel):
    """Downtime, RARP delay, ping interval, RTO and an application timeout: what gets lost, who survives."""

    def __init__(self, downtime_s: float = 0.5, rarp_delay_s: float = 0.05, interval_s: float = 0.2,
                 rto_s: float = network.LINUX_RTO_MIN_S, app_timeout_s: float = 2.0):
        self._assemble({
            "downtime_s": _slider(downtime_s, linear_grid(0.0, 5.0, 0.05), "switchover downtime (s)"),
            "rarp_delay_s": _slider(rarp_delay_s, linear_grid(0.0, 2.0, 0.05), "switches learn after (s)"),
            "interval_s": _slider(interval_s, linear_grid(0.05, 1.0, 0.05), "ping interval (s)"),
            "rto_s": _slider(rto_s, linear_grid(0.2, 3.0, 0.1), "TCP retransmission timeout (s)"),
            "app_timeout_s": _slider(app_timeout_s, linear_grid(0.5, 30.0, 0.5), "application timeout (s)"),
        })

    def result(self) -> dict:
        """The model's answer for the current settings: lost pings and the TCP verdict."""
        i = self.inputs()
        lost = network.lost_pings(i["downtime_s"], interval_s=i["interval_s"], rarp_delay_s=i["rarp_delay_s"])
        tcp = network.tcp(i["downtime_s"], rarp_delay_s=i["rarp_delay_s"], rto_s=i["rto_s"],
                          app_timeout_s=i["app_timeout_s"])
        return {"lost_pings": lost, **tcp}

    def refresh(self) -> None:
        i, r = self.inputs(), self.result()
        self.summary.value = (f"<b>{r['lost_pings']} ping(s) lost</b>; TCP stalls {r['stall_s']:.2f} s after "
                              f"{r['retransmissions']} retransmission(s); the application "
                              f"{'survives' if r['app_survives'] else 'times out'}")
        fig = charts.ping_figure(i["downtime_s"], interval_s=i["interval_s"], rarp_delay_s=i["rarp_delay_s"],
                                 rto_s=i["rto_s"], app_timeout_s=i["app_timeout_s"])
        _show(self.output, fig, repr(self))

    def __repr__(self) -> str:
        i, r = self.inputs(), self.result()
        return (f"PingExplorer(downtime {i['downtime_s']:g} s, switches +{i['rarp_delay_s']:g} s): "
                f"{r['lost_pings']} ping(s) lost of one every {i['interval_s']:g} s, TCP stall {r['stall_s']:.2f} s, "
                f"app with {i['app_timeout_s']:g} s timeout {'survives' if r['app_survives'] else 'times out'}")


class CopyExplorer(_Panel):
    """Disk size, copy rate and guest write rate: the mirror's one pass against iterative copying."""

    def __init__(self, disk_gib: float = 100, copy_mibps: float = 400, write_mibps: float = 40):
        self._assemble({
            "disk_gib": _slider(disk_gib, binary_grid(4, 16384), "disk size (GiB)"),
            "copy_mibps": _slider(copy_mibps, linear_grid(50, 2000, 50), "copy rate (MiB/s)"),
            "write_mibps": _slider(write_mibps, linear_grid(0, 1000, 10), "guest writes (MiB/s)"),
        })

    def copies(self) -> tuple[storage.Copy, storage.Copy]:
        i = self.inputs()
        return tuple(storage.copy(i["disk_gib"], i["copy_mibps"], i["write_mibps"], method=m)
                     for m in storage.METHODS)

    def refresh(self) -> None:
        copies = self.copies()
        self.summary.value = "<br>".join(charts.describe_copies(*copies).splitlines())
        _show(self.output, charts.copy_figure(*copies), repr(self))

    def __repr__(self) -> str:
        i = self.inputs()
        return (f"CopyExplorer({i['disk_gib']:g} GiB at {i['copy_mibps']:g} MiB/s, guest writes "
                f"{i['write_mibps']:g} MiB/s): " + "; ".join(charts.describe_copies(*self.copies()).splitlines()))
