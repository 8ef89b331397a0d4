"""Lesson 01a: the documented concurrency cost model, the lab's answer for each kind of migration, the exercises."""
import dataclasses

import pytest
from helpers import lab_world

from labkit import continuity, exercises, hostconfig, inventory
from labkit import migration_limits as ml
from labkit.lessons import migration_types as lesson


@pytest.fixture(autouse=True)
def _clean_attempts():
    exercises._attempts.clear()


# -- the cost model against "Limits on Simultaneous Migrations" (vSphere 6.7) ---------------------------------
def test_the_maxima_and_costs_are_the_documented_tables():
    assert ml.NETWORK_MAX_COST == {"1GbE": 4, "10GbE": 8}
    assert ml.DATASTORE_MAX_COST == 128
    assert ml.HOST_MAX_COST == 8
    assert ml.COSTS[ml.VMOTION] == {"host": 1, "network": 1, "datastore": 1}
    assert ml.COSTS[ml.STORAGE_VMOTION] == {"host": 4, "network": 0, "datastore": 16}
    # "equivalent to a Storage vMotion with a network cost of 1"
    assert ml.COSTS[ml.WITHOUT_SHARED_STORAGE] == {**ml.COSTS[ml.STORAGE_VMOTION], "network": 1}


@pytest.mark.parametrize("kind, link, expected", [
    (ml.VMOTION, "1GbE", 4), (ml.VMOTION, "10GbE", 8),                      # network limits 4 and 8
    (ml.STORAGE_VMOTION, "1GbE", 2), (ml.STORAGE_VMOTION, "10GbE", 2),      # derived host limit 2
    (ml.WITHOUT_SHARED_STORAGE, "1GbE", 2), (ml.WITHOUT_SHARED_STORAGE, "10GbE", 2),
])
def test_per_host_is_the_documented_derived_limit(kind, link, expected):
    assert ml.per_host(kind, link) == expected


def test_the_limits_of_each_resource():
    assert ml.limits(ml.VMOTION, "10GbE") == {"host": 8, "network": 8, "datastore": 128}
    assert ml.limits(ml.STORAGE_VMOTION) == {"host": 2, "network": None, "datastore": 8}
    # KB 326281: vMotion without shared storage runs as many at once as the smaller of vMotion and Storage vMotion
    for link in ml.NETWORK_MAX_COST:
        assert ml.per_host(ml.WITHOUT_SHARED_STORAGE, link) == min(ml.per_host(ml.VMOTION, link),
                                                                   ml.per_host(ml.STORAGE_VMOTION, link))


def test_the_pages_example_one_storage_vmotion_and_four_vmotions():
    plan = [ml.Migration(ml.STORAGE_VMOTION, "h", "a", target_datastore="b")]
    plan += [ml.Migration(ml.VMOTION, "h", "a", destination=f"d{i}") for i in range(5)]
    table = ml.admit(plan)
    assert table["starts"].tolist() == [True] * 5 + [False]
    assert table["waits_for"].iloc[-1] == "host h"


def test_two_storage_vmotions_fill_a_host():
    plan = [ml.Migration(ml.STORAGE_VMOTION, "h", f"s{i}", target_datastore=f"t{i}") for i in range(3)]
    assert ml.admit(plan)["starts"].tolist() == [True, True, False]


def test_a_1gbe_network_binds_before_the_host():
    plan = ml.evacuation(6, destinations=6)
    table = ml.admit(plan, "1GbE")
    assert table["starts"].sum() == 4 and set(table["waits_for"]) == {"", "network esx-01"}
    assert ml.starting(plan, "10GbE") == 6


def test_a_datastore_takes_eight_storage_vmotions():
    plan = [ml.Migration(ml.STORAGE_VMOTION, f"h{i}", f"s{i}", target_datastore="big") for i in range(9)]
    table = ml.admit(plan)
    assert table["starts"].sum() == 8 and table["waits_for"].iloc[-1] == "datastore big"


def test_a_host_change_is_charged_on_both_hosts():
    into_one = [ml.Migration(ml.VMOTION, f"src{i}", "a", destination="dst") for i in range(10)]
    assert ml.starting(into_one, "10GbE") == 8
    assert ml.admit(into_one, {"dst": "1GbE"})["waits_for"].iloc[-1] == "network dst"


def test_a_later_migration_starts_if_it_fits_even_when_an_earlier_one_waits():
    plan = ml.evacuation(6) + [ml.Migration(ml.STORAGE_VMOTION, "esx-01", "ds-a", target_datastore="ds-b")]
    assert ml.admit(plan, "1GbE")["starts"].tolist() == [True] * 4 + [False, False, True]


