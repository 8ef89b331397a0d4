"""Release, grading on nbval, the gradebook: perfect, empty, partial, tampered and malicious submissions."""
import contextlib
import csv
import io
import json
import os
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import volatile
from helpers import run_cli
from nbval.plugin import coalesce_streams
from plotly.offline import get_plotlyjs

from labkit import authoring, cli, exercises, gradebook, grading
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
def test_release_removes_solutions(released):
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
def test_a_source_graded_as_a_submission_runs_its_own_code(src):
    """A source graded as a submission is assembled into its own code (marker lines dropped), with no notes.
    nbval's run of every source, which fails on a failing check and on a cell past the grader's 60 s limit,
    is then the proof that each scores full marks; the class below proves the grading run itself end to end."""
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


def test_hidden_tests_are_refused_so_that_the_check_and_the_grade_judge_alike():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = 3\n### END SOLUTION",
                                          metadata={"tags": ["solution"], "labkit": {"exercise": "00.cluster-hosts"}}),
                nbformat.v4.new_code_cell('labkit.exercises.check("00.cluster-hosts", answer)\n'
                                          "### BEGIN HIDDEN TESTS\nassert isinstance(answer, int)\n"
                                          "### END HIDDEN TESTS",
                                          metadata={"tags": ["test"], "labkit": {"exercise": "00.cluster-hosts"}})]
    with pytest.raises(AuthoringError, match="has hidden tests. The learner's check and the grade must judge alike"):
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

    d = folder / "absent"  # handed in as a folder, the lesson's notebook saved under another name
    d.mkdir()
    nbformat.write(student, str(d / "Untitled.ipynb"))
    out["absent"] = d
    # the two that wait out a cell's time limit first (a hanging answer; a dead kernel, which nbval waits on as on
    # a hang), so that the others are graded meanwhile
    slow = ("malicious", "crasher")
    return [out[name] for name in slow] + [path for name, path in out.items() if name not in slow]


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    subs = _samples(released, folder)
    kill = grading._kill_tagged

    def kill_and_record(token):
        _TOKENS.add(token)
        kill(token)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grading, "_kill_tagged", kill_and_record)
        # 30 s a cell: room for the lesson's own cells on a machine busy with the other test worker too (at 20 s,
        # a clean-clone run once stopped the 'empty' lesson early); the hanging answer and the dead kernel each wait
        # it out once, side by side, while a third job grades the other submissions
        grades = grading.grade(LESSON, subs, jobs=3, cell_timeout=30, timeout=240)
    files = gradebook.write(grades, folder / "graded")
    return grades, files


#: the grading tokens of this process's class run (another test worker may be grading its own class meanwhile)
_TOKENS: set[str] = set()


#: why each student's zeros are zeros: the short phrases of the gradebook's notes and the summary's cells
REASONS = {
    "absent": "missing notebook",
    "corrupt": "unreadable notebook",
    "crasher": "00.vms-on-esx-01: kernel died; 00.guard: kernel died",
    "empty": "not answered",
    "malicious": "00.cluster-hosts: time limit; 00.guard: error in answer cell",
    "other-lesson": "wrong lesson",
    "partial": "00.vms-on-esx-01: wrong answer",
    "perfect": "",
    "tampered": "00.vms-on-esx-01: deleted test cell; 00.guard: edited test cell",
}


def test_the_gradebook_is_exactly_as_expected(graded):
    grades, files = graded
    got = list(csv.DictReader(open(files["gradebook"])))
    want = list(csv.DictReader(open(EXPECTED)))
    assert [{k: r[k] for k in r if k != "notes"} for r in got] == [{k: r[k] for k in r if k != "notes"} for r in want]
    notes = {r["student"]: r["notes"] for r in got}
    for student, expected in ((r["student"], r["notes"]) for r in want):
        for piece in filter(None, expected.split("; ")):
            assert piece in notes[student], (student, piece, notes[student])
        # the notes open with the reasons for the zeros, exactly
        assert notes[student].startswith(REASONS[student]), (student, notes[student])
        assert expected.startswith(REASONS[student]), ("expected_gradebook.csv is out of step", student)
    assert {g.student: "; ".join(gradebook.reasons(g)) for g in grades} == REASONS


