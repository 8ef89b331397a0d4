"""Grade a class: assemble each submission against the source, run it under nbval, score it.

Each submission is graded by its own ``pytest --nbval-lax`` process, with its own
kernel and its own lab simulator, under a per-cell and a per-notebook timeout, inside
a sandbox of its own (labkit.sandbox: bubblewrap, a uid of its own, limits on memory,
processes, files, disk and CPU). A crashing, hanging or hostile notebook fails its
own grade and nothing else; every process it started ends with its sandbox. The
cell outcomes come back through a file descriptor the grader opened
(labkit._nbval_report), never through a path the notebook could reach.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import nbformat

from . import _nbval_report, authoring, exercises, sandbox
from .errors import LabkitError
from .sim import paths

CELL_TIMEOUT_S = 60
NOTEBOOK_TIMEOUT_S = 300
TOKEN = "LABKIT_GRADING_TOKEN"

# Why an exercise earned no points: short phrases a teacher reads in the gradebook and the summary.
MISSING_NOTEBOOK = "missing notebook"
UNREADABLE = "unreadable notebook"
WRONG_LESSON = "wrong lesson"
WRONG_NOTEBOOK = "wrong notebook"
TIME_LIMIT = "time limit"
KERNEL_DIED = "kernel died"
EDITED_TEST = "edited test cell"
DELETED_TEST = "deleted test cell"
NOT_ANSWERED = "not answered"
WRONG_ANSWER = "wrong answer"
ANSWER_ERROR = "error in answer cell"
NOT_RUN = "not run"
PROCESS_LIMIT = sandbox.PROCESS_LIMIT
MEMORY_LIMIT = sandbox.MEMORY_LIMIT
OUTPUT_LIMIT = _nbval_report.OUTPUT_CUT
NO_SANDBOX = "graded without a sandbox (--no-sandbox): the notebook ran with the grader's rights"
#: each reason phrase -> what it means, for the summary's legend
REASONS = {
    MISSING_NOTEBOOK: "the student's folder has no notebook of this lesson",
    UNREADABLE: "the file is not a readable notebook",
    WRONG_LESSON: "the notebook belongs to another lesson",
    WRONG_NOTEBOOK: "too few of the lesson's cells are in it to be a copy of the lesson",
    TIME_LIMIT: "a cell ran past the per-cell limit, or the notebook past the per-notebook limit, and was stopped",
    KERNEL_DIED: "the kernel ended (os._exit, a crash, memory), or was stopped after a cell ignored the interrupt "
                 "at its time limit; the cells after it could not run",
    EDITED_TEST: "the test cell was edited; the original ran instead and did not pass",
    DELETED_TEST: "the test cell was deleted; the original ran instead and did not pass",
    NOT_ANSWERED: "the placeholder was left, or the answer cell was deleted",
    WRONG_ANSWER: "the check did not accept the answer",
    ANSWER_ERROR: "the answer cell raised an error",
    NOT_RUN: "the notebook stopped before this exercise",
    PROCESS_LIMIT: "the notebook started more processes or threads than a submission may; it was stopped there",
    MEMORY_LIMIT: "the notebook used more memory than a submission may; it was stopped there",
    OUTPUT_LIMIT: "a cell printed more than a submission may; the rest of its output was dropped",
}



@dataclasses.dataclass
class Grade:
    student: str
    submission: str
    points: dict[str, int]          # exercise -> points earned
    max_points: dict[str, int]
    messages: dict[str, str]        # exercise -> the check's line or the error
    notes: list[str]                # tampering, missing cells, timeouts, unreadable files
    seconds: float = 0.0
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # exercise short of its points -> a REASONS phrase

    @property
    def total(self) -> int:
        return sum(self.points.values())

    @property
    def maximum(self) -> int:
        return sum(self.max_points.values())


# -- assembling ----------------------------------------------------------------
class NotThisLesson(LabkitError):
    """A submission that is not a copy of the lesson being graded; ``reason`` is WRONG_LESSON or WRONG_NOTEBOOK."""

    def __init__(self, message: str, *, reason: str, fix: str | None = None):
        super().__init__(message, fix=fix)
        self.reason = reason


def assemble(source, submission, lesson: str):
    """The notebook to grade: the source's cells, with the student's solution cells.

    Returns (notebook, notes). Cells are matched by id, never by position.
    """
    notebook, notes, _ = _assemble(source, submission, lesson)
    return notebook, notes


def _assemble(source, submission, lesson: str):
    """assemble(), plus {exercise: reason} for what assembling alone explains: an edited or deleted test
    cell (EDITED_TEST, DELETED_TEST) or a removed answer cell (NOT_ANSWERED). Raises NotThisLesson."""
    meta = submission.metadata.get("labkit", {})
    if meta.get("lesson") and meta["lesson"] != lesson:
        raise NotThisLesson(f"This notebook belongs to lesson {meta['lesson']}, not {lesson}.", reason=WRONG_LESSON,
                            fix=f"grade it with the source of {meta['lesson']}")
    by_id = {c.get("id"): c for c in submission.cells}
    source_ids = {c.get("id") for c in source.cells}
    overlap = len(source_ids & set(by_id)) / max(1, len(source_ids))
    if overlap < 0.5:
        raise NotThisLesson(f"This notebook does not look like a copy of lesson {lesson} "
                            f"(only {overlap:.0%} of its cells match).", reason=WRONG_NOTEBOOK,
                            fix="check that the right file was submitted")
    notes: list[str] = []
    flags: dict[str, str] = {}
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
                flags.setdefault(ex, NOT_ANSWERED)
                new.source = authoring.released_source(cell)
            else:
                new.source = sub.source
        elif cell.cell_type == "code":
            new.source = authoring.graded_source(cell)
            test = "test" in authoring.roles(cell)
            if sub is None:
                if test:
                    notes.append(f"{ex}: the test cell was deleted; the original was used")
                    flags[ex] = DELETED_TEST
            elif sub.source.strip() not in (authoring.released_source(cell).strip(), cell.source.strip()):
                what = f"{ex}: the test cell" if test else f"locked cell {cell.get('id')}"
                notes.append(f"{what} was edited; the original was used")
                if test:
                    flags[ex] = EDITED_TEST
        out.cells.append(new)
    extra = len(set(by_id) - source_ids)
    if extra:
        notes.append(f"{extra} added cell(s) were not run")
    return out, notes, flags


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
    """Unsandboxed: no file the grading process (and its kernel, started after this) writes may exceed 256 MiB."""
    import resource

    try:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
    except (OSError, ValueError):
        pass


def run(notebook, *, cell_timeout: int = CELL_TIMEOUT_S, timeout: int = NOTEBOOK_TIMEOUT_S,
        limits: sandbox.Limits | None = sandbox.Limits()) -> tuple[list[dict], list[str]]:
    """Execute an assembled notebook under nbval in a fresh folder and process; cell records and notes.

    ``limits``: run it in a sandbox with these limits (labkit.sandbox); None runs it unsandboxed."""
    records, notes, _ = _run(notebook, cell_timeout=cell_timeout, timeout=timeout, limits=limits)
    return records, notes


def _read_report(path: Path) -> tuple[list[dict], int, bool]:
    """A report file's cell records (JSON lines, labkit._nbval_report), the count of processes the notebook left
    running, and whether the report was finished (its last line, ``{"end": ...}``, was written)."""
    records, leftovers, ended = [], 0, False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "end" in item:
            leftovers, ended = int(item.get("leftovers") or 0), bool(item["end"])
        elif isinstance(item, dict) and "cell" in item:
            records.append(item)
    return records, leftovers, ended


#: the grading process loads only the plugins it uses (nbval, and labkit's report): the others installed beside
#: them (xdist, anyio …) cost about 0.8 s of CPU a submission to import, and run nothing
_PYTEST_ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _run(notebook, *, cell_timeout: int, timeout: int, limits: sandbox.Limits | None = None,
         cancel: threading.Event | None = None) -> tuple[list[dict], list[str], str | None]:
    """run(), plus why the whole run was stopped early: TIME_LIMIT (past ``timeout``), sandbox.PROCESS_LIMIT or
    sandbox.MEMORY_LIMIT (a cgroup limit hit; the job is stopped at once), or None.

    When ``cancel`` is set (the grader was interrupted), or this thread gets KeyboardInterrupt, the run and
    every process it started are stopped, and the exception goes on."""
    token = uuid.uuid4().hex
    work = Path(tempfile.mkdtemp(prefix="labkit-grade-"))
    side = Path(tempfile.mkdtemp(prefix="labkit-grade-side-"))  # out of the notebook's reach by path
    nb_path = work / "submission.ipynb"
    nbformat.write(notebook, str(nb_path))
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\naddopts =\n")
    report = side / "report.jsonl"
    box = None
    if limits is not None:
        box = sandbox.Sandbox(limits, files={nb_path: f"{sandbox.WORK}/submission.ipynb",
                                             ini: f"{sandbox.WORK}/pytest.ini"},
                              env={TOKEN: token, "LABKIT_GRADING": "1", "PYTHONDONTWRITEBYTECODE": "1", **_PYTEST_ENV,
                                   "LABKIT_STATE_DIR": "/tmp/labkit-state",
                                   "LABKIT_CACHE_DIR": str(paths.cache_dir().resolve())})  # its builds, bound
        nb_arg, ini_arg, root, cwd = f"{sandbox.WORK}/submission.ipynb", f"{sandbox.WORK}/pytest.ini", sandbox.WORK, None
        env = None
    else:
        nb_arg, ini_arg, root, cwd = str(nb_path), str(ini), str(work), work
        (side / "tmp").mkdir()  # the kernel's connection file (its key) and other temporary files go with the run
        env = {**os.environ, **_PYTEST_ENV, TOKEN: token, "LABKIT_GRADING": "1", "LABKIT_STATE_DIR": str(side / "state"),
               "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(side / "tmp")}
    notes: list[str] = []
    stopped = None
    with open(report, "w") as out:
        fd = out.fileno()
        cmd = [sys.executable, "-P", "-m", "pytest", "-p", "nbval", nb_arg, "--nbval-lax", f"--nbval-cell-timeout={cell_timeout}",
               "-p", "labkit._nbval_report", f"--labkit-report-fd={fd}", "-p", "no:cacheprovider",
               "-c", ini_arg, "--rootdir", root, "-q"]
        if box is not None:
            cmd = box.command(cmd)
        # nothing reads pytest's own output, which a notebook could swell (the report is the descriptor)
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True,
                                pass_fds=(fd, *(box.pass_fds if box else ())))
        if box is None:
            _limit(proc.pid)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None:
                try:
                    proc.wait(0.25)
                except subprocess.TimeoutExpired:
                    pass
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt
                hit = box.exceeded() if box is not None else None
                if hit or time.monotonic() > deadline:
                    stopped = hit or TIME_LIMIT
                    notes.append(_STOPPED[stopped].format(timeout=timeout, limits=limits))
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        except BaseException:  # Ctrl-C, a kill or a closed terminal: the run ends with its grader, not after it
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if box is not None:
                box.close()
            _kill_tagged(token)  # unsandboxed, its kernel and simulator are in sessions of their own
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(side, ignore_errors=True)
            raise
        if box is not None:
            hit = box.exceeded()  # an out-of-memory kill that the notebook outlived
            if hit and stopped is None:
                stopped = hit
                notes.append(_STOPPED[hit].format(timeout=timeout, limits=limits))
            box.close()
    _kill_tagged(token)  # unsandboxed, its kernel and its simulator run in sessions of their own
    records, leftovers, ended = _read_report(report)
    if leftovers:
        notes.append(f"the notebook left {leftovers} process(es) running; the sandbox ended them")
    if not ended and not stopped:
        notes.append("the notebook's grading process ended early (killed or crashed): the cells after "
                     f"the last of the {len(records)} recorded could not be run" if records else
                     "the notebook could not be run (the grading process ended early)")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(side, ignore_errors=True)
    return records, notes, stopped


#: the note for a run stopped as a whole, by the reason it was stopped
_STOPPED = {
    TIME_LIMIT: "the notebook did not finish within {timeout} s; it was stopped",
    sandbox.PROCESS_LIMIT: "the notebook tried to run more than {limits.processes} processes or threads at once; "
                           "it was stopped",
    sandbox.MEMORY_LIMIT: "the notebook used more than {limits.memory_mb} MiB of memory; it was stopped",
}


def score(source, records: list[dict]) -> tuple[dict, dict, dict]:
    """Points per exercise: full points when every test cell of the exercise passed.

    Returns ({exercise: points}, {exercise: maximum}, {exercise: one line for the student})."""
    points, maximum, messages, _ = judge(source, records)
    return points, maximum, messages


def _flag(record: dict | None, name: str) -> bool:
    """A cell record's flag (labkit._nbval_report): set from nbval's and the kernel's state, never from the
    message, whose words an answer cell can choose."""
    return bool(record is not None and record.get(name))


def _gone(record: dict | None) -> bool:
    """The kernel died while this cell ran, or was gone before it started."""
    return _flag(record, "died") or _flag(record, "dead_at_start")


def judge(source, records: list[dict]) -> tuple[dict, dict, dict, dict]:
    """score(), plus {exercise: reason} for each exercise short of its points (a REASONS phrase).

    What the cell records alone tell: TIME_LIMIT, OUTPUT_LIMIT, KERNEL_DIED, NOT_ANSWERED, WRONG_ANSWER,
    ANSWER_ERROR, NOT_RUN. Each record is {"cell", "outcome", "message"} and the flags "timed_out", "died",
    "dead_at_start", "output_cut" (labkit._nbval_report), which alone decide the limits' reasons."""
    ids = authoring.validate(source, "source")
    tests: dict[str, list[str]] = {ex: [] for ex in ids}
    answers: dict[str, list[str]] = {ex: [] for ex in ids}
    for cell in source.cells:
        if "test" in authoring.roles(cell):
            tests[authoring.exercise_of(cell)].append(cell.get("id"))
        elif "solution" in authoring.roles(cell) and authoring.exercise_of(cell) in answers:
            answers[authoring.exercise_of(cell)].append(cell.get("id"))
    by_cell = {r["cell"]: r for r in records}
    # after a cell runs past its limit, nbval expects every later cell to fail: one that does is recorded as skipped
    stop = next((i for i, r in enumerate(records) if _flag(r, "timed_out")), len(records))
    xfailed = {r["cell"] for r in records[stop + 1:] if r["outcome"] == "skipped" and r.get("message")}
    points, maximum, messages, reasons = {}, {}, {}, {}
    for ex in ids:
        maximum[ex] = exercises.get(ex).points
        outcomes = [by_cell.get(cid) for cid in tests[ex]]
        tried = [by_cell.get(cid) for cid in answers[ex]]
        passed = all(o is not None and o["outcome"] == "passed" for o in outcomes)
        points[ex] = maximum[ex] if passed else 0
        failed = next((a for a in tried if a is not None and (a["outcome"] == "failed" or a["cell"] in xfailed)),
                      None)
        if passed:
            messages[ex] = "correct"
            continue
        if _flag(failed, "timed_out") and not _flag(failed, "died"):
            # the answer ran past its limit: the reason, whether or not its kernel then had to be stopped
            reasons[ex] = OUTPUT_LIMIT if _flag(failed, "output_cut") else TIME_LIMIT
            messages[ex] = f"your answer cell failed: {failed['message']}"
        elif any(_gone(r) for r in tried + outcomes):
            # a kernel gone while the answer ran (os._exit, a crash); one that would not stop at the time limit is
            # the branch above (labkit._nbval_report tells them apart)
            reasons[ex] = KERNEL_DIED
            if failed is not None and not _flag(failed, "dead_at_start"):
                messages[ex] = ("the kernel died while your answer cell ran (it crashed, exited or ran out of memory); "
                                "the cells after it could not run")
            else:
                messages[ex] = "not run: the kernel died in an earlier cell"
        elif any(o is None for o in outcomes):
            reasons[ex] = NOT_RUN
            messages[ex] = "not run (the notebook stopped before this exercise)"
        elif failed is not None:
            reasons[ex] = OUTPUT_LIMIT if _flag(failed, "output_cut") else ANSWER_ERROR
            messages[ex] = f"your answer cell failed: {failed['message'] or 'an error'}"
        else:
            messages[ex] = next(o["message"] for o in outcomes if o["outcome"] != "passed") or "the test cell failed"
            if any(_flag(o, "output_cut") for o in outcomes):
                reasons[ex] = OUTPUT_LIMIT
            elif any(_flag(o, "timed_out") for o in outcomes):
                reasons[ex] = TIME_LIMIT
            elif ": no answer yet (" in messages[ex]:
                reasons[ex] = NOT_ANSWERED
            else:
                reasons[ex] = WRONG_ANSWER
    return points, maximum, messages, reasons


