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


@pytest.mark.parametrize("answer, ok", [
    (["q", "s", "p", "r", "t"], True), ("qsprt", True), ("q, s, p, r, t", True),
    (["s", "q", "p", "r", "t"], False), (["q", "s", "p", "t", "r"], False), (["q", "s", "p", "r"], False),
])
def test_phases(answer, ok):
    assert exercises.check("01.phases", answer).passed is ok


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