def test_every_zero_has_a_reason(graded):
    grades, _ = graded
    for g in grades:
        short = {ex for ex in g.max_points if g.points[ex] < g.max_points[ex]}
        assert set(g.reasons) == short, g.student
        assert set(g.reasons.values()) <= set(grading.REASONS), g.student
    by = {g.student: g for g in grades}
    assert by["crasher"].messages["00.vms-on-esx-01"].startswith("the kernel died while your answer cell ran")
    assert by["crasher"].messages["00.guard"] == "not run: the kernel died in an earlier cell"
    assert by["absent"].notes == [f"{Path(by['absent'].submission).parent}: no {LESSON.name} (it holds: Untitled.ipynb)"]


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
    # sys.exit in a cell only ends that cell (nbval, after the timeout above, records it as an expected failure)
    assert m.messages["00.guard"] == "your answer cell failed: SystemExit: 3"
    assert m.reasons == {"00.cluster-hosts": grading.TIME_LIMIT, "00.guard": grading.ANSWER_ERROR}
    c = next(g for g in grades if g.student == "crasher")
    assert c.points["00.cluster-hosts"] == 1 and c.points["00.guard"] == 0
    assert c.reasons == {"00.vms-on-esx-01": grading.KERNEL_DIED, "00.guard": grading.KERNEL_DIED}
    # the well-behaved submissions graded in the same run are untouched
    assert next(g for g in grades if g.student == "perfect").total == 4
    assert len(_TOKENS) == 6 and _grading_processes(_TOKENS) == []  # six submissions were run


def _grading_processes(tokens) -> list[int]:
    """Processes that carry one of these grading tokens in their environment: a kernel or simulator left behind."""
    found = []
    wanted = {f"{grading.TOKEN}={t}".encode() for t in tokens}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if wanted & set(fh.read().split(b"\0")):
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
    assert by["absent"].points == {ex: 0 for ex in by["absent"].max_points}


