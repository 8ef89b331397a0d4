"""Grade a class: assemble each submission against the source, run it under nbval, score it.

Each submission is graded in its own folder, by its own ``pytest --nbval-lax``
process, with its own kernel and its own lab simulator, under a per-cell and a
per-notebook timeout. A crashing, hanging or destructive notebook fails its own
grade and nothing else; every process it started is ended afterwards (they
carry a per-submission token in their environment).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat

from . import authoring, exercises
from .errors import LabkitError

CELL_TIMEOUT_S = 60
NOTEBOOK_TIMEOUT_S = 300
TOKEN = "LABKIT_GRADING_TOKEN"


@dataclasses.dataclass
class Grade:
    student: str
    submission: str
    points: dict[str, int]          # exercise -> points earned
    max_points: dict[str, int]
    messages: dict[str, str]        # exercise -> the check's line or the error
    notes: list[str]                # tampering, missing cells, timeouts, unreadable files
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.points.values())

    @property
    def maximum(self) -> int:
        return sum(self.max_points.values())


# -- assembling ----------------------------------------------------------------
def assemble(source, submission, lesson: str):
    """The notebook to grade: the source's cells, with the student's solution cells.

    Returns (notebook, notes). Cells are matched by id, never by position.
    """
    meta = submission.metadata.get("labkit", {})
    if meta.get("lesson") and meta["lesson"] != lesson:
        raise LabkitError(f"This notebook belongs to lesson {meta['lesson']}, not {lesson}.",
                          fix=f"grade it with the source of {meta['lesson']}")
    by_id = {c.get("id"): c for c in submission.cells}
    source_ids = {c.get("id") for c in source.cells}
    overlap = len(source_ids & set(by_id)) / max(1, len(source_ids))
    if overlap < 0.5:
        raise LabkitError(f"This notebook does not look like a copy of lesson {lesson} "
                          f"(only {overlap:.0%} of its cells match).", fix="check that the right file was submitted")
    notes: list[str] = []
    out = nbformat.v4.new_notebook(metadata=source.metadata)
    for cell in source.cells:
        new = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        sub = by_id.get(cell.get("id"))
        ex = authoring.exercise_of(cell)
        if "solution" in authoring.roles(cell):
            if sub is None:
                notes.append(f"{ex}: the answer cell is missing; graded as unanswered")
                new.source = authoring.released_source(cell)
            else:
                new.source = sub.source
        elif cell.cell_type == "code":
            new.source = authoring.graded_source(cell)
            if sub is None:
                if "test" in authoring.roles(cell):
                    notes.append(f"{ex}: the test cell was deleted; the original was used")
            elif sub.source.strip() not in (authoring.released_source(cell).strip(), cell.source.strip()):
                what = f"{ex}: the test cell" if "test" in authoring.roles(cell) else f"locked cell {cell.get('id')}"
                notes.append(f"{what} was edited; the original was used")
        out.cells.append(new)
    extra = len(set(by_id) - source_ids)
    if extra:
        notes.append(f"{extra} added cell(s) were not run")
    return out, notes


# -- running -------------------------------------------------------------------
def _kill_tagged(token: str) -> None:
    """End every process whose environment carries this submission's token."""
    needle = f"{TOKEN}={token}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            continue


def _limit(pid: int) -> None:
    """No file the grading process (and its kernel, started after this) writes may exceed 256 MiB."""
    import resource

    try:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
    except (OSError, ValueError):
        pass


