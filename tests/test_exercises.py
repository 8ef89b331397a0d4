"""Exercise checks: verdicts come from the lab world, hints advance, answers never leak."""
import math

import pytest

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


def test_an_answer_of_the_wrong_kind_is_not_a_try():
    """It says what kind is wanted and keeps the hint the learner has reached: it does not use up the next one."""
    first = exercises.check("01a.slots", 7)            # wrong: the first hint
    kind = exercises.check("01a.slots", "5")           # text, not a number: the same hint again
    second = exercises.check("01a.slots", 7)           # wrong again: the second hint
    hints = exercises.get("01a.slots").hints
    assert hints[0] in first.line and hints[0] in kind.line and "whole number" in kind.line
    assert hints[1] in second.line


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


def test_number_tolerance():
    assert exercises.same_number(0.30000000000000004, 0.3)
    assert exercises.same_number(1_000_000, 1_000_000.5)
    assert not exercises.same_number(3, 4)
    with pytest.raises(TypeError):
        exercises.same_number(True, 1)


def test_name_sets():
    import pandas as pd

    assert exercises.same_names(["b", "a", "a"], {"a", "b"}) is True
    assert exercises.same_names(pd.Series(["a", " b "]), ["a", "b"]) is True
    assert exercises.same_names(["a"], ["a", "b"]) == "1 name(s) missing"
    assert exercises.same_names(["a", "b", "c"], ["a", "b"]) == "1 name(s) too many"
    assert exercises.same_names(["a", "c"], ["a", "b"]) == "1 name(s) should not be there and 1 are missing"
    with pytest.raises(TypeError):
        exercises.same_names("ab", ["a"])


def test_frames():
    import pandas as pd

    truth = pd.DataFrame({"host": ["h1", "h2"], "gb": [1.0, 2.0]})
    assert exercises.same_frame(truth[["gb", "host"]].iloc[::-1], truth, key="host") is True
    assert exercises.same_frame(pd.DataFrame({"host": ["h1", "h2"], "gb": [1.0000001, 2.0]}), truth) is True
    assert exercises.same_frame(truth.drop(columns="gb"), truth) == "column(s) gb missing"
    assert exercises.same_frame(truth.assign(x=1), truth) == "column(s) x not asked for"
    assert exercises.same_frame(truth.head(1), truth) == "1 rows where 2 were expected"
    assert exercises.same_frame(truth.assign(gb=[1.0, 3.0]), truth) == "some values differ"


def test_grading_mode_raises_a_one_line_failure(world, monkeypatch):
    monkeypatch.setenv("LABKIT_GRADING", "1")
    with pytest.raises(exercises.ExerciseFailed) as e:
        exercises.check("00.cluster-hosts", 99, world)
    assert isinstance(e.value, AssertionError)
    assert str(e.value).startswith("[ ] 00.cluster-hosts hosts in cluster Cluster-A: not yet (0/1).")
    assert exercises.check("00.cluster-hosts", 3, world).passed


def test_memory_convergence_exercises_follow_the_lab_world(world):
    from labkit import precopy

    session = world
    memory = float(inventory.vms(session).set_index("name").loc["db-01", "memoryMB"])
    seconds = memory * 2**20 * 8 / (10e9 * precopy.EFFICIENCY)
    assert exercises.check("03.first-round", seconds, session).passed
    assert not exercises.check("03.first-round", seconds * 2, session).passed
    assert not exercises.check("03.first-round", seconds / 1.05, session).passed

    converging = ["idle", "web", "oltp-database", "in-memory-cache"]
    assert exercises.check("03.converge-without-sdps", converging, session).passed
    assert not exercises.check("03.converge-without-sdps", [*converging, "diabolical"], session).passed
    assert not exercises.check("03.converge-without-sdps", converging[:2], session).passed

    assert exercises.check("03.nics-needed", 3, session).passed
    for wrong in (1, 2, 4, 2.5, True):
        assert not exercises.check("03.nics-needed", wrong, session).passed


def test_the_closed_form_exercise_runs_the_learners_function(session):
    def loop_free(m, d, b, budget):
        lam = d / b
        n = max(1, math.ceil(math.log(b * budget / m) / math.log(lam)))
        return m * (1 - lam**n) / (b * (1 - lam))

    assert exercises.check("03.closed-form", loop_free, session).passed
    assert not exercises.check("03.closed-form", lambda m, d, b, budget: m / (b - d), session).passed
    assert "give a function" in exercises.check("03.closed-form", 12.5, session).line.lower()
    assert "no answer yet" in exercises.check("03.closed-form", lambda m, d, b, budget: ..., session).line


def test_the_verdict_shows_even_when_more_code_follows_the_check(tmp_path):
    """In a notebook the check's line is displayed as soon as it is known: code after it in the cell (an
    assert, say) cannot hide it, and when the check is the cell's last line it shows once, not twice."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('import labkit\nlabkit.exercises.check("01.claims", {"a", "c", "e", "f"})\nx = 1'),
        nbformat.v4.new_code_cell('labkit.exercises.check("01.claims", {"a"})'),
    ])
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    def texts(cell):
        return [o.get("data", {}).get("text/plain", o.get("text", "")) for o in cell.outputs]

    assert texts(nb.cells[0]) == ["[x] 01.claims which statements about vMotion are true: correct (2/2)."]
    (line,) = texts(nb.cells[1])
    assert line.startswith("[ ] 01.claims which statements about vMotion are true: not yet (0/2).")
