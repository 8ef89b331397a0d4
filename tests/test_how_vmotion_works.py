"""Lesson 01's exercises: the concept checks follow the lesson's statements, the lab check a real vMotion."""
import pytest
from helpers import lab_world

from labkit import continuity, exercises, inventory
from labkit.lessons import how_vmotion_works as lesson


@pytest.fixture(autouse=True)
def _clean_attempts():
    exercises._attempts.clear()


def test_claims():
    assert exercises.check("01.claims", lesson.TRUE).passed
    r = exercises.check("01.claims", lesson.TRUE | {"d"})       # vMotion is not what saves a failed host's VMs
    assert not r.passed and "1 of your statements is false" in r.line
    r = exercises.check("01.claims", lesson.TRUE - {"c"})
    assert not r.passed and "1 true statement(s) missing" in r.line
    assert not exercises.check("01.claims", lesson.TRUE | {"g"}).passed   # no such product
    assert not exercises.check("01.claims", lesson.TRUE | {"h"}).passed   # vMotion avoids disasters; it does not recover


@pytest.mark.parametrize("answer, ok", [
    (["q", "u", "s", "p", "r", "t"], True), ("qusprt", True), ("q, u, s, p, r, t", True),
    (["q", "s", "u", "p", "r", "t"], False),  # the destination is prepared before memory is sent
    (["s", "q", "u", "p", "r", "t"], False), (["q", "u", "s", "p", "t", "r"], False),
    (["q", "s", "p", "r", "t"], False),       # the preparation step is missing
])
def test_phases(answer, ok):
    assert exercises.check("01.phases", answer).passed is ok


def test_phases_say_how_far_the_order_is_right():
    line = exercises.check("01.phases", ["q", "s", "u", "p", "r", "t"]).line
    assert "first 1 phase(s) are in the right order" in line
    assert "each of the 6 letters once" in exercises.check("01.phases", "qsprt").line


def test_last_hints_lead_without_handing_over_the_answer():
    """The last hint of each ladder names the call or the idea, never the answer or the solution code."""
    from labkit.lessons import getting_started  # noqa: F401  (registers lesson 00's exercises)

    for ex_id in ("00.cluster-hosts", "00.vms-on-esx-01", "00.guard", "01.claims", "01.phases", "01.first-vmotion"):
        last = exercises.get(ex_id).hints[-1]
        assert "==" not in last and "answer =" not in last, (ex_id, last)
    assert "esx-01'" not in exercises.get("01.first-vmotion").hints[0]     # no call with its arguments filled in
    assert not any("".join(lesson.ORDER) in h for h in exercises.get("01.phases").hints)
    assert not any("ChangeRefused" in h for h in exercises.get("00.guard").hints)


def test_first_vmotion_needs_a_running_vm_moved_to_esx01():
    with lab_world("healthy-cluster") as s:
        wrong = continuity.migrate(s, "db-01", host="esx-02")
        assert "not a compute migration of db-01 to esx-01" in exercises.check("01.first-vmotion", wrong, s).line
        s.change(inventory.find(s, "db-01"), "PowerOffVM_Task", progress=False)
        cold = continuity.migrate(s, "db-01", host="esx-01")
        assert cold.succeeded and "was not running" in exercises.check("01.first-vmotion", cold, s).line
        continuity.migrate(s, "db-01", host="esx-02")
        s.change(inventory.find(s, "db-01"), "PowerOnVM_Task", progress=False)
        run = continuity.migrate(s, "db-01", host="esx-01")
        assert exercises.check("01.first-vmotion", run, s).passed