def test_labkit_grade_takes_students_folders(graded, tmp_path):
    """`labkit grade submitted/*`: a folder without the lesson's notebook is a row with 0 points, 'missing
    notebook'; the lesson comes from --source or from the notebooks in the folders. Only submissions that need
    no lesson run are used here (a missing one and one of another lesson)."""
    grades, _ = graded
    by = {g.student: g for g in grades}
    absent, other = Path(by["absent"].submission).parent, Path(by["other-lesson"].submission).parent
    out = tmp_path / "graded"
    r = run_cli("grade", str(absent), str(other), "--source", str(LESSON), "-o", str(out), timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "  absent: 0/4  (missing notebook; " in r.stdout
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").read_text().splitlines())}
    assert rows["absent"]["notes"].startswith("missing notebook; ") and rows["absent"]["total"] == "0"
    assert rows["other-lesson"]["notes"].startswith("wrong lesson; This notebook belongs to lesson 03")
    assert (out / "plotly.min.js").exists() and (out / "summary.html").stat().st_size < 200_000
    # the command's refusals, in this process (each is refused before any grading)
    def refused(*args):
        with contextlib.redirect_stdout(io.StringIO()) as out_, contextlib.redirect_stderr(io.StringIO()) as err:
            code = cli.main(["grade", *args])
        return code, out_.getvalue() + err.getvalue()

    # no --source: the folders' notebooks say the lesson; here they name two, which needs --source
    code, text = refused(str(absent), str(other), "-o", str(out))
    assert code != 0 and "several lessons (00-getting-started, 03-memory-convergence)" in text
    (tmp_path / "nobody").mkdir()
    code, text = refused(str(tmp_path / "nobody"), "-o", str(out))
    assert code != 0 and "says which lesson it is" in text and "--source" in text
    code, text = refused(str(tmp_path / "not-there"), "--source", str(LESSON), "-o", str(out))
    assert code != 0 and "No such submission file or folder" in text


def test_feedback_and_summary(graded):
    grades, files = graded
    text = (files["feedback"] / "partial.md").read_text()
    assert "Score: **2 / 4**" in text
    assert "[ ] 00.vms-on-esx-01 VMs running on esx-01: not yet (0/2). 1 name(s) too many." in text
    assert "web-02" not in text  # the feedback never names the answer
    html = files["summary"].read_text()
    assert "Exercise pass rates (9 submissions)" in html and "plotly" in html
    rates = gradebook.pass_rates(grades)
    assert rates["00.guard"] == pytest.approx(2 / 9)


class _Tables(HTMLParser):
    """The text of every table cell of a page: rows of [cell text, ...] in thead, tbody and tfoot, and the
    src of every script."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {"thead": [], "tbody": [], "tfoot": []}
        self.scripts: list[str] = []
        self._part, self._cell = None, None

    def handle_starttag(self, tag, attrs):
        if tag in self.rows:
            self._part = tag
        elif tag == "tr" and self._part:
            self.rows[self._part].append([])
        elif tag in ("td", "th") and self._part:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag == "script" and dict(attrs).get("src"):
            self.scripts.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[self._part][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag in self.rows:
            self._part = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_the_summary_is_a_table_of_students_with_a_reason_for_every_zero(graded):
    grades, files = graded
    page = _Tables()
    page.feed(files["summary"].read_text())
    (head,) = page.rows["thead"]
    ids = list(grades[0].max_points)
    assert head[0] == "student" and head[-2:] == ["total", "notes"]
    assert head[1:-2] == [f"{exercises.get(ex).title}\n{ex} · {exercises.get(ex).points} "
                          f"pt{'s' if exercises.get(ex).points != 1 else ''}" for ex in ids]
    assert head[2].startswith("VMs running on esx-01\n00.vms-on-esx-01")
    rows = {r[0]: r for r in page.rows["tbody"]}
    assert list(rows) == [g.student for g in grades]  # one row per student, in order
    for g in grades:
        row = rows[g.student]
        for ex, cell in zip(ids, row[1:-2]):
            if g.points[ex] == g.max_points[ex]:
                assert cell == str(g.points[ex]), (g.student, ex, cell)
            else:  # every zero says why, in the words of the gradebook's notes
                assert cell == f"0\n{g.reasons[ex]}", (g.student, ex, cell)
                assert g.reasons[ex] in REASONS[g.student]
        assert row[-2] == f"{g.total} / {g.maximum}"
        assert row[-1] == "\n".join(g.notes)
    for student, words in (("crasher", "kernel died"), ("malicious", "time limit"), ("tampered", "edited test cell"),
                           ("absent", "missing notebook"), ("empty", "not answered"), ("partial", "wrong answer"),
                           ("corrupt", "unreadable notebook")):
        assert any(cell.endswith("\n" + words) for cell in rows[student][1:-2]), (student, rows[student])
    (foot,) = page.rows["tfoot"]
    assert foot[:4] == ["pass rate", "44%", "22%", "22%"]


def test_the_summary_is_small_and_loads_plotly_from_a_sibling_file(graded):
    grades, files = graded
    html = files["summary"].read_text()
    assert len(html.encode()) < 200_000
    page = _Tables()
    page.feed(html)
    assert page.scripts == ["plotly.min.js"]  # loaded once, from the folder, no CDN
    js = files["summary"].parent / "plotly.min.js"
    assert files["plotly"] == js and js.read_text(encoding="utf-8") == get_plotlyjs()
    assert "Plotly.newPlot" in html and "cdn" not in html.lower()
    before = js.stat().st_mtime_ns
    gradebook.write(grades, files["summary"].parent)  # written again: the same plotly.js is left as it is
    assert js.stat().st_mtime_ns == before


def _records(source, stop_at: str | None, message: str, after: str) -> list[dict]:
    """Cell records as the grading report gives them: every code cell passed up to ``stop_at`` (failed with
    ``message``), the cells after it skipped with ``after``."""
    out, state = [], "passed"
    for c in source.cells:
        if c.cell_type != "code":
            continue
        if c.get("id") == stop_at:
            out.append({"cell": c.get("id"), "outcome": "failed", "message": message})
            state = "skipped"
        else:
            out.append({"cell": c.get("id"), "outcome": state, "message": "" if state == "passed" else after})
    return out


def test_a_dead_kernel_is_named(released, monkeypatch):
    """No lesson run: grading's run is replaced by the records nbval gives when a kernel dies in an answer cell
    (os._exit): that cell failed, and every later cell finds the kernel dead."""
    source = authoring.read(LESSON)
    (answer,) = _cells(source, "00.vms-on-esx-01", "solution")
    records = _records(source, answer.id, "os._exit(9)", "pytest plugin exception: Kernel dead on test start")
    monkeypatch.setattr(grading, "_run", lambda nb, **kw: (records, [], False))
    g = grading.grade_one(LESSON, released[LESSON.name], "x")
    assert g.points == {"00.cluster-hosts": 1, "00.vms-on-esx-01": 0, "00.guard": 0}
    assert g.reasons == {"00.vms-on-esx-01": grading.KERNEL_DIED, "00.guard": grading.KERNEL_DIED}
    assert g.messages["00.vms-on-esx-01"].startswith("the kernel died while your answer cell ran")
    assert g.messages["00.guard"] == "not run: the kernel died in an earlier cell"


def test_a_notebook_past_its_time_limit_loses_every_exercise_to_the_time_limit(released, monkeypatch):
    monkeypatch.setattr(grading, "_run", lambda nb, **kw: ([], ["the notebook did not finish within 5 s"], True))
    g = grading.grade_one(LESSON, released[LESSON.name], "x", timeout=5)
    assert g.total == 0 and set(g.reasons.values()) == {grading.TIME_LIMIT}
    assert g.messages["00.guard"] == "not run (the notebook ran past its time limit of 5 s and was stopped)"
    assert gradebook.reasons(g) == ["time limit"]


def test_names_and_notes_are_escaped_in_the_summary():
    g = grading.Grade("<b>bob</b>", "x.ipynb", {"00.guard": 0}, {"00.guard": 1}, {"00.guard": "'<script>'"},
                      ["a <script>alert(1)</script> note"], reasons={"00.guard": grading.WRONG_ANSWER})
    html = gradebook.summary_html([g])
    assert "<b>bob" not in html and "&lt;b&gt;bob&lt;/b&gt;" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "title='&#x27;&lt;script&gt;&#x27;'" in html


def test_labkit_check_agrees_with_the_grade(graded, tmp_path):
    """A learner's self-check (`labkit check`) prints the points and notes that `labkit grade` gives the same
    notebook: both find the lesson's source from the notebook and go through grading.grade_one.

    The CLIs are compared here on a submission that needs no lesson run (it says it is lesson 03), so the
    class above stays the one place lesson 00 is graded end to end."""
    grades, _ = graded
    other = next(g for g in grades if g.student == "other-lesson")
    r = run_cli("check", other.submission, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    g = run_cli("grade", other.submission, "-o", str(tmp_path / "graded"), timeout=120)
    assert g.returncode == 0 and "Traceback" not in g.stderr, g.stderr
    book = list(csv.DictReader(open(tmp_path / "graded" / "gradebook.csv")))[0]
    assert r.stdout.strip().endswith(f"total: {book['total']}/{book['max']}"), r.stdout + r.stderr
    for ex in [k for k in book if k not in ("student", "total", "max", "notes")]:
        assert f"{ex}: {book[ex]}/" in r.stdout, (ex, r.stdout)
    assert "does not look like a copy of lesson 03-memory-convergence" in r.stdout + book["notes"]
