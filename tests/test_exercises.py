"""Exercise checks: verdicts come from the lab world, hints advance, answers never leak."""
import pytest

import labkit
from labkit import exercises, inventory
from labkit.errors import ChangeRefused, LabkitError


@pytest.fixture(autouse=True)
def _clean_attempts():
    exercises._attempts.clear()


@pytest.fixture
def world():
    from helpers import lab_world

    with lab_world("healthy-cluster") as s:
        yield s


def test_cluster_hosts(world):
    session = world
    truth = int(inventory.clusters(session).set_index("name").loc["Cluster-A", "numHosts"])
    assert exercises.check("00.cluster-hosts", truth, session).passed
    first = exercises.check("00.cluster-hosts", truth + 1, session)
    second = exercises.check("00.cluster-hosts", truth + 1, session)
    assert not first.passed and first.points == 0 and first.max_points == 1
    assert "numHosts column" in first.line and "Select the row" in second.line
    assert str(truth) not in first.line.split(":", 1)[1].replace("(0/1)", "")


def test_vms_on_a_host(world):
    session = world
    vms = inventory.vms(session)
    mask = (vms["host"] == "esx-01") & (vms["powerState"] == "poweredOn")
    truth = set(vms.loc[mask, "name"])
    assert len(truth) == 2
    assert exercises.check("00.vms-on-esx-01", sorted(truth), session).passed
    assert exercises.check("00.vms-on-esx-01", vms.loc[mask, "name"], session).passed
    partial = exercises.check("00.vms-on-esx-01", sorted(truth)[:1], session)
    assert not partial.passed and "1 name(s) missing" in partial.line
    extra = exercises.check("00.vms-on-esx-01", sorted(truth) + ["db-01"], session)
    assert not extra.passed and "1 name(s) too many" in extra.line and "db-01" not in extra.line
    assert not exercises.check("00.vms-on-esx-01", "web-01", session).passed  # a string is not a set


def test_guard_answer(session):
    assert exercises.check("00.guard", ChangeRefused, session).passed
    assert exercises.check("00.guard", "ChangeRefused", session).passed
    assert not exercises.check("00.guard", "InvalidLogin", session).passed


def test_placeholder_and_unknown_exercise(session):
    r = exercises.check("00.guard", ..., session)
    assert r.line == "[ ] 00.guard what the change guard raises: no answer yet (0/1). Replace the placeholder with your answer."
    with pytest.raises(LabkitError, match="no exercise 'nope'"):
        exercises.check("nope", 1, session)
