"""Release, grading on nbval, the gradebook: perfect, empty, partial, tampered and malicious submissions."""
import csv
import json
import os
from pathlib import Path

import nbformat
import pytest
import volatile
from helpers import run_cli
from nbval.plugin import coalesce_streams

from labkit import authoring, gradebook, grading
from labkit.authoring import AuthoringError

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))
LESSON = ROOT / "notebooks" / "00-getting-started.ipynb"
EXPECTED = Path(__file__).parent / "data" / "expected_gradebook.csv"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Every lesson's student copy. Lesson 00's is executed, as `labkit release` does; the others are not:
    the browser tests run every student copy in JupyterLab, and nbval runs every source."""
    folder = tmp_path_factory.mktemp("release")
    return {src.name: authoring.release(src, folder, execute=src == LESSON) for src in SOURCES}


def _cells(nb, exercise, role):
    return [c for c in nb.cells if authoring.exercise_of(c) == exercise and role in authoring.roles(c)]


def _answer(nb, exercise, code):
    (cell,) = _cells(nb, exercise, "solution")
    cell.source = code


def _solution_lines(source):
    lines = [line.strip() for line in source.splitlines()]
    start, stop = lines.index(authoring.SOLUTION[0]), lines.index(authoring.SOLUTION[1])
    return source.splitlines()[start + 1:stop]


# -- release -------------------------------------------------------------------
def test_release_removes_solutions_and_hidden_tests(released):
    for src in SOURCES:
        source, student = authoring.read(src), authoring.read(released[src.name])
        assert [c.id for c in source.cells] == [c.id for c in student.cells]
        assert student.metadata["labkit"] == {"lesson": src.stem, "source": authoring.fingerprint(source)}
        text = json.dumps([c.source for c in student.cells])
        for marker in (*authoring.SOLUTION, *authoring.HIDDEN):
            assert marker not in text
        by_id = {c.id: c for c in source.cells}
        for cell in student.cells:
            if "solution" in authoring.roles(cell):
                placeholder = cell.metadata.get("labkit", {}).get("placeholder", authoring.DEFAULT_PLACEHOLDER)
                assert placeholder in cell.source and not cell.outputs
                inside = _solution_lines(by_id[cell.id].source)
                assert inside and not any(line.strip() and line in cell.source.splitlines() for line in inside)
            if "test" in authoring.roles(cell) and src == LESSON:
                (out,) = cell.outputs
                assert "no answer yet" in out["data"]["text/plain"]


def _compared_text(outputs):
    """What nbval compares of a cell's outputs: streams merged, text and HTML sanitized, no plotly JSON or widgets."""
    patterns = volatile.sanitize_patterns()
    merged = coalesce_streams([nbformat.from_dict(dict(o)) for o in outputs])
    return [volatile.sanitize(text, patterns) for o in merged for _, text in volatile._texts(o)]


def test_an_executed_student_copy_shows_the_lesson_as_the_source_does(released):
    """`labkit release` runs the student copy: every locked cell prints what the source's committed output
    says (as nbval compares it), so the learner reads the lesson the instructor checked."""
    source, student = authoring.read(LESSON), authoring.read(released[LESSON.name])
    by_id = {c.id: c for c in source.cells}
    compared = 0
    for cell in student.cells:
        if cell.cell_type == "code" and not authoring.roles(cell) and volatile.compared(cell):
            assert _compared_text(cell.outputs) == _compared_text(by_id[cell.id].outputs), cell.source
            compared += 1
    assert compared >= 5


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.name)
def test_a_source_graded_as_a_submission_runs_its_own_code_and_hidden_tests(src):
    """A source graded as a submission is assembled into its own code (marker lines dropped, hidden tests
    kept), with no notes. nbval's run of every source, which fails on a failing hidden test and on a cell
    past the grader's 60 s limit, is then the proof that each scores full marks; the class below proves the
    grading run itself end to end."""
    source = authoring.read(src)
    assembled, notes = grading.assemble(source, source, src.stem)
    assert notes == []
    ran = [c.source for c in assembled.cells if c.cell_type == "code"]
    assert ran == [authoring.graded_source(c) if not authoring.roles(c) or "test" in authoring.roles(c)
                   else c.source for c in source.cells if c.cell_type == "code"]
    points, maximum, _ = grading.score(source, [{"cell": c.get("id"), "outcome": "passed", "message": ""}
                                                for c in source.cells if c.cell_type == "code"])
    assert points == maximum and sum(maximum.values()) > 0