def grade_one(source_path: Path, submission: Path, student: str, *, cell_timeout=CELL_TIMEOUT_S,
              timeout=NOTEBOOK_TIMEOUT_S, limits: sandbox.Limits | None = None,
              cancel: threading.Event | None = None) -> Grade:
    """One submission's Grade. A submission path that does not exist is a MISSING_NOTEBOOK row (0 points).

    ``limits``: grade it in a sandbox with these limits (the caller has checked ``sandbox.probe()``); None runs
    the student's code with the caller's rights, which ``labkit check`` does for a learner's own notebook.
    ``cancel``: an event that, once set, stops the run (see :func:`_run`)."""
    t0 = time.perf_counter()
    source = authoring.read(source_path)
    ids = authoring.validate(source, str(source_path))
    maximum = {ex: exercises.get(ex).points for ex in ids}

    def nothing(reason: str, note: str) -> Grade:
        return Grade(student, str(submission), {ex: 0 for ex in ids}, maximum, {ex: "not graded" for ex in ids},
                     [note], time.perf_counter() - t0, {ex: reason for ex in ids})

    if not submission.exists():
        return nothing(MISSING_NOTEBOOK, _missing_note(submission))
    try:
        sub = authoring.read(submission)
    except LabkitError as e:
        return nothing(UNREADABLE, str(e))
    try:
        assembled, notes, flags = _assemble(source, sub, source_path.stem)
    except NotThisLesson as e:
        return nothing(e.reason, str(e))
    records, run_notes, stopped = _run(assembled, cell_timeout=cell_timeout, timeout=timeout, limits=limits,
                                       cancel=cancel)
    points, maximum, messages, reasons = judge(source, records)
    for ex in reasons:
        if reasons[ex] == NOT_RUN and stopped == TIME_LIMIT:
            reasons[ex] = TIME_LIMIT
            messages[ex] = f"not run (the notebook ran past its time limit of {timeout} s and was stopped)"
        elif reasons[ex] in (NOT_RUN, KERNEL_DIED) and stopped in (PROCESS_LIMIT, MEMORY_LIMIT):
            reasons[ex] = stopped
            messages[ex] = f"not finished: the notebook was stopped at the {stopped} ({REASONS[stopped]})"
        elif reasons[ex] in (NOT_ANSWERED, WRONG_ANSWER, ANSWER_ERROR) and ex in flags:
            reasons[ex] = flags[ex]  # tampering or a removed answer cell says more than the failed check
    cut = [r["cell"] for r in records if r.get("outcome") == "passed" and _flag(r, "output_cut")]
    notes += [f"cell {c} printed more than {_nbval_report.MAX_OUTPUT >> 20} MiB; the rest was dropped" for c in cut]
    return Grade(student, str(submission), points, maximum, messages, notes + run_notes, time.perf_counter() - t0,
                 reasons)


