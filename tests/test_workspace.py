"""The learner's workspace: student copies made once, kept across restarts, course updates merged in."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import free_port, run_cli

from labkit import authoring, labprobe, workspace

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"
LESSON = "02-compatibility-checks.ipynb"


def _solution_cell(nb, exercise="02.highest-evc"):
    return next(c for c in nb.cells if authoring.exercise_of(c) == exercise and "solution" in authoring.roles(c))


@pytest.fixture
def course(tmp_path):
    """A copy of the course's sources, to update as a new release of the course would."""
    d = tmp_path / "course"
    shutil.copytree(SOURCES, d)
    return d


def test_a_workspace_holds_student_copies_with_no_solution_and_no_solved_outputs(tmp_path):
    changes = workspace.sync(tmp_path / "ws")
    assert sorted(c.lesson for c in changes if c.what == "added") == sorted(p.name for p in SOURCES.glob("*.ipynb"))
    for src in SOURCES.glob("*.ipynb"):
        source, copy = authoring.read(src), authoring.read(tmp_path / "ws" / src.name)
        assert "BEGIN SOLUTION" not in json.dumps(copy)
        taught = {ln.strip() for c in source.cells if not authoring.roles(c) for ln in c.source.splitlines()}
        shown = {ln.strip() for c in copy.cells for ln in c.source.splitlines()}
        for cell in source.cells:
            if "solution" in authoring.roles(cell):
                inside = authoring._region(cell.source, authoring.SOLUTION, "", "cell").splitlines()
                solution = {ln.strip() for ln in cell.source.splitlines()} - {ln.strip() for ln in inside} - taught
                assert not (solution - {""}) & shown, (src.name, (solution - {""}) & shown)
        first = next(i for i, c in enumerate(copy.cells) if authoring.roles(c))
        assert all(not c.get("outputs") for c in copy.cells[first:] if c.cell_type == "code")
        assert any(c.get("outputs") for c in copy.cells[:first] if c.cell_type == "code")  # the lesson reads as taught
    for page in ("README.md", "glossary.md", "sources.md"):  # the pages the lessons link to come along
        assert (tmp_path / "ws" / page).read_text() == (SOURCES / page).read_text()
    for copy in (tmp_path / "ws").glob("*.ipynb"):  # and every link of a student copy leads somewhere there
        for cell in authoring.read(copy).cells:
            for target in re.findall(r"\]\(([^)#:\s]+\.(?:md|ipynb))(?:#[^)]*)?\)", cell.source):
                assert (tmp_path / "ws" / target).is_file(), (copy.name, target)
    assert workspace.sync(tmp_path / "ws") == []  # a second start changes nothing


def test_a_release_brings_the_glossary_and_the_register_its_copies_link_to(tmp_path):
    out = run_cli("release", "--no-execute", str(SOURCES / LESSON), "-o", str(tmp_path / "release"))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "release").iterdir()) == [LESSON, "glossary.md", "sources.md"]


def test_an_update_adds_lessons_keeps_edits_and_takes_the_course_changes(tmp_path, course):
    ws = tmp_path / "ws"
    workspace.sync(ws, course)
    mine = authoring.read(ws / LESSON)
    _solution_cell(mine).source = "answer = 'my own answer'"
    mine.cells.insert(3, nbformat.v4.new_code_cell("print('my note')"))
    nbformat.write(mine, str(ws / LESSON))
    os.remove(ws / "05-network-continuity.ipynb")

    src = authoring.read(course / LESSON)  # the course changes a cell of the lesson, and gains a lesson
    src.cells[0].source += "\n\nA sentence added by a course update."
    nbformat.write(src, str(course / LESSON))
    new = authoring.read(course / "00-getting-started.ipynb")
    nbformat.write(new, str(course / "07-new-lesson.ipynb"))

    changes = {c.lesson: c for c in workspace.sync(ws, course)}
    assert changes["07-new-lesson.ipynb"].what == "added"
    assert changes["05-network-continuity.ipynb"].what == "restored"
    assert changes[LESSON].line == (f"merged {LESSON}: 1 cell(s) updated by the course, "
                                    "2 cell(s) of yours kept as you left them")
    merged = authoring.read(ws / LESSON)
    assert _solution_cell(merged).source == "answer = 'my own answer'"
    # a cell both changed: the learner's stays, and the start line says where the course's version is
    mine = authoring.read(ws / LESSON)
    mine.cells[0].source = "# my own title"
    nbformat.write(mine, str(ws / LESSON))
    src.cells[0].source += " Once more."
    nbformat.write(src, str(course / LESSON))
    (change,) = workspace.sync(ws, course)
    assert change.line.endswith(f"the course also changed 1 of those: its version is in .labkit/released/{LESSON}")
    assert authoring.read(ws / LESSON).cells[0].source == "# my own title"
    assert authoring.read(ws / ".labkit" / "released" / LESSON).cells[0].source.endswith("Once more.")
    assert merged.cells[0].source.endswith("A sentence added by a course update.")
    assert [c.source for c in merged.cells].index("print('my note')") == 3