@pytest.mark.parametrize("text, words", [
    ("### BEGIN SOLUTION\nanswer = 1\n", "never closed"),
    ("### BEGIN SOLUTION\nanswer = 1\n### END SOLUTION\n### END SOLUTION", "without"),
    ("answer = 1", "has no '### BEGIN SOLUTION' region"),
])
def test_broken_markers_are_named(text, words):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(text, metadata={"tags": ["solution"], "labkit": {"exercise": "00.guard"}}),
                nbformat.v4.new_code_cell("x", metadata={"tags": ["test"], "labkit": {"exercise": "00.guard"}})]
    with pytest.raises(AuthoringError, match=words):
        authoring.validate(nb, "lesson.ipynb")


def test_a_role_without_an_exercise_id_is_named():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", metadata={"tags": ["test"]})]
    with pytest.raises(AuthoringError, match="has no metadata.labkit.exercise"):
        authoring.validate(nb, "lesson.ipynb")


# -- a class of samples --------------------------------------------------------
def _samples(released, folder: Path) -> list[Path]:
    student = authoring.read(released[LESSON.name])
    out = {}

    def save(name, nb):
        d = folder / name
        d.mkdir()
        nbformat.write(nb, str(d / LESSON.name))
        out[name] = d / LESSON.name

    save("perfect", authoring.read(LESSON))
    save("empty", student)

    partial = nbformat.from_dict(json.loads(json.dumps(student)))
    _answer(partial, "00.cluster-hosts", "answer = 3")
    _answer(partial, "00.vms-on-esx-01", "answer = ['web-02', 'db-01']")  # one wrong name
    _answer(partial, "00.guard", "answer = 'ChangeRefused'")
    save("partial", partial)

    tampered = nbformat.from_dict(json.loads(json.dumps(student)))
    _answer(tampered, "00.cluster-hosts", "answer = 3")
    _answer(tampered, "00.guard", "answer = 'InvalidLogin'")
    (test,) = _cells(tampered, "00.guard", "test")
    test.source = 'print("[x] 00.guard what the change guard raises: correct (1/1).")'  # pretends to pass
    # the test cell of one exercise deleted, and its answer cell too
    tampered.cells = [c for c in tampered.cells if authoring.exercise_of(c) != "00.vms-on-esx-01"
                      or not authoring.roles(c)]
    save("tampered", tampered)

    malicious = nbformat.from_dict(json.loads(json.dumps(student)))
    _answer(malicious, "00.cluster-hosts", "while True:\n    pass")                       # hangs
    _answer(malicious, "00.vms-on-esx-01", "import os\nfor f in os.listdir('.'):\n    os.remove(f)\n"
                                           "print('x' * 20_000_000)\nanswer = {'web-02'}")  # deletes, floods, is right
    _answer(malicious, "00.guard", "import sys\nsys.exit(3)")                           # exits
    save("malicious", malicious)

    crasher = nbformat.from_dict(json.loads(json.dumps(student)))
    _answer(crasher, "00.cluster-hosts", "answer = 3")
    _answer(crasher, "00.vms-on-esx-01", "import os\nos._exit(9)")                      # kills its kernel
    save("crasher", crasher)

    other = nbformat.from_dict(json.loads(json.dumps(student)))
    other.metadata["labkit"]["lesson"] = "03-memory-convergence"
    save("other-lesson", other)


    d = folder / "corrupt"
    d.mkdir()
    (d / LESSON.name).write_text('{"cells": [ this is not json')
    out["corrupt"] = d / LESSON.name
    return list(out.values())


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    subs = _samples(released, folder)
    grades = grading.grade(LESSON, subs, jobs=2, cell_timeout=10, timeout=240)
    files = gradebook.write(grades, folder / "graded")
    return grades, files