def _missing_note(submission: Path) -> str:
    """What a teacher reads for a missing notebook: where it was looked for, and what the folder holds instead."""
    folder = submission.parent
    others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    instead = f" (it holds: {', '.join(others)})" if others else ""
    return f"{folder}: no {submission.name}{instead}"


def submission_path(path: Path, lesson_file: str) -> Path:
    """The notebook to grade for one command-line path: a file as given; for a student's folder, the
    lesson's file in it (``lesson_file``, say 00-getting-started.ipynb), which may be missing."""
    return path / lesson_file if path.is_dir() else path


def _lesson_named(path: Path) -> str | None:
    """The lesson a notebook's metadata names (labkit.lesson), or None if it names none or is unreadable."""
    try:
        return authoring.read(path).metadata.get("labkit", {}).get("lesson") or None
    except LabkitError:
        return None


def lesson_notebook(paths: list[Path]) -> Path | None:
    """A submitted notebook that names its lesson, to find the source by: the first such file among
    ``paths``, else one from the folders among them (every notebook in them is looked at). None when no
    path gives a lesson; LabkitError when the folders hold notebooks of several lessons."""
    for p in paths:
        if p.is_file() and _lesson_named(p):
            return p
    found: dict[str, Path] = {}
    for folder in (p for p in paths if p.is_dir()):
        for nb in sorted(folder.glob("*.ipynb")):
            lesson = _lesson_named(nb)
            if lesson:
                found.setdefault(lesson, nb)
    if len(found) > 1:
        raise LabkitError(f"The folders hold notebooks of several lessons ({', '.join(sorted(found))}).",
                          fix="pass --source path/to/the/lesson's/source.ipynb")
    return next(iter(found.values()), None)


