"""What a learner reads off the explorers, the charts and the tables: exact slider values, readable axes,
numbers printed rounded, long text in full.

1. every explorer slider starts at exactly the value the code passed, and reads it out in the unit it was
   passed in (or an exact conversion: 3072 MiB is 3 GiB);
2. axes tick at round values (whole numbers where the quantity is whole, 1 · 10 · 100 on log axes, 0 · 20 · 40
   on the throttle axis) and the ping chart's labels never overlap;
3. nothing prints a float's binary noise (1.4000000000000001);
4. long reasons, fixes, facts and event messages are shown in full, wrapping at word boundaries.
"""
import itertools
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter
from traitlets import TraitError

from labkit import compat, continuity, plots, precopy, troubleshoot, widgets
from labkit import realmigration as rm
from labkit.continuity import network

LONG_FLOAT = re.compile(r"\d\.\d{7,}")


def _sliders(explorer) -> dict:
    return {k: c for k, c in explorer.controls.items() if isinstance(c, widgets.ValueSlider)}


def _assert_holds(explorer, expected: dict):
    """Each named slider holds exactly the value, and reads out exactly the text, given."""
    for key, (value, readout) in expected.items():
        slider = explorer.controls[key]
        assert isinstance(slider, widgets.ValueSlider), key
        assert slider.value == value, (key, slider.value, value)
        assert slider.label == readout, (key, slider.label, readout)
        assert slider.values[slider.index] == value  # where the handle sits in the browser
    for key, slider in _sliders(explorer).items():
        assert list(slider.values) == sorted(slider.values), key
        labels = [label for label, _ in slider.options]
        assert len(set(labels)) == len(labels), key  # every stop reads differently


# -- 1. sliders start where they are told ----------------------------------------------------------------------
@pytest.mark.parametrize("given, expected", [
    (dict(memory_mib=3072, dirty_rate_mibps=333, hot_set_mib=3072, hot_share=0.875, link_gbps=20, nics=3,
          switchover_s=0.25, sdps=False),
     dict(memory_gib=(3.0, "3 GiB"), dirty_rate_mibps=(333, "333"), hot_set_gib=(3.0, "3 GiB"),
          hot_share=(0.875, "0.875"), link_gbps=(20, "20"), nics=(3, "3"), switchover_s=(0.25, "0.25"))),
    (dict(memory_mib=1000, dirty_rate_mibps=1234.5, hot_set_mib=100, hot_share=0.93, link_gbps=25, nics=2,
          switchover_s=1.7),
     dict(memory_gib=(1000 / 1024, "1000 MiB"), dirty_rate_mibps=(1234.5, "1234.5"), hot_set_gib=(100 / 1024, "100 MiB"),
          hot_share=(0.93, "0.93"), link_gbps=(25, "25"), nics=(2, "2"), switchover_s=(1.7, "1.7"))),
    (dict(memory_mib=24576, dirty_rate_mibps=1500, hot_set_mib=1536, hot_share=0.6, link_gbps=2.5, nics=4,
          switchover_s=0.12),
     dict(memory_gib=(24.0, "24 GiB"), dirty_rate_mibps=(1500, "1500"), hot_set_gib=(1.5, "1.5 GiB"),
          hot_share=(0.6, "0.60"), link_gbps=(2.5, "2.5"), nics=(4, "4"), switchover_s=(0.12, "0.12"))),
    # the lessons' own calls
    (dict(memory_mib=4096, dirty_rate_mibps=250, hot_set_mib=1024, link_gbps=10),
     dict(memory_gib=(4.0, "4 GiB"), dirty_rate_mibps=(250, "250"), hot_set_gib=(1.0, "1 GiB"),
          link_gbps=(10, "10"))),
    (dict(memory_mib=np.int64(65536), dirty_rate_mibps=1500, hot_set_mib=8192),
     dict(memory_gib=(64.0, "64 GiB"), hot_set_gib=(8.0, "8 GiB"))),
])
def test_convergence_explorer_starts_at_the_values_given(given, expected):
    ex = precopy.ConvergenceExplorer(**given)
    _assert_holds(ex, expected)
    i = ex.inputs()
    assert i["memory_mib"] == given["memory_mib"] and i["dirty_rate_mibps"] == given["dirty_rate_mibps"]
    assert i["hot_set_mib"] == given["hot_set_mib"]
    assert ex.migration().summary == precopy.simulate(**i).summary
    assert f"{expected['memory_gib'][1]}," in repr(ex)