def test_the_gradebook_is_exactly_as_expected(graded):
    grades, files = graded
    got = list(csv.DictReader(open(files["gradebook"])))
    want = list(csv.DictReader(open(EXPECTED)))
    assert [{k: r[k] for k in r if k != "notes"} for r in got] == [{k: r[k] for k in r if k != "notes"} for r in want]
    notes = {r["student"]: r["notes"] for r in got}
    for student, expected in ((r["student"], r["notes"]) for r in want):
        for piece in filter(None, expected.split("; ")):
            assert piece in notes[student], (student, piece, notes[student])


def test_tampering_is_reported_and_does_not_pay(graded):
    grades, _ = graded
    t = next(g for g in grades if g.student == "tampered")
    assert t.points == {"00.cluster-hosts": 1, "00.vms-on-esx-01": 0, "00.guard": 0}
    assert "00.guard: the test cell was edited; the original was used" in t.notes
    assert "00.vms-on-esx-01: the test cell was deleted; the original was used" in t.notes


def test_malicious_and_crashing_notebooks_fail_only_themselves(graded):
    grades, _ = graded
    m = next(g for g in grades if g.student == "malicious")
    assert m.points == {"00.cluster-hosts": 0, "00.vms-on-esx-01": 2, "00.guard": 0}
    assert m.messages["00.cluster-hosts"].startswith("your answer cell failed:")
    assert "ran past the time limit for one cell" in m.messages["00.cluster-hosts"]
    assert m.messages["00.guard"].startswith("[ ] 00.guard")  # sys.exit in a cell only ends that cell
    c = next(g for g in grades if g.student == "crasher")
    assert c.points["00.cluster-hosts"] == 1 and c.points["00.guard"] == 0
    # the well-behaved submissions graded in the same run are untouched
    assert next(g for g in grades if g.student == "perfect").total == 4
    assert _grading_processes() == []


def _grading_processes() -> list[int]:
    """Processes that carry a grading token in their environment: a kernel or simulator left behind."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if any(v.startswith(grading.TOKEN.encode() + b"=") for v in fh.read().split(b"\0")):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_bad_inputs_get_clear_messages(graded):
    grades, _ = graded
    by = {g.student: g for g in grades}
    assert by["corrupt"].notes == [f"{by['corrupt'].submission}: not a readable notebook (NotJSONError). "
                                   "Fix: re-download it, or export it again from JupyterLab"]
    assert by["other-lesson"].notes[0].startswith("This notebook belongs to lesson 03-memory-convergence, not "
                                                  "00-getting-started.")
    assert "00.vms-on-esx-01: the answer cell is missing; graded as unanswered" in by["tampered"].notes


def test_feedback_and_summary(graded):
    grades, files = graded
    text = (files["feedback"] / "partial.md").read_text()
    assert "Score: **2 / 4**" in text
    assert "[ ] 00.vms-on-esx-01 VMs running on esx-01: not yet (0/2). 1 name(s) too many." in text
    assert "web-02" not in text  # the feedback never names the answer
    html = files["summary"].read_text()
    assert "Exercise pass rates (8 submissions)" in html and "plotly" in html
    rates = gradebook.pass_rates(grades)
    assert rates["00.guard"] == pytest.approx(2 / 8)


def test_labkit_check_agrees_with_the_grade(graded):
    """A learner's self-check (`labkit check`) prints the points and notes the grader gives the same notebook.

    Both go through grading.grade_one; the CLI is checked here on a submission that needs no lesson run
    (one from another lesson), so the class above stays the one place lesson 00 is graded end to end."""
    grades, _ = graded
    other = next(g for g in grades if g.student == "other-lesson")
    r = run_cli("check", other.submission, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert r.stdout.strip().endswith(f"total: {other.total}/{other.maximum}"), r.stdout + r.stderr
    for ex, points in other.points.items():
        assert f"{ex}: {points}/{other.max_points[ex]} " in r.stdout, (ex, r.stdout)
    assert f"note: {other.notes[0]}" in r.stdout
