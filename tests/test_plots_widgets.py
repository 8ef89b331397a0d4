"""Figures and explorers: what they show is reachable as plain data."""
import pandas as pd

from labkit import inventory, plots, widgets


def test_vms_per_host_matches_the_inventory(session):
    vms = inventory.vms(session)
    fig = plots.vms_per_host(vms)
    shown = {(t.name, x): y for t in fig.data for x, y in zip(t.x, t.y)}
    expected = vms.groupby(["powerState", "host"]).size().to_dict()
    assert {k: v for k, v in shown.items() if v} == expected
    text = plots.describe(fig)
    assert text.splitlines()[0] == "figure: Virtual machines per host"
    assert all(f"{h}=" in text for h in vms["host"].unique())


def test_host_explorer_follows_its_dropdown(session):
    vms = inventory.vms(session)
    ex = widgets.host_explorer(vms)
    hosts = list(ex.control.options)
    assert hosts == sorted(vms["host"].unique())
    for host in hosts:
        ex.control.value = host
        (out,) = ex.output.outputs
        assert out["data"]["text/plain"] == repr(widgets.vms_on_host(vms, host))
    assert repr(ex) == f"Explorer(host={hosts[-1]!r})"


def test_vms_on_host_is_a_filter():
    vms = pd.DataFrame({"name": ["a", "b"], "host": ["h1", "h2"], "powerState": ["poweredOn"] * 2,
                        "memoryMB": [1, 2], "numCPU": [1, 1], "datastore": [[], []], "network": [[], []]})
    assert list(widgets.vms_on_host(vms, "h2")["name"]) == ["b"]