def test_usage_and_the_figure_agree_with_admit():
    plan = ml.evacuation(5, 1, destinations=2)
    used = ml.usage(plan, "10GbE").set_index("resource")
    assert used.loc["host esx-01", "used"] == 8 and used.loc["host esx-01", "max"] == 8
    assert used.loc["datastore ds-b", "used"] == 16
    fig = ml.figure(plan, "10GbE")
    assert fig.layout.title.text == ml.describe(plan, "10GbE") == \
        "5 of 6 migration(s) start at once; waiting: 1 for host esx-01"
    below, at_max = fig.data[0], fig.data[1]  # one legend entry per colour: below the maximum, and at it
    assert sorted([*below.y, *at_max.y]) == sorted(used.index)
    assert "host esx-01" in at_max.y and "host esx-01" not in below.y
    assert list(fig.data[2].y) == used.index.tolist()


def test_later_units_give_the_same_counts():
    units = ml.VSPHERE_7_HOST_UNITS
    assert units["max"] // units[ml.VMOTION] == ml.HOST_MAX_COST // ml.COSTS[ml.VMOTION]["host"] == 8
    assert units["max"] // units[ml.STORAGE_VMOTION] == ml.per_host(ml.STORAGE_VMOTION) == 2


def test_unknown_links_and_kinds_are_refused():
    with pytest.raises(ValueError, match="1GbE, 10GbE"):
        ml.per_host(ml.VMOTION, "25GbE")
    with pytest.raises(ValueError, match="one of"):
        ml.limits("teleport")


def test_the_explorer_follows_its_controls():
    explorer = lesson.LimitsExplorer(link="10GbE", vmotions=12, destinations=3)
    assert "8 of 12 migration(s) start at once; waiting: 4 for host esx-01" in repr(explorer)
    explorer.controls["link"].value = "1GbE"
    assert "4 of 12" in repr(explorer) and "network esx-01" in repr(explorer)
    assert explorer.output.outputs[0]["data"]["text/plain"] == repr(explorer)


# -- the lab's answer for each kind, as the lesson shows it ---------------------------------------------------
def _power(s, vm, method):
    s.change(inventory.find(s, vm), method, progress=False)


@pytest.fixture(scope="module")
def lesson_runs():
    """The lesson's migrations, in its order, in one partial-storage world."""
    with lab_world("partial-storage") as s:
        runs = {}
        _power(s, "app-all", "PowerOffVM_Task")
        runs["cold"] = continuity.migrate(s, "app-all", host="esx-01")
        _power(s, "app-ab", "SuspendVM_Task")
        runs["suspended"] = continuity.migrate(s, "app-ab", host="esx-02")
        _power(s, "app-all", "PowerOnVM_Task")
        runs["vmotion"] = continuity.migrate(s, "app-all", host="esx-02")
        runs["storage"] = continuity.migrate(s, "app-all", datastore="shared-ab")
        runs["without-shared"] = continuity.migrate(s, "app-local", host="esx-01", datastore="shared-ab")
        hostconfig.disable_service(s, hostconfig.host(s, "esx-01"), "vmk1", "vmotion")
        runs["running-to-no-adapter"] = continuity.migrate(s, "app-all", host="esx-01")
        _power(s, "app-all", "PowerOffVM_Task")
        runs["off-to-no-adapter"] = continuity.migrate(s, "app-all", host="esx-01")
        runs["suspended-to-no-adapter"] = continuity.migrate(s, "app-ab", host="esx-01")
        yield s, runs


@pytest.mark.parametrize("name, power, kind, events", [
    ("cold", "poweredOff", "compute", ["VmBeingRelocatedEvent", "VmRelocatedEvent"]),
    ("suspended", "suspended", "compute", ["VmBeingRelocatedEvent", "VmRelocatedEvent"]),
    ("vmotion", "poweredOn", "compute", ["VmBeingHotMigratedEvent", "VmMigratedEvent"]),
    ("storage", "poweredOn", "storage", ["VmBeingHotMigratedEvent", "VmMigratedEvent"]),
    ("without-shared", "poweredOn", "compute + storage", ["VmBeingHotMigratedEvent", "VmMigratedEvent"]),
])
def test_the_lab_allows_each_kind_the_lesson_runs(lesson_runs, name, power, kind, events):
    run = lesson_runs[1][name]
    assert run.succeeded and run.holds, run.message
    assert run.before.power_state == run.after.power_state == power
    assert run.kind == kind
    assert run.events["type"].tolist() == events