def student_names(given: list[Path], lesson_file: str) -> dict[Path, str]:
    """Each submission's notebook (``submission_path``) and its student's name, as given on the command line.

    A folder is a student's folder: its name. A notebook file named as a lesson is named by its folder
    (``submitted/alice/00-getting-started.ipynb`` is alice's); any other file by its own name
    (``submitted/alice.ipynb``). Raises :class:`LabkitError` when two submissions would share a name (the
    second one's row and feedback would replace the first's), or one path is given twice.
    """
    names: dict[Path, str] = {}
    seen: dict[str, Path] = {}
    for p in given:
        lesson_named = p.name == lesson_file or re.fullmatch(r"\d\d[a-z]?-[\w.-]+\.ipynb", p.name)
        name = p.name if p.is_dir() else (p.resolve().parent.name if lesson_named else p.stem)
        if name in seen:
            raise LabkitError(f"Two submissions would be graded as the same student '{name}': {seen[name]} and {p}.",
                              fix="give each student a folder of their own (submitted/<student>/) or a notebook "
                                  "of their own name, and each path once")
        seen[name] = p
        names[submission_path(p, lesson_file)] = name
    return names


def prepare(limits: sandbox.Limits | None) -> None:
    """Before a class is graded: the lab simulator built once (no job may build it, and a sandboxed one cannot),
    and, with ``limits``, a sandbox proven to work here (raises sandbox.SandboxUnavailable with the way out)."""
    from .sim import builder

    if builder.built_binary() is None:
        builder.build()
    if limits is not None:
        sandbox.probe()


