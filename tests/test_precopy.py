"""The pre-copy model: documented behaviour, the closed form, the per-page reference, published data."""
import math

import numpy as np
import pandas as pd
import pytest

from labkit import errors, precopy
from labkit.precopy import params, validation
from labkit.precopy.reference import simulate_pages

TEXTBOOK = dict(sdps=False, max_rounds=10_000, max_data_factor=1e6, efficiency=1.0)


def mibps_link(bandwidth_mibps):
    """link_gbps that sends exactly ``bandwidth_mibps`` at efficiency 1."""
    return bandwidth_mibps * 2**20 * 8 / 1e9


# -- documented behaviour -------------------------------------------------------
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_converges_while_the_dirty_rate_stays_below_the_send_rate(ratio):
    m = precopy.simulate(16384, 1000 * ratio, link_gbps=mibps_link(1000), **TEXTBOOK)
    assert m["outcome"] == "converged" and m["max_throttle_pct"] == 0
    sent = m.rounds.loc[m.rounds["phase"] == "pre-copy", "sent_pages"].to_numpy()
    assert (np.diff(sent) < 0).all()  # every round shorter than the one before


@pytest.mark.parametrize("ratio", [1.0, 1.5, 4.0])
def test_diverges_without_sdps_when_dirtying_outpaces_the_network(ratio):
    m = precopy.simulate(16384, 1000 * ratio, link_gbps=mibps_link(1000), sdps=False)
    assert not m["converged"] and m["stop_reason"] in ("round limit", "data limit")
    sent = m.rounds.loc[m.rounds["phase"] == "pre-copy", "sent_pages"].to_numpy()
    assert (np.diff(sent) >= 0).all()  # no round ever shrinks
    assert m["downtime_s"] > 1.0


def test_sdps_throttles_the_guest_until_pre_copy_converges():
    without = precopy.simulate(16384, 2000, link_gbps=10, sdps=False)
    with_sdps = precopy.simulate(16384, 2000, link_gbps=10, sdps=True)
    assert not without["converged"] and with_sdps["converged"]
    assert 0 < with_sdps["max_throttle_pct"] <= 99
    throttle = with_sdps.rounds["throttle_pct"].to_numpy()
    assert (np.diff(throttle) >= 0).all() and throttle[0] == 0
    assert precopy.simulate(16384, 200, link_gbps=10)["max_throttle_pct"] == 0  # idle unless needed


def test_a_switchover_beyond_max_switchover_seconds_fails_and_the_vm_stays():
    slow = dict(link_gbps=1, sdps=False)
    failed = precopy.simulate(65536, 5000, **slow)
    assert failed["outcome"] == "failed" and failed["downtime_s"] == 0
    assert "switchover" not in set(failed.rounds["phase"])
    allowed = precopy.simulate(65536, 5000, max_switchover_s=10_000, **slow)
    assert allowed["outcome"] == "long switchover" and allowed["downtime_s"] > 100


def test_the_round_and_data_limits_end_pre_copy():
    assert precopy.simulate(16384, 900, link_gbps=mibps_link(1000), sdps=False, max_rounds=3, efficiency=1,
                            max_data_factor=100)["stop_reason"] == "round limit"
    m = precopy.simulate(16384, 990, link_gbps=mibps_link(1000), sdps=False, efficiency=1, max_rounds=1000)
    assert m["stop_reason"] == "data limit" and 3 * 16 <= m["sent_gib"] - m["downtime_s"] * 1000 / 1024 < 4 * 16


def test_more_vmotion_nics_send_faster():
    one, two = (precopy.simulate(16384, 300, hot_set_mib=4096, nics=n) for n in (1, 2))
    assert two["bandwidth_gbps"] == pytest.approx(2 * one["bandwidth_gbps"])
    assert two.rounds["duration_s"].iloc[0] == pytest.approx(one.rounds["duration_s"].iloc[0] / 2)
    assert precopy.bandwidth_gbps(10, 2) == pytest.approx(20 * precopy.EFFICIENCY)


def test_zero_pages_cost_a_header_in_round_one_only():
    full = precopy.simulate(8192, 0, link_gbps=10)
    half = precopy.simulate(8192, 0, link_gbps=10, zero_mib=4096)
    expected = full.rounds["duration_s"].iloc[0] * (0.5 + 0.5 * params.ZERO_PAGE_BYTES / params.PAGE_BYTES)
    assert half.rounds["duration_s"].iloc[0] == pytest.approx(expected)


