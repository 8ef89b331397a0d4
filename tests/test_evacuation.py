"""The evacuation planner: the scheduling rules of issue 25 on top of the pre-copy model."""
import pytest

from labkit import evacuation as ev
from labkit.errors import InvalidInput
from labkit.precopy import model, params, workloads

TEN = ev.HostLink(uplink_gbps=10, nics=1, mtu=1500)
ONE = ev.HostLink(uplink_gbps=1, nics=1, mtu=1500)


def vms(n, source="esx-01", destination="esx-02", memory_mib=4096, workload="web", **kw):
    return [ev.VMotion(f"vm-{i + 1}", memory_mib, workload, source, destination, "ds-a", **kw) for i in range(n)]


def alone(memory_mib=4096, profile="web", link_gbps=10.0, **kw):
    """What precopy.simulate says of one such VM on its own link."""
    return model.simulate(**workloads.workload(profile, memory_mib), link_gbps=link_gbps, nics=1,
                          efficiency=params.EFFICIENCY, **kw).summary


def test_one_vm_takes_what_the_pre_copy_model_says():
    table = ev.schedule(vms(1), {"esx-01": TEN, "esx-02": TEN})
    assert list(table.columns) == ev.COLUMNS
    row = table.iloc[0]
    s = alone()
    assert row["share"] == 1 and row["start_s"] == 0 and row["queued_s"] == 0
    assert row["duration_s"] == s["total_s"] and row["end_s"] == s["total_s"]
    assert (row["outcome"], row["rounds"], row["downtime_s"]) == (s["outcome"], s["rounds"], s["downtime_s"])
    p = ev.plan(vms(1), {"esx-01": TEN, "esx-02": TEN})
    assert p["total_s"] == s["total_s"] and (p["waves"], p["peak"], p["queued"]) == (1, 1, 0)


def test_a_10_gbe_host_runs_eight_and_queues_the_ninth():
    p = ev.plan(vms(9), {"esx-01": TEN, "esx-02": TEN})
    t = p["schedule"]
    first, ninth = t.iloc[:8], t.iloc[8]
    eight = alone(link_gbps=10 / 8)["total_s"]
    assert (first["start_s"] == 0).all() and (first["share"] == 8).all() and (first["duration_s"] == eight).all()
    assert ninth["start_s"] == eight and ninth["queued_s"] == eight and ninth["share"] == 1
    assert ninth["duration_s"] == alone()["total_s"] and ninth["end_s"] == eight + alone()["total_s"]
    assert p["total_s"] == ninth["end_s"] and (p["waves"], p["peak"], p["queued"]) == (2, 8, 1)
    text = ev.describe(p)
    assert "simulated seconds" in text and "2 waves" in text and "at most 8" in text and "\n" not in text


def test_a_1_gbe_source_runs_four_at_a_time():
    t = ev.schedule(vms(6), {"esx-01": ONE, "esx-02": TEN})
    four = alone(link_gbps=1 / 4)["total_s"]
    assert (t["start_s"].iloc[:4] == 0).all() and (t["share"].iloc[:4] == 4).all()
    assert (t["start_s"].iloc[4:] == four).all() and (t["share"].iloc[4:] == 2).all()
    assert (t["duration_s"].iloc[4:] == alone(link_gbps=1 / 2)["total_s"]).all()


def test_a_1_gbe_destination_binds_the_count_and_the_speed():
    links = {"esx-01": TEN, "esx-02": ONE, "esx-03": TEN}
    plan = vms(5, destination="esx-02") + [ev.VMotion("vm-other", 4096, "web", "esx-01", "esx-03", "ds-a")]
    t = ev.schedule(plan, links)
    # esx-02's network takes 4; vm-5 waits although esx-01 has room, vm-other (to esx-03) does not wait
    assert list(t["start_s"] == 0) == [True, True, True, True, False, True]
    # the source network carries 5 at once (share 5) and caps the speed at min(10, 1) / 5
    assert (t["share"].iloc[:4] == 5).all() and t["share"].iloc[5] == 5
    assert t["duration_s"].iloc[0] == alone(link_gbps=1 / 5)["total_s"]
    assert t["duration_s"].iloc[5] == alone(link_gbps=10 / 5)["total_s"]


def test_nics_and_mtu_take_the_smaller_of_the_two_hosts():
    links = {"esx-01": ev.HostLink(10, 2, 9000), "esx-02": ev.HostLink(25, 3, 1500)}
    row = ev.schedule(vms(1), links).iloc[0]
    s = model.simulate(**workloads.workload("web", 4096), link_gbps=10, nics=2, efficiency=0.941)
    assert row["duration_s"] == s["total_s"]
    assert ev.efficiency(1500) == params.EFFICIENCY and ev.efficiency(9000) == 0.99
    assert (TEN.network_class, ONE.network_class, ev.HostLink(25).network_class) == ("10GbE", "1GbE", "10GbE")


def test_a_failed_vmotion_lasts_its_pre_copy_plus_max_switchover():
    writer = {"dirty_rate_mibps": 100_000}  # still 1000 MiB/s at SDPS's 99 % throttle: more than 1 GbE sends
    t = ev.schedule(vms(1, workload=writer, max_switchover_s=1), {"esx-01": ONE, "esx-02": ONE})
    s = model.simulate(4096, 100_000, link_gbps=1, nics=1, efficiency=params.EFFICIENCY, max_switchover_s=1)
    assert s["outcome"] == "failed" and t["outcome"].iloc[0] == "failed"
    assert t["duration_s"].iloc[0] == s["precopy_s"] + 1 and t["downtime_s"].iloc[0] == 0
    p = ev.plan(vms(1, workload=writer, max_switchover_s=1), {"esx-01": ONE, "esx-02": ONE})
    assert p["outcomes"] == {"failed": 1} and "1 failed" in ev.describe(p)