def grade(source_path: Path, submissions: list[Path], *, jobs: int | None = None, cell_timeout=CELL_TIMEOUT_S,
          timeout=NOTEBOOK_TIMEOUT_S, progress=None, limits: sandbox.Limits | None = sandbox.Limits()) -> list[Grade]:
    """Grade many submissions (notebook files, or students' folders) in parallel, one process each; the Grades
    sorted by student. A folder without the lesson's notebook gets a MISSING_NOTEBOOK row.

    Each submission runs in a sandbox of its own with ``limits`` (labkit.sandbox); raises
    sandbox.SandboxUnavailable when this machine cannot make one. ``limits=None`` grades without a sandbox
    (``--no-sandbox``), and every row says so in its notes (NO_SANDBOX)."""
    prepare(limits)
    jobs = jobs or os.cpu_count() or 1
    names = student_names([Path(p) for p in submissions], source_path.name)
    submissions = list(names)
    cancel = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(grade_one, source_path, p, names[p], cell_timeout=cell_timeout, timeout=timeout,
                               limits=limits, cancel=cancel)
                   for p in submissions]
        results = []
        for f in concurrent.futures.as_completed(futures):
            results.append(f.result())
            if limits is None:
                results[-1].notes.append(NO_SANDBOX)
            if progress:
                progress(results[-1])
    except BaseException:  # Ctrl-C, a kill: the runs in progress are stopped, the waiting ones never start
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return sorted(results, key=lambda g: g.student)