def run(notebook, *, cell_timeout: int = CELL_TIMEOUT_S, timeout: int = NOTEBOOK_TIMEOUT_S) -> tuple[list[dict], list[str]]:
    """Execute an assembled notebook under nbval in a fresh folder and process; cell records and notes."""
    token = uuid.uuid4().hex
    work = Path(tempfile.mkdtemp(prefix="labkit-grade-"))
    side = Path(tempfile.mkdtemp(prefix="labkit-grade-side-"))  # out of the notebook's reach by path
    nb_path = work / "submission.ipynb"
    nbformat.write(notebook, str(nb_path))
    (work / "pytest.ini").write_text("[pytest]\naddopts =\n")
    report = side / "report.json"
    env = {**os.environ, TOKEN: token, "LABKIT_GRADING": "1", "LABKIT_STATE_DIR": str(side / "state"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", str(nb_path), "--nbval-lax", f"--nbval-cell-timeout={cell_timeout}",
           "-p", "labkit._nbval_report", f"--labkit-report={report}", "-p", "no:cacheprovider",
           "-c", str(work / "pytest.ini"), "--rootdir", str(work), "-q"]
    notes: list[str] = []
    with open(side / "pytest.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _limit(proc.pid)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            notes.append(f"the notebook did not finish within {timeout} s; it was stopped")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _kill_tagged(token)  # its kernel and its simulator run in sessions of their own
    records = []
    if report.exists():
        try:
            records = json.loads(report.read_text())
        except ValueError:
            notes.append("the grading report was unreadable")
    elif not notes:
        notes.append("the notebook could not be run (the grading process ended early)")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(side, ignore_errors=True)
    return records, notes


def score(source, records: list[dict]) -> tuple[dict, dict, dict]:
    """Points per exercise: full points when every test cell of the exercise passed."""
    ids = authoring.validate(source, "source")
    tests: dict[str, list[str]] = {ex: [] for ex in ids}
    answers: dict[str, list[str]] = {ex: [] for ex in ids}
    for cell in source.cells:
        if "test" in authoring.roles(cell):
            tests[authoring.exercise_of(cell)].append(cell.get("id"))
        elif "solution" in authoring.roles(cell) and authoring.exercise_of(cell) in answers:
            answers[authoring.exercise_of(cell)].append(cell.get("id"))
    by_cell = {r["cell"]: r for r in records}
    points, maximum, messages = {}, {}, {}
    for ex in ids:
        maximum[ex] = exercises.get(ex).points
        outcomes = [by_cell.get(cid) for cid in tests[ex]]
        passed = all(o is not None and o["outcome"] == "passed" for o in outcomes)
        points[ex] = maximum[ex] if passed else 0
        if passed:
            messages[ex] = "correct"
        elif any(o is None for o in outcomes):
            messages[ex] = "not run (the notebook stopped before this exercise)"
        elif any(by_cell.get(cid, {}).get("outcome") == "failed" for cid in answers[ex]):
            failed = next(by_cell[cid] for cid in answers[ex] if by_cell.get(cid, {}).get("outcome") == "failed")
            messages[ex] = f"your answer cell failed: {failed['message'] or 'an error'}"
        else:
            messages[ex] = next(o["message"] for o in outcomes if o["outcome"] != "passed") or "the test cell failed"
    return points, maximum, messages


def grade_one(source_path: Path, submission: Path, student: str, *, cell_timeout=CELL_TIMEOUT_S,
              timeout=NOTEBOOK_TIMEOUT_S) -> Grade:
    t0 = time.perf_counter()
    source = authoring.read(source_path)
    ids = authoring.validate(source, str(source_path))
    zero = {ex: 0 for ex in ids}
    maximum = {ex: exercises.get(ex).points for ex in ids}
    try:
        sub = authoring.read(submission)
        assembled, notes = assemble(source, sub, source_path.stem)
    except LabkitError as e:
        return Grade(student, str(submission), zero, maximum, {ex: "not graded" for ex in ids}, [str(e)],
                     time.perf_counter() - t0)
    records, run_notes = run(assembled, cell_timeout=cell_timeout, timeout=timeout)
    points, maximum, messages = score(source, records)
    return Grade(student, str(submission), points, maximum, messages, notes + run_notes, time.perf_counter() - t0)


def student_name(path: Path, all_paths: list[Path]) -> str:
    parents = [p.parent for p in all_paths]
    if len(set(parents)) == len(parents):  # one folder per student
        return path.parent.name
    return path.stem


def grade(source_path: Path, submissions: list[Path], *, jobs: int | None = None, cell_timeout=CELL_TIMEOUT_S,
          timeout=NOTEBOOK_TIMEOUT_S, progress=None) -> list[Grade]:
    """Grade many submissions in parallel (one process each); sorted by student."""
    jobs = jobs or os.cpu_count() or 1
    names = {p: student_name(p, submissions) for p in submissions}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_one, source_path, p, names[p], cell_timeout=cell_timeout, timeout=timeout)
                   for p in submissions]
        results = []
        for f in concurrent.futures.as_completed(futures):
            results.append(f.result())
            if progress:
                progress(results[-1])
    return sorted(results, key=lambda g: g.student)