@pytest.mark.parametrize("given, expected", [
    (dict(downtime_s=0.12, rarp_delay_s=0.05, interval_s=0.2, app_timeout_s=2),  # lesson 05's call
     dict(downtime_s=(0.12, "0.12"), rarp_delay_s=(0.05, "0.05"), interval_s=(0.2, "0.20"), app_timeout_s=(2, "2.0"))),
    (dict(downtime_s=0.333, rarp_delay_s=0.03, interval_s=0.3, rto_s=0.25, app_timeout_s=2.25),
     dict(downtime_s=(0.333, "0.333"), rarp_delay_s=(0.03, "0.03"), interval_s=(0.3, "0.30"), rto_s=(0.25, "0.25"),
          app_timeout_s=(2.25, "2.25"))),
    (dict(downtime_s=7.5, rarp_delay_s=0, interval_s=1, rto_s=1, app_timeout_s=45),  # beyond the grids' ends
     dict(downtime_s=(7.5, "7.50"), rarp_delay_s=(0, "0.00"), interval_s=(1, "1.00"), rto_s=(1, "1.0"),
          app_timeout_s=(45, "45.0"))),
])
def test_ping_explorer_starts_at_the_values_given(given, expected):
    ex = continuity.PingExplorer(**given)
    _assert_holds(ex, expected)
    assert ex.inputs() == {k: float(v) for k, v in {**ex.inputs(), **given}.items()}
    assert f"downtime {given['downtime_s']:g} s" in repr(ex)


@pytest.mark.parametrize("given, expected", [
    (dict(disk_gib=100, copy_mibps=400, write_mibps=300),  # lesson 04's call: 100 GiB read 90.5 on the log slider
     dict(disk_gib=(100, "100"), copy_mibps=(400, "400"), write_mibps=(300, "300"))),
    (dict(disk_gib=750, copy_mibps=375, write_mibps=45.5),
     dict(disk_gib=(750, "750"), copy_mibps=(375, "375"), write_mibps=(45.5, "45.5"))),
    (dict(disk_gib=40, copy_mibps=2500, write_mibps=0),
     dict(disk_gib=(40, "40"), copy_mibps=(2500, "2500"), write_mibps=(0, "0"))),
])
def test_copy_explorer_starts_at_the_values_given(given, expected):
    ex = continuity.CopyExplorer(**given)
    _assert_holds(ex, expected)
    assert ex.inputs() == {k: float(v) for k, v in given.items()}
    assert repr(ex).startswith(f"CopyExplorer({given['disk_gib']:g} GiB at {given['copy_mibps']:g} MiB/s")


@pytest.mark.parametrize("given, expected", [
    (dict(), dict(dirty_rate=(8192, "8192"), hot_mib=(16, "16"), max_bandwidth_mibps=(24, "24"),
                  downtime_limit_ms=(100, "100"))),  # lesson 03b's call
    (dict(hot_mib=10, dirty_rate=3000, max_bandwidth_mibps=30, downtime_limit_ms=50, mode="spin", auto_converge=True),
     dict(hot_mib=(10, "10"), dirty_rate=(3000, "3000"), max_bandwidth_mibps=(30, "30"), downtime_limit_ms=(50, "50"))),
])
def test_model_explorer_starts_at_the_values_given(given, expected):
    ex = rm.ModelExplorer(**given)
    _assert_holds(ex, expected)
    settings = ex.settings()
    assert all(settings[k] == v for k, v in given.items())
    assert f"{expected['dirty_rate'][1]} pages/s on a {expected['hot_mib'][1]} MiB hot set" in repr(ex)