# -- the working set ------------------------------------------------------------
def test_dirty_memory_grows_then_saturates_at_the_working_set():
    t = np.array([0.01, 0.1, 1, 10, 100, 1000])
    curve = precopy.dirty_curve(t, memory_mib=16384, dirty_rate_mibps=500, hot_set_mib=1024, hot_share=1.0)
    assert curve[0] == pytest.approx(5.0, rel=0.01)  # at first, rate × time
    assert (np.diff(curve) >= 0).all() and curve[-1] == pytest.approx(1024, rel=1e-6)  # then the hot set
    with_cold = precopy.dirty_curve(t, memory_mib=16384, dirty_rate_mibps=500, hot_set_mib=1024, hot_share=0.9)
    assert with_cold[-1] > 1024  # the cold pages keep adding, slowly


def test_without_a_working_set_dirtying_is_linear():
    t = np.array([0.5, 1, 2])
    assert precopy.dirty_curve(t, memory_mib=16384, dirty_rate_mibps=100).tolist() == [50, 100, 200]


# -- the closed form --------------------------------------------------------------
@pytest.mark.parametrize("memory,dirty,bandwidth,budget", [
    (4096, 100, 1000, 0.5), (16384, 600, 1200, 0.5), (8192, 800, 1000, 1.0), (65536, 2000, 4800, 0.3),
    (1024, 10, 120, 0.2), (1_048_576, 9000, 10000, 0.5)])
def test_matches_the_geometric_series_in_the_constant_rate_limit(memory, dirty, bandwidth, budget):
    lam = dirty / bandwidth
    n = 1
    while memory * lam**n > bandwidth * budget:
        n += 1
    m = precopy.simulate(memory, dirty, link_gbps=mibps_link(bandwidth), switchover_s=budget, **TEXTBOOK)
    assert m["rounds"] == n
    sent = m.rounds.loc[m.rounds["phase"] == "pre-copy", "sent_mib"].to_numpy()
    assert sent == pytest.approx(memory * lam ** np.arange(n), rel=1e-9)
    assert m["precopy_s"] == pytest.approx(memory * (1 - lam**n) / (bandwidth * (1 - lam)), rel=1e-9)
    assert m["downtime_s"] == pytest.approx(memory * lam**n / bandwidth, rel=1e-9)
    assert m["sent_gib"] * 1024 == pytest.approx(memory * (1 - lam ** (n + 1)) / (1 - lam), rel=1e-9)


# -- vectorised and per-page versions agree ----------------------------------------
def test_sweep_equals_one_simulation_per_configuration():
    axes = precopy.grid(dirty_rate_mibps=[0, 300, 1500, 4000], link_gbps=[1, 10, 25], sdps=[True, False])
    table = precopy.sweep(memory_mib=8192, hot_set_mib=2048, hot_share=0.9, **axes)
    assert len(table) == 24
    for row in table.itertuples():
        one = precopy.simulate(8192, row.dirty_rate_mibps, hot_set_mib=2048, hot_share=0.9,
                               link_gbps=row.link_gbps, sdps=bool(row.sdps)).summary
        for key in ("outcome", "rounds", "stop_reason"):
            assert getattr(row, key) == one[key]
        for key in ("precopy_s", "downtime_s", "total_s", "sent_gib", "max_throttle_pct"):
            assert getattr(row, key) == pytest.approx(one[key], rel=1e-12)


@pytest.mark.parametrize("options", [
    dict(dirty_rate_mibps=300, hot_set_mib=256, hot_share=0.9, link_gbps=1),
    dict(dirty_rate_mibps=2000, hot_set_mib=800, hot_share=0.95, link_gbps=1),
    dict(dirty_rate_mibps=2000, hot_set_mib=800, hot_share=0.95, link_gbps=1, sdps=False),
])
def test_page_classes_agree_with_the_page_by_page_reference(options):
    model = precopy.simulate(1024, **options).summary
    pages = simulate_pages(1024, seed=1, **options)
    assert pages["outcome"] == model["outcome"] and pages["rounds"] == model["rounds"]
    for key in ("precopy_s", "total_s", "sent_gib"):
        assert pages[key] == pytest.approx(model[key], rel=0.01)