def test_what_moves_for_each_kind(lesson_runs):
    runs = lesson_runs[1]
    for name in ("cold", "suspended", "vmotion"):  # a host change alone copies no file
        assert runs[name].before.datastores == runs[name].after.datastores
        assert runs[name].before.host != runs[name].after.host
    assert runs["storage"].before.host == runs["storage"].after.host == "esx-02"
    assert runs["storage"].after.datastores == ("shared-ab",)
    nothing = runs["without-shared"]
    assert (nothing.before.host, nothing.before.datastores) == ("esx-03", ("local-03",))
    assert (nothing.after.host, nothing.after.datastores) == ("esx-01", ("shared-ab",))


def test_the_vmotion_adapter_is_checked_for_a_running_vm_only(lesson_runs):
    runs = lesson_runs[1]
    refused = runs["running-to-no-adapter"]
    assert not refused.succeeded and refused.fault_type == "VMotionNotConfigured" and refused.holds
    assert runs["off-to-no-adapter"].succeeded
    assert runs["suspended-to-no-adapter"].succeeded
    assert runs["suspended-to-no-adapter"].after.power_state == "suspended"


def test_the_suspended_exercise_follows_the_lab(lesson_runs):
    s, runs = lesson_runs
    run = runs["suspended-to-no-adapter"]
    assert exercises.check("01a.suspended", ("allowed", run), s).passed
    assert exercises.check("01a.suspended", ("Allowed ", run), s).passed
    assert exercises.check("01a.suspended", ("'allowed.'", run), s).passed
    r = exercises.check("01a.suspended", ("VMotionNotConfigured", run), s)
    assert not r.passed and "predicted 'VMotionNotConfigured', and the lab allowed the move" in r.line
    assert "Write your prediction first" in exercises.check("01a.suspended", (..., run), s).line
    r = exercises.check("01a.suspended", ("allowed", runs["off-to-no-adapter"]), s)
    assert not r.passed and "app-all, not app-ab" in r.line
    r = exercises.check("01a.suspended", ("allowed", runs["suspended"]), s)
    assert not r.passed and "to esx-02, not to esx-01" in r.line
    r = exercises.check("01a.suspended", ("allowed", dataclasses.replace(run, succeeded=False,
                                                                         fault_type="InvalidArgument")), s)
    assert not r.passed
    assert "no answer yet" in exercises.check("01a.suspended", (..., ...), s).line
    assert not exercises.check("01a.suspended", "allowed", s).passed


def test_the_suspended_exercise_wants_a_host_without_an_adapter():
    with lab_world("partial-storage") as s:
        _power(s, "app-ab", "SuspendVM_Task")
        run = continuity.migrate(s, "app-ab", host="esx-02")
        run = dataclasses.replace(run, host="esx-01")  # as if it had gone to esx-01, which still has its adapter
        r = exercises.check("01a.suspended", ("allowed", run), s)
        assert not r.passed and "has a vMotion adapter" in r.line


# -- the concept exercises -------------------------------------------------------------------------------------
def test_types():
    assert exercises.check("01a.types", dict(lesson.KIND_OF)).passed
    aliases = {**lesson.KIND_OF, "e": "shared-nothing vMotion", "d": "Suspended", "b": "Cold migration"}
    assert exercises.check("01a.types", aliases).passed
    # vSphere 7.0 and 8.0 call a suspended VM's move cold migration: that name is right for move d too
    assert exercises.check("01a.types", {**lesson.KIND_OF, "d": "cold migration"}).passed
    assert not exercises.check("01a.types", {**lesson.KIND_OF, "b": "suspended VM migration"}).passed
    r = exercises.check("01a.types", {**lesson.KIND_OF, "f": "Storage vMotion"})
    assert not r.passed and "1 of the 6 moves named wrongly" in r.line.lower()
    r = exercises.check("01a.types", {k: v for k, v in lesson.KIND_OF.items() if k != "c"})
    assert not r.passed and "letters missing: c" in r.line.lower()
    r = exercises.check("01a.types", {**lesson.KIND_OF, "a": "teleport"})
    assert not r.passed and "name one of" in r.line.lower()
    assert not exercises.check("01a.types", "vMotion").passed


def test_slots_is_the_models_answer():
    truth = ml.starting(lesson.SLOTS_PLAN, lesson.SLOTS_LINK)
    assert truth == 5  # the network holds 4 vMotions; the Storage vMotion fills the host to 8
    assert exercises.check("01a.slots", truth).passed
    assert exercises.check("01a.slots", float(truth)).passed
    assert not exercises.check("01a.slots", truth + 1).passed
    assert not exercises.check("01a.slots", str(truth)).passed