def test_a_value_set_off_the_grid_is_held_and_redrawn():
    ex = continuity.PingExplorer(downtime_s=0.5)
    before = ex.summary.value
    ex.controls["downtime_s"].value = 1.93
    assert ex.controls["downtime_s"].label == "1.93" and ex.inputs()["downtime_s"] == 1.93
    assert ex.summary.value != before and "downtime 1.93 s" in repr(ex)
    ex.controls["downtime_s"].value = 1.9  # back on the grid: the stop the handle would reach
    assert ex.controls["downtime_s"].label == "1.90"
    with pytest.raises(TraitError):
        ex.controls["downtime_s"].value = "fast"


def test_grids_hold_exact_decimals_and_binary_sizes():
    grid = widgets.linear_grid(0.1, 5, 0.1)
    assert 0.3 in grid and 0.7 in grid and all(len(repr(v)) <= 4 for v in grid)  # 0.3, not 0.30000000000000004
    assert widgets.linear_grid(0, 16384, 512)[-1] == 16384
    assert widgets.binary_grid(1, 16) == [1, 1.5, 2, 3, 4, 6, 8, 12, 16]
    assert widgets.mib_text(3072) == "3 GiB" and widgets.mib_text(1536) == "1.5 GiB"
    assert widgets.mib_text(1000) == "1000 MiB" and widgets.mib_text(96) == "96 MiB"
    assert widgets.number(0.1, 2) == "0.10" and widgets.number(0.125, 2) == "0.125" and widgets.number(16384.0) == "16384"


# -- 2. readable axes ------------------------------------------------------------------------------------------
def _round(v: float) -> bool:
    """1, 2 or 5 times a power of ten."""
    mantissa = v / 10 ** math.floor(math.log10(v))
    return any(math.isclose(mantissa, m) for m in (1, 2, 5))


def _assert_log_axis(axis, values):
    assert axis.type == "log"
    ticks = list(axis.tickvals)
    assert len(ticks) >= 2 and all(_round(t) for t in ticks)
    assert all(not LONG_FLOAT.search(t) and "." not in t for t in axis.ticktext if float(t.replace(",", "")) >= 1)
    lo, hi = axis.range
    shown = [v for v in values if v > 0]
    assert lo <= math.log10(min(shown)) and math.log10(max(shown)) <= hi
    # decades only once the axis spans two powers of ten
    if hi - lo >= 2:
        assert all(math.log10(t).is_integer() for t in ticks)


@pytest.mark.parametrize("memory_mib, rate", [(8192, 500), (16384, 1500), (4096, 10), (65536, 4000)])
def test_rounds_chart_has_whole_rounds_and_a_log_axis_of_round_ticks(memory_mib, rate):
    m = precopy.simulate(memory_mib, rate, hot_set_mib=memory_mib / 4, link_gbps=10)
    fig = precopy.charts.rounds_figure(m)
    x = fig.layout.xaxis
    assert x.tickmode == "linear" and x.tick0 == 0 and float(x.dtick).is_integer() and x.dtick >= 1
    _assert_log_axis(fig.layout.yaxis, [y for t in fig.data for y in t.y])


def test_dirty_growth_chart_has_round_ticks_on_both_log_axes():
    t = np.array([0.1, 0.5, 1, 5, 10, 60, 300])
    table = pd.DataFrame({"period_s": t, "measured_mib": 2000 * (1 - np.exp(-t / 30)) + 3,
                          "model_mib": 2000 * (1 - np.exp(-t / 28)) + 3, "linear_mib": 70 * t})
    fig = precopy.charts.dirty_growth_figure(table)
    _assert_log_axis(fig.layout.xaxis, t)
    _assert_log_axis(fig.layout.yaxis, [y for tr in fig.data for y in tr.y])


@pytest.mark.parametrize("values", [[468, 16384], [200, 800], [600, 900], [5, 5], [0.02, 0.03], [0, 0.3, 5000]])
def test_log_axis_labels_round_values_only(values):
    axis = plots.log_axis(values)
    ticks = axis["tickvals"]
    assert len(ticks) >= 2 and all(_round(v) for v in ticks)
    assert axis["ticktext"] == [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in ticks]
    assert axis["range"][0] <= math.log10(min(v for v in values if v > 0)) <= math.log10(max(values)) <= axis["range"][1]