# -- bad input: one clear line ------------------------------------------------------
@pytest.mark.parametrize("call,words", [
    (lambda: precopy.simulate(-1, 100), "memory_mib must be greater than 0"),
    (lambda: precopy.simulate(4096, 100, link_gbps=0), "link_gbps must be greater than 0"),
    (lambda: precopy.simulate("16 GB", 100), "memory_mib must be a number"),
    (lambda: precopy.simulate(4096, float("nan")), "dirty_rate_mibps must be a finite number"),
    (lambda: precopy.simulate(4096, 100, nics=1.5), "nics must be a whole number"),
    (lambda: precopy.simulate(4096, 100, hot_set_mib=8192), "cannot exceed memory_mib"),
    (lambda: precopy.simulate(4096, 100, sdps="yes"), "sdps must be True or False"),
    (lambda: precopy.simulate(4096, 100, bandwidth=10), "unknown option(s): bandwidth"),
    (lambda: precopy.sweep(memory_mib=[1, 2], dirty_rate_mibps=[1, 2, 3]), "different lengths"),
    (lambda: precopy.simulate([4096, 8192], 100), "use sweep()"),
    (lambda: precopy.workload("nosuch", 4096), "no workload profile 'nosuch'"),
])
def test_invalid_inputs_raise_one_clear_line(call, words):
    with pytest.raises(errors.InvalidInput) as info:
        call()
    assert words in str(info.value) and "\n" not in str(info.value)


# -- datasets -----------------------------------------------------------------
def test_every_workload_profile_is_sourced_and_runs():
    table = precopy.profiles()
    assert {"idle", "web", "oltp-database", "in-memory-cache", "diabolical"} <= set(table["profile"])
    assert set(table["basis"]) <= {"measured", "fitted", "illustrative"}
    assert table["source"].str.len().min() > 40
    assert table.loc[table["basis"] == "illustrative", "source"].str.startswith("Illustrative").all()
    for name in table["profile"]:
        assert precopy.simulate(**precopy.workload(name, 16384)).summary["outcome"] in precopy.OUTCOMES


def test_the_working_set_model_reproduces_measured_dirty_growth():
    table = validation.dirty_growth()
    assert len(table) == 22
    assert table["error"].abs().max() <= validation.DIRTY_GROWTH_TOLERANCE
    # the constant-rate model cannot: it overshoots by more than 4x after a minute
    assert table["linear_error"].iloc[-1] > 4


def test_migration_times_match_the_published_predictions():
    table = validation.migration_times()
    assert (table["model_converges"] == table["converges"]).all()
    done = table[table["converges"] == "yes"]
    assert len(done) == 22
    assert (done["error"].abs() <= done["tolerance"]).all(), done[["bandwidth", "downtime_limit_ms", "error"]]
    assert done["edge"].sum() <= 2


def test_qemu_outcomes_and_the_vmotion_stop_rule():
    q = validation.qemu_outcomes().set_index("workload")
    assert q.loc["no load", "model_outcome"] == "converged" and q.loc["no load", "model_max_throttle_pct"] == 0
    stressed = q.loc["mempress 4096 1024"]
    assert stressed["model_max_throttle_pct"] > 0  # "cpu throttle triggered"
    assert stressed["model_low_mb_s"] == pytest.approx(stressed["migrating_low_mb_s"], rel=0.15)
    # the failed run: the model too needs the throttle near its maximum
    assert q.loc["mempress 4096 4096", "model_max_throttle_pct"] >= 90
    stop = validation.vmotion_stop().iloc[0]
    assert stop["model_decision"] == stop["decision"]


def test_units_round_trip():
    assert params.mib_to_pages(1) == 256 and params.pages_to_mib(256) == 1
    assert params.pages_per_s_to_gbps(params.gbps_to_pages_per_s(10)) == pytest.approx(10)
    assert math.isclose(precopy.EFFICIENCY, 1448 / 1538, abs_tol=5e-4)
    assert isinstance(precopy.sweep(memory_mib=[1024], dirty_rate_mibps=[1]), pd.DataFrame)


# -- the lesson's figures and explorer -----------------------------------------------
def test_explorer_redraws_when_a_slider_moves():
    explorer = precopy.ConvergenceExplorer(memory_mib=16384, dirty_rate_mibps=500)
    before = explorer.output.outputs[0]["data"]
    assert "application/vnd.plotly.v1+json" in before
    explorer.controls["dirty_rate_mibps"].value = 4000
    explorer.controls["sdps"].value = False
    after = explorer.output.outputs[0]["data"]
    assert after["text/plain"] != before["text/plain"]
    assert after["application/vnd.plotly.v1+json"] != before["application/vnd.plotly.v1+json"]
    assert after["text/plain"] == str(precopy.simulate(**explorer.inputs()))
    assert "4000 MiB/s" in repr(explorer)