def _lab(tmp_path, course, ws, port, token):
    log = tmp_path / f"lab-{port}.log"
    env = {**os.environ, "LABKIT_WORKSPACE": str(ws), "LABKIT_LAB_TOKEN": token,
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    proc = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", f"--port={port}",
                             f"--notebooks={course}"], env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    labprobe.wait_for_page(base, token, timeout=90, alive=lambda: proc.poll() is None)
    return proc, base, log


def _stop(proc):
    proc.send_signal(signal.SIGINT)
    proc.wait(60)


def test_restarting_labkit_lab_after_a_course_update_keeps_the_learners_edited_cell(tmp_path, course, binary):
    ws, token = tmp_path / "ws", "workspace-test"
    proc, base, log = _lab(tmp_path, course, ws, free_port(), token)
    try:
        # JupyterLab serves the workspace, not the sources: the learner edits and saves an answer there
        _, body = labprobe._request(f"{base}/api/contents/{LESSON}", token)
        model = json.loads(body)
        nb = nbformat.from_dict(model["content"])
        assert "BEGIN SOLUTION" not in json.dumps(nb)
        _solution_cell(nb).source = "answer = 'intel-haswell'  # my answer"
        labprobe._request(f"{base}/api/contents/{LESSON}", token, "PUT",
                          {"type": "notebook", "format": "json", "content": nb})
    finally:
        _stop(proc)
    assert "added 02-compatibility-checks.ipynb" in log.read_text()

    src = authoring.read(course / LESSON)
    src.cells[0].source += "\n\nA sentence added by a course update."
    nbformat.write(src, str(course / LESSON))

    proc, base, log = _lab(tmp_path, course, ws, free_port(), token)
    try:
        _, body = labprobe._request(f"{base}/api/contents/{LESSON}", token)
        nb = nbformat.from_dict(json.loads(body)["content"])
    finally:
        _stop(proc)
    assert _solution_cell(nb).source == "answer = 'intel-haswell'  # my answer"
    assert nb.cells[0].source.endswith("A sentence added by a course update.")
    assert (f"merged {LESSON}: 1 cell(s) updated by the course, 1 cell(s) of yours kept as you left them"
            in log.read_text())


def test_the_instructor_opens_the_sources(tmp_path, course, binary, monkeypatch):
    """`labkit lab --instructor` serves the sources themselves and makes no workspace. (JupyterLab itself is
    started for real by the tests above; here the command it would run is read instead.)"""
    from labkit import cli, labserver

    started = {}

    class Server:
        pid = 0

        def __init__(self, cmd, **kwargs):
            started["cmd"] = cmd

        def wait(self, timeout=None):
            return 0

    monkeypatch.setenv("LABKIT_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(cli, "subprocess", type("Subprocess", (), {"Popen": Server,
                                                                    "TimeoutExpired": subprocess.TimeoutExpired}))
    monkeypatch.setattr(labserver, "record", lambda *a, **k: None)
    assert cli.main(["lab", "--instructor", "--no-browser", f"--port={free_port()}", f"--notebooks={course}"]) == 0
    assert f"--notebook-dir={course}" in started["cmd"] or str(course) in " ".join(started["cmd"])
    assert not (tmp_path / "ws").exists()  # no workspace is made for an instructor
    assert cli.main(["lab", "--no-browser", f"--port={free_port()}", f"--notebooks={course}"]) == 0
    assert str(tmp_path / "ws") in " ".join(started["cmd"]) and (tmp_path / "ws" / LESSON).exists()