@pytest.mark.parametrize("top, dtick", [(1, 1), (3, 1), (12, 1), (29, 5), (120, 10), (0, 1)])
def test_whole_axes_tick_on_whole_numbers(top, dtick):
    assert plots.whole_axis(top) == dict(tickmode="linear", tick0=0, dtick=dtick, tickformat=",d")


def test_vms_per_host_counts_on_whole_numbers():
    vms = pd.DataFrame({"name": ["a", "b", "c"], "host": ["h1", "h1", "h2"],
                        "powerState": ["poweredOn", "poweredOff", "poweredOn"]})
    y = plots.vms_per_host(vms).layout.yaxis
    assert y.tick0 == 0 and y.dtick == 1 and y.tickformat == ",d"


def test_the_throttle_axis_ticks_every_20_percent():
    ex = rm.ModelExplorer(mode="spin", auto_converge=True)
    fig = json.loads(json.dumps(ex.output.outputs[0]["data"]["application/vnd.plotly.v1+json"]))
    y2 = fig["layout"]["yaxis2"]
    assert (y2["range"], y2["tickmode"], y2["tick0"], y2["dtick"]) == ([0, 100], "linear", 0, 20)
    assert y2["showgrid"] is False
    samples = pd.DataFrame({"t_s": [0.1, 0.2, 0.3], "transferred_mib": [10.0, 20.5, 31.25],
                            "remaining_mib": [100.0, 90.0, 80.0], "throttle_pct": [0, 20, 30],
                            "dirty_sync_count": [1, 1, 2], "status": ["active"] * 3})
    y2 = rm.charts.samples_figure(samples).layout.yaxis2
    assert tuple(y2.range) == (0, 100) and y2.tick0 == 0 and y2.dtick == 20


def test_error_chart_ends_both_axes_at_a_round_number():
    table = pd.DataFrame({"role": ["calibrate", "held-back"], "point": ["p01", "p02"],
                          "measured_total_ms": [2005.0, 16114.0], "predicted_total_ms": [1994.5, 17725.4]})
    fig = rm.charts.error_figure(table)
    exact = next(t for t in fig.data if t.name == "exact")
    assert list(exact.x) == list(exact.y) == [0, 20] and tuple(fig.layout.xaxis.range) == (0, 20)
    assert tuple(fig.layout.yaxis.range) == (0, 20)


def _label_boxes(fig):
    """Each ping-chart label's vertical extent in pixels above the plot's top edge: (bottom, top)."""
    boxes = []
    for a in fig.layout.annotations:
        assert a.yref == "paper" and a.y == 1 and a.yanchor == "bottom" and not a.showarrow
        height = a.font.size * 1.3 + 2 * (a.borderpad if a.borderpad is not None else 1)
        boxes.append((a.yshift or 0, (a.yshift or 0) + height))
    return boxes


@pytest.mark.parametrize("downtime, rarp, app_timeout", [
    (0.12, 0.05, 2), (0.9, 0.05, 1), (0.0, 0.0, 0.5), (1.9, 0.0, None), (0.05, 0.05, 0.1), (0.2, 1.5, 1.0),
])
def test_the_ping_charts_labels_never_overlap(downtime, rarp, app_timeout):
    fig = continuity.charts.ping_figure(downtime, interval_s=0.2, rarp_delay_s=rarp, app_timeout_s=app_timeout)
    texts = [a.text for a in fig.layout.annotations]
    assert texts[-1] == "VM stunned" or "VM stunned" in texts
    assert ("switches learning" in texts) == (rarp > 0)
    assert any(t.startswith("application timeout") for t in texts) == (app_timeout is not None)
    boxes = _label_boxes(fig)
    for (b1, t1), (b2, t2) in itertools.combinations(boxes, 2):
        assert t1 <= b2 or t2 <= b1, "two labels share a row"
    # all of them fit in the top margin, under the title (which starts at the top and is about 30 px high)
    assert max(top for _, top in boxes) + 30 <= fig.layout.margin.t