def test_rounds_figure_and_convergence_map_show_the_model():
    m = precopy.simulate(8192, 500, link_gbps=10)
    fig = precopy.charts.rounds_figure(m)
    sent = [y for trace in fig.data[:2] for y in trace.y]
    assert sent == m.rounds["sent_mib"].round(1).tolist()
    fig, table = precopy.charts.convergence_map(16384, [0, 1000, 5000], [1, 10], sdps=False)
    assert len(table) == 6 and {"converged", "failed"} <= set(table["outcome"])
    assert precopy.charts.describe_map(table).startswith("6 configurations:")
    layers = {trace.name: np.asarray(trace.z, dtype=float) for trace in fig.data if trace.type == "heatmap"}
    for outcome in precopy.OUTCOMES:
        assert (~np.isnan(layers[outcome])).sum() == (table["outcome"] == outcome).sum()


def test_the_rounds_chart_states_time_downtime_and_data():
    m = precopy.simulate(16384, 2000, link_gbps=10)
    text = precopy.charts.rounds_figure(m).layout.annotations[0].text
    assert f"total {m['total_s']:.1f} s" in text and f"{m['sent_gib']:.1f} GiB sent" in text
    assert f"downtime {m['downtime_s'] * 1000:.0f} ms" in text and "throttled" in text


# -- lessons 03 and 03b: caveats before results, wording, hints ------------------
def _lesson(name):
    from pathlib import Path

    import nbformat

    return nbformat.read(str(Path(__file__).resolve().parent.parent / "notebooks" / name), as_version=4)


def _first(cells, found):
    return next(i for i, c in enumerate(cells) if found(c))


def test_lesson_03_states_each_caveat_before_the_result_it_qualifies():
    cells = _lesson("03-memory-convergence.ipynb").cells
    def md(*words):
        return lambda c: c.cell_type == "markdown" and all(w in c.source for w in words)

    first_sdps_off = _first(cells, lambda c: c.cell_type == "code" and "sdps=False" in c.source)
    assert _first(cells, md("SDPS", "switch it off")) < first_sdps_off
    first_data_limit = _first(cells, lambda c: c.cell_type == "code" and "data limit" in str(c.get("outputs")))
    assert _first(cells, md("Xen", "29 rounds", "not published")) < first_data_limit
    assert _first(cells, md("maxSwitchoverSeconds", "100 s")) < first_data_limit
    # the model's link assumption is said with the KB it departs from
    assert _first(cells, md("KB 323379", "vSphere 6", "7.0 Update 2", "What the model assumes")) >= 0
    # 1 GbE is the supported floor, not a recommendation
    assert _first(cells, md("Exercise 4", "VMotionLinkCapacityLow", "warning", "10 GbE", "vGPU")) >= 0


def test_lesson_03_code_uses_names_not_positions():
    code = "\n".join(c.source for c in _lesson("03-memory-convergence.ipynb").cells if c.cell_type == "code")
    assert "np." not in code
    assert "convergence_map(memory_mib=" in code and 'converged["nics"]' in code


def test_lesson_03b_opens_as_an_optional_deep_dive_that_says_what_differs():
    cells = _lesson("03b-real-precopy.ipynb").cells
    opening = cells[0].source
    assert "Optional" in opening and "(04-storage-continuity.ipynb)" in opening and "(glossary.md)" in opening
    for word in ("QEMU, not ESXi", "loopback", "TCG", "auto-converge", "SDPS", "small guest"):
        assert word in opening, word
    assert opening.index("What differs") < opening.index("You will learn")
    history = cells[1].source
    assert "since 2003" in history and "Xen 2.0" in history and "November 2004" in history
    prose = "\n".join(c.source for c in cells if c.cell_type == "markdown").lower()
    for machine_bound in ("this machine", "these machines", "two cores"):
        assert machine_bound not in prose, machine_bound


def test_the_last_hints_of_lessons_03_and_03b_lead_without_handing_over_the_answer():
    from labkit import exercises

    exercises.get("03.first-round")   # registers the lessons' exercises
    for ex_id in ("03.first-round", "03.closed-form", "03.converge-without-sdps", "03.nics-needed",
                  "03b.threshold", "03b.converge", "03b.downtime", "03b.min-bandwidth"):
        hints = exercises.get(ex_id).hints
        assert hints, ex_id
        for h in hints:
            assert "answer =" not in h and "==" not in h, (ex_id, h)
    assert not any("(1 − λ**n) / (B" in h for h in exercises.get("03.closed-form").hints)   # not the formula
    assert not any("0.25" in h or "12" in h for h in exercises.get("03b.threshold").hints)    # not the value
    assert not any("dict(rm_failing, max_bandwidth_mibps=b)" in h for h in exercises.get("03b.min-bandwidth").hints)