def fake_simulate(durations):
    """A stand-in for precopy.simulate whose total_s is set by memory_mib."""
    class Result:
        def __init__(self, total):
            self.summary = {"outcome": "converged", "rounds": 3, "precopy_s": total - 0.1, "downtime_s": 0.1,
                            "total_s": total, "max_throttle_pct": 0.0}

    return lambda memory_mib, dirty_rate_mibps, **options: Result(durations[memory_mib])


@pytest.mark.parametrize("gap, together", [(0.0, True), (5e-10, True), (9e-10, True), (1e-6, False)])
def test_migrations_ending_within_a_nanosecond_free_their_slots_together(monkeypatch, gap, together):
    monkeypatch.setattr(model, "simulate", fake_simulate({1000: 10.0, 1001: 10.0 + gap, 2000: 20.0, 500: 5.0}))
    links = {"esx-01": ONE, "esx-02": ONE}  # 4 at a time

    def run(memories):
        plan = [ev.VMotion(f"vm-{i}", m, {"dirty_rate_mibps": 1}, "esx-01", "esx-02", "ds-a")
                for i, m in enumerate(memories)]
        return ev.schedule(plan, links).set_index("vm")

    t = run([1000, 1001, 2000, 2000, 500, 500])  # vm-0 and vm-1 end at 10 (and 10 + gap); two wait
    assert list(t["start_s"].iloc[:4]) == [0, 0, 0, 0]
    starts = list(t.loc[["vm-4", "vm-5"], "start_s"])
    assert starts == ([10.0, 10.0] if together else [10.0, 10.0 + gap])
    t = run([1000, 1001, 2000, 2000, 500])  # one waits: its share counts vm-1 unless vm-1 ended with vm-0
    assert (t.loc["vm-4", "start_s"], t.loc["vm-4", "share"]) == (10.0, 3 if together else 4)


def test_no_head_of_line_blocking():
    links = {"esx-01": TEN, "esx-02": ONE, "esx-03": TEN}
    plan = vms(5, destination="esx-02") + [ev.VMotion("late", 4096, "web", "esx-01", "esx-03", "ds-a")]
    t = ev.schedule(plan, links).set_index("vm")
    assert t.loc["vm-5", "start_s"] > 0 and t.loc["late", "start_s"] == 0


def test_figure_and_an_empty_evacuation():
    p = ev.plan(vms(9), {"esx-01": TEN, "esx-02": TEN})
    fig = ev.figure(p)
    assert fig.layout.xaxis.title.text == "simulated seconds"
    assert [trace.name for trace in fig.data] == ["queued", "converged"]
    empty = ev.plan([], {})
    assert (empty["total_s"], empty["waves"], empty["peak"]) == (0.0, 0, 0)
    assert "simulated seconds" in ev.describe(empty)


@pytest.mark.parametrize("make, message", [
    (lambda: ev.schedule(vms(1, destination="esx-09"), {"esx-01": TEN, "esx-02": TEN}),
     "VM 'vm-1': host 'esx-09' is not in links."),
    (lambda: vms(1, memory_mib=0), "VM 'vm-1': memory_mib must be greater than 0, not 0."),
    (lambda: vms(1, memory_mib=-5), "VM 'vm-1': memory_mib must be greater than 0, not -5."),
    (lambda: vms(1, workload="nope"), "VM 'vm-1': There is no workload profile 'nope'."),
    (lambda: vms(1, workload={"dirty_rate_mibps": 1, "speed": 2}), "VM 'vm-1': unknown workload key(s): speed."),
    (lambda: vms(1, workload={"hot_share": 1}), "VM 'vm-1': its workload has no dirty_rate_mibps."),
    (lambda: vms(1, workload=3), "VM 'vm-1': workload must be a profile name or a dict, not 3."),
    (lambda: vms(1, max_switchover_s=0), "VM 'vm-1': max_switchover_s must be greater than 0, not 0."),
    (lambda: ev.VMotion("a", 1024, "idle", "esx-01", "esx-02", ""), "VM 'a': datastore must be a datastore name"),
    (lambda: ev.schedule(vms(1, destination="esx-01"), {"esx-01": TEN}),
     "VM 'vm-1': its source and destination are both 'esx-01'"),
    (lambda: ev.schedule(vms(1) + vms(1), {"esx-01": TEN, "esx-02": TEN}), "VM 'vm-1' is in vmotions twice"),
    (lambda: ev.schedule(vms(1), {"esx-01": TEN, "esx-02": "10GbE"}), "links['esx-02'] must be a HostLink"),
    (lambda: ev.schedule(vms(1, workload={"dirty_rate_mibps": -1}), {"esx-01": TEN, "esx-02": TEN}),
     "VM 'vm-1': dirty_rate_mibps must be at least 0, not -1."),
    (lambda: ev.HostLink(0), "uplink_gbps must be greater than 0, not 0."),
    (lambda: ev.HostLink(10, nics=1.5), "nics must be a whole number, not 1.5."),
    (lambda: ev.HostLink(10, mtu=52), "mtu must be at least 53, not 52."),
])
def test_bad_inputs_say_what_is_wrong_in_one_line(make, message):
    with pytest.raises(InvalidInput) as info:
        make()
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