def test_the_ping_charts_band_ends_on_the_outage():
    fig = continuity.charts.ping_figure(0.9, interval_s=0.2, rarp_delay_s=0.05, app_timeout_s=1)
    assert [s.x1 for s in fig.layout.shapes if s.type == "rect"] == [0.9, 0.95]


def test_migration_timeline_ticks_progress_every_20_percent():
    fig = continuity.charts.timeline_figure()
    assert list(fig.layout.yaxis.tickvals) == [0, 20, 40, 60, 80, 100]


# -- 3. floats printed rounded ---------------------------------------------------------------------------------
def _no_noise(fig) -> bool:
    """No number a reader meets (data, hover, ticks, shapes) carries binary noise; plotly's colour scales aside."""
    def shown(node):
        if isinstance(node, dict):
            return {k: shown(v) for k, v in node.items() if k not in ("template", "colorscale")}
        return [shown(v) for v in node] if isinstance(node, list) else node

    return not LONG_FLOAT.search(json.dumps(shown(json.loads(fig.to_json()))))


@pytest.mark.parametrize("downtime", [0.1, 0.3, 0.7, 0.9, 1.1, 1.9])
@pytest.mark.parametrize("rarp", [0.0, 0.05, 0.1, 0.3])
def test_the_tcp_model_prints_no_float_noise(downtime, rarp):
    r = network.tcp(downtime, rarp_delay_s=rarp, app_timeout_s=1)
    assert not LONG_FLOAT.search(repr(r)), r
    assert r["recovered_at_s"] in r["retransmit_at_s"] or r["retransmissions"] == 0
    assert not LONG_FLOAT.search(repr(network.sessions(downtime, [0.5, 1, 2], rarp_delay_s=rarp)))
    fig = continuity.charts.ping_figure(downtime, interval_s=0.2, rarp_delay_s=rarp, app_timeout_s=1)
    assert _no_noise(fig)


def test_the_convergence_maps_send_rate_line_is_rounded():
    fig, _ = precopy.charts.convergence_map(16384, [0, 1000, 5000], [1, 10, 25], sdps=False)
    assert _no_noise(fig)


def test_explorers_print_no_float_noise_wherever_the_sliders_go():
    ping = continuity.PingExplorer()
    copy = continuity.CopyExplorer()
    conv = precopy.ConvergenceExplorer()
    for ex, keys in ((ping, ("downtime_s", "rarp_delay_s", "interval_s")), (copy, ("copy_mibps", "write_mibps")),
                     (conv, ("switchover_s", "hot_share"))):
        for key in keys:
            slider = ex.controls[key]
            for value in slider.values[::7]:
                slider.value = value
                text = repr(ex) + ex.summary.value + "".join(label for label, _ in slider.options)
                assert not LONG_FLOAT.search(text), text


def test_rounded_reads_like_a_person_writes():
    assert widgets.rounded(1.4000000000000001) == "1.4" and widgets.rounded(0.30000000000000004) == "0.3"
    assert widgets.rounded(2.8284271247461903) == "2.83" and widgets.rounded(16384.0) == "16,384"
    assert widgets.rounded(3.0) == "3" and widgets.rounded(1234.5678) == "1,235"


# -- 4. long text in full, wrapping ----------------------------------------------------------------------------
REASON = ("the destination does not expose CPU features the VM uses: avx512f, avx512bw, avx512cd, avx512dq, "
          "avx512vl, and its EVC mode cannot add them back")
FIX = ("lower the VM's CPU requirement: power it off, set its per-VM EVC mode to a baseline both hosts support, "
       "then power it on again so that it reads the new feature mask")


def test_a_table_shows_every_cell_in_full_and_wraps_it():
    t = pd.DataFrame({"check": ["CPU", "memory"], "reason": [REASON, "no problem found"], "fix": [FIX, ""]})
    html = widgets.table_html(t)
    assert REASON in html and FIX in html.replace("&#39;", "'") and "..." not in html and "…" not in html
    assert "white-space: normal" in html and "word-break: normal" in html


def test_ipython_shows_a_dataframes_long_text_in_full():
    formatter = DisplayFormatter()
    t = pd.DataFrame({"check": ["CPU"], "status": ["fail"], "reason": [REASON]})
    short = pd.DataFrame({"check": ["CPU"], "status": ["pass"]})
    with pd.option_context("display.max_colwidth", 50):
        assert "..." in t._repr_html_()  # what pandas alone shows
        assert widgets.show_tables_in_full(type("Shell", (), {"display_formatter": formatter})())
        data, _ = formatter.format(t)
        assert REASON in data["text/html"] and "..." not in data["text/html"]
        assert "white-space: normal" in data["text/html"]
        assert formatter.format(short)[0]["text/html"] == short._repr_html_()  # short tables: exactly as pandas


def test_a_diagnosis_shows_its_fixes_and_events_in_full():
    findings = pd.DataFrame([{"severity": "error", "fault": "FeatureRequirementsNotMet", "details": REASON,
                              "check": "CPU", "fix": FIX, "fixable_live": "no", "message": "m"}])
    events = pd.DataFrame([{"type": "VmFailedMigrateEvent", "message": "Failed to migrate cpu-01 from esx-01 to "
                            "esx-02: the destination host does not support the CPU features the VM uses " * 2}])
    html = troubleshoot.Diagnosis("cpu-01", "esx-02", None, findings, events)._repr_html_().replace("&#39;", "'")
    assert REASON in html and FIX in html and events["message"][0].strip() in html
    assert "..." not in html and "white-space: normal" in html


@pytest.mark.parametrize("make", [
    lambda: precopy.ConvergenceExplorer(memory_mib=3072, dirty_rate_mibps=1234.5, hot_set_mib=1536),
    lambda: continuity.PingExplorer(downtime_s=0.12, rarp_delay_s=0.05, interval_s=0.2, app_timeout_s=2),
    lambda: continuity.CopyExplorer(disk_gib=100, copy_mibps=400, write_mibps=300),
    lambda: rm.ModelExplorer(),
])
def test_an_explorers_text_form_is_its_whole_summary_wrapped(make):
    ex = make()
    text = ex._repr_mimebundle_()["text/plain"]
    assert "…" not in text and " ".join(text.split()) == " ".join(repr(ex).split())
    assert len(repr(ex)) > 110 and all(len(line) <= widgets.TEXT_WIDTH for line in text.splitlines())


def test_the_compatibility_heatmap_wraps_reasons_at_word_boundaries():
    table = pd.DataFrame([
        {"vm": "avx512-app", "host": "old-01", "verdict": "blocked", "reasons": REASON + "; " + FIX,
         "errors": ["FeatureRequirementsNotMet"], "warnings": []},
        {"vm": "web-01", "host": "old-01", "verdict": "ok", "reasons": "", "errors": [], "warnings": []},
    ])
    fig = compat.charts.heatmap(table)
    text = fig.data[0].text[0][0]
    lines = text.split("<br>")
    assert all(len(line) <= 64 for line in lines)
    words = " ".join(line.removeprefix("• ").strip() for line in lines[1:]).split()
    assert words == (REASON + " " + FIX).split()  # no word cut or lost


def test_plotly_text_wraps_at_word_boundaries():
    wrapped = plots.wrap_html(FIX, 40)
    assert all(len(line) <= 40 for line in wrapped.split("<br>"))
    assert wrapped.replace("<br>", " ") == FIX
    assert plots.wrap_html("a<br>b") == "a<br>b"


def test_the_checklist_explorer_starts_at_its_pair_and_shows_facts_in_full(binary):
    from helpers import lab_world

    with lab_world("mixed-intel-evc") as s:
        facts = compat.fetch(s)
        ex = compat.CheckExplorer(facts, vm="avx512-app", host="old-01")
        assert (ex.vm.value, ex.host.value) == ("avx512-app", "old-01")
        table = compat.check(facts, "avx512-app", "old-01")
    html = ex.output.outputs[0]["data"]["text/html"].replace("&#39;", "'")
    for column in ("facts", "reason", "remedy"):
        for text in table[column]:
            assert str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html
    assert "..." not in html and "white-space: normal" in html
