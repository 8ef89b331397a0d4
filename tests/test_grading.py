"""Release, grading on nbval, the gradebook: perfect, empty, partial, tampered and malicious submissions."""
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
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
    import tempfile

    folder = tmp_path_factory.mktemp("release")
    scratch = tmp_path_factory.mktemp("release-tmp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(scratch))  # where this release makes its state folder
        out = {src.name: authoring.release(src, folder, execute=src == LESSON) for src in SOURCES}
    # the executed release's state folder goes with it (every release once left one behind)
    assert list(scratch.iterdir()) == []
    return out


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
        assert student.metadata["labkit"] == {"lesson": src.stem, "source": authoring.fingerprint(source),
                                              "released": authoring.fingerprint(student)}
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


# -- hostile submissions -------------------------------------------------------
#: A sandboxed class run's limits, below the defaults so that the attacks on them are over quickly: lesson 00 needs
#: about 400 MiB; the memory attack meets 1 GiB in a second, the file and disk attacks 64 and 256 MiB.
LIMITS = grading.sandbox.Limits(memory_mb=1024, file_mb=64, disk_mb=256)

#: where labkit may not make a cgroup (a user; cgroup v2), the fork bomb and the memory hog meet the rlimits
#: instead: their own cell fails, and the notebook goes on (as measured with whole_job_limits() made False, through
#: a pytest plugin that replaces it)
WHOLE_JOB = grading.sandbox.whole_job_limits()
#: where the fork bomb's reason is not steady: without a cgroup, the kernel's forks run its cell on, and the cell
#: ends in BlockingIOError or seems to finish without an answer (two runs, one of each)
UNSTEADY = set() if WHOLE_JOB else {"h-forkbomb"}
NO_CGROUP = {"h-forkbomb": ({"00.cluster-hosts": 0, "00.vms-on-esx-01": 2, "00.guard": 1},
                            {"00.cluster-hosts": (grading.ANSWER_ERROR, "BlockingIOError")}),
             "h-memory": ({"00.cluster-hosts": 0, "00.vms-on-esx-01": 2, "00.guard": 1},
                          {"00.cluster-hosts": (grading.ANSWER_ERROR, "MemoryError")})}

#: a sleep that a hostile submission leaves running: a number no other process on the machine has in its args
LINGER = f"613.{os.getpid()}"


def _solution(exercise: str) -> str:
    (cell,) = _cells(authoring.read(LESSON), exercise, "solution")
    return "\n".join(_solution_lines(cell.source)) + "\n"


def _hostile(student, root: Path, instructor: Path, victim: Path, port: int, address: str) -> dict:
    """Submissions that attack the grader, each in its own way, and answer the rest of the lesson rightly.

    Every path they aim at lies under ``root`` (the test's own folder): were the sandbox to fail, they would
    damage nothing else. Each names the exercise whose answer cell attacks; the other exercises are answered."""
    right = {ex: _solution(ex) for ex in ("00.cluster-hosts", "00.vms-on-esx-01", "00.guard")}
    solutions = instructor / "solutions" / "answers.md"
    source = instructor / "notebooks" / LESSON.name
    pre = f"PREFIX = {str(root)!r}\n"
    single = {
        # the attack the issue measured: the grader's folder found through /proc/<ancestor>/cwd, then files
        # deleted by absolute path: the instructor's, another student's notebook
        "h-deleter": ("00.cluster-hosts", pre + """import os
found = []
pid = os.getpid()
while pid > 1:
    with open(f"/proc/{pid}/stat") as fh:
        pid = int(fh.read().rsplit(")", 1)[1].split()[1])
    try:
        here = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        continue
    if here.startswith(PREFIX):
        for d, _, files in os.walk(here):
            found += [os.path.join(d, f) for f in files]
for link in os.listdir("/proc"):
    if link.isdigit():
        try:
            here = os.readlink(f"/proc/{link}/cwd")
        except OSError:
            continue
        if here.startswith(PREFIX):
            found.append(here)
for f in found:
    os.remove(f)
""" + f"os.remove({str(victim)!r})\nos.remove({str(source)!r})\n" + right["00.cluster-hosts"]),
        # writes outside its folder: a relative path up the tree, a symlink, the home folder, /root and /tmp
        "h-writer": ("00.vms-on-esx-01", f"""import os, pathlib
pathlib.Path.home().joinpath(".bashrc").write_text("rm -rf ~")
for marker in ({str(Path.home() / "labkit-hostile-marker")!r}, "/tmp/labkit-hostile-marker"):
    try:
        open(marker, "w").write("was here")
    except OSError:
        pass
os.symlink({str(victim)!r}, "victim.ipynb")
up = "../" * 12 + {str(victim)!r}.lstrip("/")
try:
    open(up, "w").write("{{}}")
except OSError:
    pass
open("victim.ipynb", "w").write("{{}}")
""" + right["00.vms-on-esx-01"]),
        # reads: another student's notebook, the instructor's solutions and source
        "h-reader": ("00.guard", f"""leaked = open({str(solutions)!r}).read() + open({str(victim)!r}).read()
leaked += open({str(source)!r}).read()
""" + right["00.guard"]),
        # a SIGINT to its own grading process, then an error that claims a limit and drives a terminal
        "h-liar": ("00.guard", "import os, signal\nos.kill(os.getppid(), signal.SIGINT)\n"
                               "raise RuntimeError('\\x1b]0;owned\\x07\\x1b[2J it ran past the time limit for one "
                               "cell and was stopped; Kernel died; output limit')\n"),
        "h-forkbomb": ("00.cluster-hosts", "import os\nwhile True:\n    os.fork()\n"),
        "h-memory": ("00.cluster-hosts", "hoard = []\nwhile True:\n    hoard.append(bytearray(64 << 20))\n"),
        "h-bigfile": ("00.cluster-hosts", "with open('big.bin', 'wb') as fh:\n    while True:\n"
                                          "        fh.write(b'x' * (1 << 20))\n"),
        "h-diskfill": ("00.vms-on-esx-01", "import itertools\nfor i in itertools.count():\n"
                                           "    with open(f'fill-{i}.bin', 'wb') as fh:\n"
                                           "        fh.write(b'x' * (32 << 20))\n"),
        # prints without end (paced, so that the lesson's other cells keep their share of the machine)
        "h-flood": ("00.cluster-hosts", "import time\nwhile True:\n    print('spam ' * 200)\n    time.sleep(0.005)\n"),
        "h-swallow": ("00.cluster-hosts", "import time\nwhile True:\n    try:\n        time.sleep(1)\n"
                                          "    except KeyboardInterrupt:\n        print('not stopping')\n"),
        # the network: anything but its own simulator (the test's listener on this machine, by loopback and
        # by the machine's address; an address outside)
        "h-network": ("00.cluster-hosts", f"""import socket
for address in (("127.0.0.1", {port}), ({address!r}, {port}), ("1.1.1.1", 443)):
    try:
        socket.create_connection(address, timeout=3).close()
    except OSError as e:
        last = e
    else:
        break
else:
    raise last
""" + right["00.cluster-hosts"]),
        # signals: the grader (its pid on this machine, and its parent's) and every process it can see
        "h-killer": ("00.cluster-hosts", f"""import os, signal
for pid in [{os.getpid()}, {os.getppid()}] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
""" + right["00.cluster-hosts"]),
        # processes left running: a session of their own, and a double fork
        "h-lingerer": ("00.guard", f"""import os, subprocess
subprocess.Popen(["sleep", "{LINGER}"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{LINGER}"])
    os._exit(0)
if os.fork() == 0:  # a third, named like the lab simulator, and not in UTF-8
    import ctypes, time
    os.setsid()
    ctypes.CDLL(None).prctl(15, b"labsim-\\xff\\xfe", 0, 0, 0)
    time.sleep(600)
    os._exit(0)
""" + right["00.guard"]),
    }
    # several attacks share a submission where each only fails its own exercise: fewer lesson runs
    attacks = {
        "h-files": dict([single["h-deleter"], single["h-writer"], single["h-reader"]]),
        "h-forkbomb": dict([single["h-forkbomb"]]),
        "h-memory": dict([single["h-memory"]]),
        "h-disk": dict([single["h-bigfile"], single["h-diskfill"], single["h-liar"]]),
        "h-flood": dict([single["h-flood"]]),
        "h-swallow": dict([single["h-swallow"]]),
        "h-network": dict([single["h-network"], ("00.guard", single["h-lingerer"][1])]),
        "h-killer": dict([single["h-killer"]]),
    }
    out = {}
    for name, cells in attacks.items():
        nb = nbformat.from_dict(json.loads(json.dumps(student)))
        for ex, code in right.items():
            _answer(nb, ex, cells.get(ex, code))
        out[name] = nb
    return out


def _hashes(folder: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _census() -> dict[int, str]:
    """Every process on the machine: pid -> its command line."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                out[int(pid)] = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return out


def _running_as(uids: set[int]) -> list[int]:
    """Processes that run as one of these uids (the grading jobs' own)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid in uids:
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """One class, graded once, in sandboxes: the samples above and the hostile submissions, side by side, from
    the instructor's folder (the grader's working folder, as when an instructor runs `labkit grade`)."""
    import socket
    import threading

    root = tmp_path_factory.mktemp("course")
    instructor = root / "instructor"
    (instructor / "notebooks").mkdir(parents=True)
    (instructor / "solutions").mkdir()
    source = instructor / "notebooks" / LESSON.name
    source.write_bytes(LESSON.read_bytes())
    (instructor / "solutions" / "answers.md").write_text("00.cluster-hosts: 3\n")
    folder = root / "class"
    folder.mkdir()
    subs = _samples(released, folder)
    victim = folder / "perfect" / LESSON.name
    listener = socket.create_server(("0.0.0.0", 0))
    reached = []

    def accept():
        while True:
            try:
                reached.append(listener.accept())
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    student = authoring.read(released[LESSON.name])
    address = socket.gethostbyname(socket.gethostname())  # this machine's address, as its name resolves here
    for name, nb in _hostile(student, root, instructor, victim, listener.getsockname()[1], address).items():
        (folder / name).mkdir()
        nbformat.write(nb, str(folder / name / LESSON.name))
        subs.append(folder / name / LESSON.name)
    # those that wait out a cell's time limit start first, so that the others are graded meanwhile
    slow = [p for p in subs if p.parent.name in ("h-swallow", "h-flood", "malicious", "crasher")]
    subs = slow + [p for p in subs if p not in slow]
    # a bystander: one of the instructor's own processes, which no submission may end
    bystander = subprocess.Popen(["sleep", "600"])
    before = {"course": _hashes(root), "census": _census()}
    kill = grading._kill_tagged

    def kill_and_record(token):
        _TOKENS.add(token)
        kill(token)

    boxes = []

    class RecordedSandbox(grading.sandbox.Sandbox):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.made = list(self.cgroup.dirs.values())
            boxes.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grading, "_kill_tagged", kill_and_record)
        mp.setattr(grading.sandbox, "Sandbox", RecordedSandbox)
        mp.chdir(instructor)
        # 30 s a cell: room for the lesson's own cells on a machine busy with the other test worker too (at 20 s,
        # a clean-clone run once stopped the 'empty' lesson early); the hanging answer, the dead kernel and the
        # hostile ones that wait out a limit do so side by side, while the other jobs grade the rest
        grades = grading.grade(source, subs, jobs=6, cell_timeout=30, timeout=240, limits=LIMITS)
    uids = {box.uid for box in boxes} - {None}  # None: graded as a user, in a user namespace
    after = {"course": _hashes(root), "census": _census(), "reached": list(reached), "bystander": bystander.poll(),
             "jobs": len(boxes), "job_uids": uids, "running_as_jobs": _running_as(uids),
             "cgroups": [d for box in boxes for d in box.made], "cgroups_left": [d for box in boxes for d in box.made
                                                                               if d.exists()]}
    bystander.kill()
    bystander.wait()
    listener.close()
    files = gradebook.write(grades, root / "graded")
    return grades, files, {"root": root, "before": before, "after": after}


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
    # the hostile submissions (HOSTILE, below, gives their points and messages)
    "h-disk": "error in answer cell",
    "h-files": "error in answer cell",
    "h-flood": "00.cluster-hosts: output limit",
    "h-forkbomb": "process limit",
    "h-killer": "not run",
    "h-memory": "memory limit",
    "h-network": "00.cluster-hosts: error in answer cell",
    "h-swallow": "00.cluster-hosts: time limit; 00.vms-on-esx-01: kernel died; 00.guard: kernel died",
}
if not WHOLE_JOB:
    REASONS.update({"h-forkbomb": "00.cluster-hosts: error in answer cell",
                    "h-memory": "00.cluster-hosts: error in answer cell"})


def _expected_book() -> list[dict]:
    """expected_gradebook.csv's rows, on a machine without whole-job limits with NO_CGROUP's two rows instead."""
    rows = list(csv.DictReader(open(EXPECTED)))
    if not WHOLE_JOB:
        for row in rows:
            if row["student"] in NO_CGROUP:
                points, why = NO_CGROUP[row["student"]]
                row.update({ex: str(p) for ex, p in points.items()}, total=str(sum(points.values())),
                           notes="; ".join(f"{ex}: {r}" for ex, (r, _) in why.items()))
    return rows


def test_the_gradebook_is_exactly_as_expected(graded):
    grades, files, _ = graded
    got = list(csv.DictReader(open(files["gradebook"])))
    want = _expected_book()
    assert [{k: r[k] for k in r if k != "notes"} for r in got] == [{k: r[k] for k in r if k != "notes"} for r in want]
    notes = {r["student"]: r["notes"] for r in got}
    for student, expected in ((r["student"], r["notes"]) for r in want if r["student"] not in UNSTEADY):
        for piece in filter(None, expected.split("; ")):
            assert piece in notes[student], (student, piece, notes[student])
        # the notes open with the reasons for the zeros, exactly
        assert notes[student].startswith(REASONS[student]), (student, notes[student])
        assert expected.startswith(REASONS[student]), ("expected_gradebook.csv is out of step", student)
    assert {g.student: "; ".join(gradebook.reasons(g)) for g in grades if g.student not in UNSTEADY} == {
        k: v for k, v in REASONS.items() if k not in UNSTEADY}


def test_every_zero_has_a_reason(graded):
    grades, _, _ = graded
    for g in grades:
        short = {ex for ex in g.max_points if g.points[ex] < g.max_points[ex]}
        assert set(g.reasons) == short, g.student
        assert set(g.reasons.values()) <= set(grading.REASONS), g.student
    by = {g.student: g for g in grades}
    assert by["crasher"].messages["00.vms-on-esx-01"].startswith("the kernel died while your answer cell ran")
    assert by["crasher"].messages["00.guard"] == "not run: the kernel died in an earlier cell"
    assert by["absent"].notes == [f"{Path(by['absent'].submission).parent}: no {LESSON.name} (it holds: Untitled.ipynb)"]


def test_tampering_is_reported_and_does_not_pay(graded):
    grades, _, _ = graded
    t = next(g for g in grades if g.student == "tampered")
    assert t.points == {"00.cluster-hosts": 1, "00.vms-on-esx-01": 0, "00.guard": 0}
    assert "00.guard: the test cell was edited; the original was used" in t.notes
    assert "00.vms-on-esx-01: the test cell was deleted; the original was used" in t.notes


def test_malicious_and_crashing_notebooks_fail_only_themselves(graded):
    grades, _, _ = graded
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
    assert len(_TOKENS) == 6 + len(HOSTILE) and _grading_processes(_TOKENS) == []  # the lesson ran that often


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
    grades, _, _ = graded
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
    grades, _, _ = graded
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
    # the same class exported for an LMS (labkit.lms; tests/test_lms.py checks the layouts against the documented
    # samples): one row per graded student, identified through the roster
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,sis_login_id,email\nabsent,\"Absent, Ann\",aann,ann@example.edu\n"
                      "other-lesson,\"Other, Otto\",ootto,otto@example.edu\nnever,Never Graded,nnever,n@example.edu\n")
    r = run_cli("grade", str(absent), str(other), "--source", str(LESSON), "-o", str(out), "--export", "canvas",
                "--export", "moodle", "--roster", str(roster), "--assignment", "Lab 00", timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "not in the export (in the roster, not graded): never" in r.stdout
    canvas = list(csv.reader((out / "canvas.csv").read_text(encoding="utf-8").splitlines()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 00"]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "4"
    assert sorted((row[0], row[3], row[-1]) for row in canvas[2:]) == [("Absent, Ann", "aann", "0"),
                                                                       ("Other, Otto", "ootto", "0")]
    moodle = list(csv.DictReader((out / "moodle.csv").read_text(encoding="utf-8").splitlines()))
    assert sorted(row["Email address"] for row in moodle) == ["ann@example.edu", "otto@example.edu"]
    assert all(row["Lab 00"] == "0" and "Feedback: Lab 00" in row for row in moodle)
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
    code, text = refused(str(absent), "--source", str(LESSON), "-o", str(out), "--roster", str(roster))
    assert code != 0 and "--roster is for an LMS export" in text and "--export canvas" in text
    roster.write_text("student,email\nabsent,ann@example.edu\n")  # other-lesson missing: refused before grading
    code, text = refused(str(absent), str(other), "--source", str(LESSON), "-o", str(tmp_path / "late"),
                         "--export", "moodle", "--roster", str(roster))
    assert code != 0 and f"The roster {roster} has no row for: other-lesson." in text
    assert not (tmp_path / "late").exists()


def test_feedback_and_summary(graded):
    grades, files, _ = graded
    text = (files["feedback"] / "partial.md").read_text()
    assert "Score: **2 / 4**" in text
    assert "[ ] 00.vms-on-esx-01 VMs running on esx-01: not yet (0/2). 1 name(s) too many." in text
    assert "web-02" not in text  # the feedback never names the answer
    html = files["summary"].read_text()
    assert "Exercise pass rates (17 submissions)" in html and "plotly" in html
    rates = gradebook.pass_rates(grades)
    book = _expected_book()
    assert rates["00.guard"] == pytest.approx(sum(r["00.guard"] == "1" for r in book) / len(book))


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
    grades, files, _ = graded
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
                assert g.reasons[ex] in REASONS[g.student] or g.student in UNSTEADY
        assert row[-2] == f"{g.total} / {g.maximum}"
        assert row[-1] == "\n".join(g.notes)
    for student, words in (("crasher", "kernel died"), ("malicious", "time limit"), ("tampered", "edited test cell"),
                           ("absent", "missing notebook"), ("empty", "not answered"), ("partial", "wrong answer"),
                           ("corrupt", "unreadable notebook")):
        assert any(cell.endswith("\n" + words) for cell in rows[student][1:-2]), (student, rows[student])
    (foot,) = page.rows["tfoot"]
    book = _expected_book()
    assert foot[:4] == ["pass rate", *(f"{sum(r[ex] == str(grades[0].max_points[ex]) for r in book) / len(book):.0%}"
                                       for ex in ids)]
    assert foot[1:4] == (["24%", "24%", "24%"] if WHOLE_JOB else ["24%", "35%", "35%"])


def test_the_summary_is_small_and_loads_plotly_from_a_sibling_file(graded):
    grades, files, _ = graded
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
    """Cell records as the grading report gives them when a kernel dies in a cell: every code cell passed up to
    ``stop_at`` (failed with ``message``; nbval interrupted it at its limit and found the kernel gone), the cells
    after it skipped with ``after`` (the kernel gone when they started)."""
    out, state = [], "passed"
    for c in source.cells:
        if c.cell_type != "code":
            continue
        if c.get("id") == stop_at:
            out.append({"cell": c.get("id"), "outcome": "failed", "message": message, "timed_out": True,
                        "died": True})
            state = "skipped"
        else:
            out.append({"cell": c.get("id"), "outcome": state, "message": "" if state == "passed" else after,
                        "dead_at_start": state != "passed"})
    return out


def test_a_dead_kernel_is_named(released, monkeypatch):
    """No lesson run: grading's run is replaced by the records nbval gives when a kernel dies in an answer cell
    (os._exit): that cell failed, and every later cell finds the kernel dead."""
    source = authoring.read(LESSON)
    (answer,) = _cells(source, "00.vms-on-esx-01", "solution")
    records = _records(source, answer.id, "os._exit(9)", "pytest plugin exception: Kernel dead on test start")
    monkeypatch.setattr(grading, "_run", lambda nb, **kw: (records, [], None))
    g = grading.grade_one(LESSON, released[LESSON.name], "x")
    assert g.points == {"00.cluster-hosts": 1, "00.vms-on-esx-01": 0, "00.guard": 0}
    assert g.reasons == {"00.vms-on-esx-01": grading.KERNEL_DIED, "00.guard": grading.KERNEL_DIED}
    assert g.messages["00.vms-on-esx-01"].startswith("the kernel died while your answer cell ran")
    assert g.messages["00.guard"] == "not run: the kernel died in an earlier cell"


def test_a_notebook_past_its_time_limit_loses_every_exercise_to_the_time_limit(released, monkeypatch):
    monkeypatch.setattr(grading, "_run", lambda nb, **kw: ([], ["the notebook did not finish within 5 s"],
                                                           grading.TIME_LIMIT))
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
    grades, _, _ = graded
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



#: each hostile submission: its points, and the reason (and words of the message) for each exercise short of them
E1, E2, E3 = "00.cluster-hosts", "00.vms-on-esx-01", "00.guard"
HOSTILE = {
    # files outside its folder: deleted through the grader's folder and by absolute path; written through a
    # relative path, a symlink, the home folder; read (another submission, the instructor's solutions)
    "h-files": ({E1: 0, E2: 0, E3: 0}, {E1: (grading.ANSWER_ERROR, "FileNotFoundError"),
                                        E2: (grading.ANSWER_ERROR, "FileNotFoundError"),
                                        E3: (grading.ANSWER_ERROR, "FileNotFoundError")}),
    # stopped at once by the job's cgroup, where labkit may make one (as root on cgroup v1, as where the course is
    # checked); elsewhere the rlimits refuse the forks and the memory, and the cell fails
    **({"h-forkbomb": ({E1: 0, E2: 0, E3: 0}, {ex: (grading.PROCESS_LIMIT, "process limit") for ex in (E1, E2, E3)}),
        "h-memory": ({E1: 0, E2: 0, E3: 0}, {ex: (grading.MEMORY_LIMIT, "memory limit") for ex in (E1, E2, E3)})}
       if WHOLE_JOB else NO_CGROUP),
    # its third answer claims a time limit, a dead kernel and the output limit in its error's words, and sends
    # its grading process a SIGINT: the reason stays the error, the run goes on, the terminal codes are dropped
    "h-disk": ({E1: 0, E2: 0, E3: 0}, {E1: (grading.ANSWER_ERROR, "File too large"),
                                       E2: (grading.ANSWER_ERROR, "No space left on device"),
                                       E3: (grading.ANSWER_ERROR, "owned[2J it ran past the time limit")}),
    "h-flood": ({E1: 0, E2: 2, E3: 1}, {E1: (grading.OUTPUT_LIMIT, "output limit: it printed more than 2 MiB")}),
    "h-swallow": ({E1: 0, E2: 0, E3: 0}, {E1: (grading.TIME_LIMIT, "ignored the interrupt, so its kernel was stopped"),
                                          E2: (grading.KERNEL_DIED, "kernel died"),
                                          E3: (grading.KERNEL_DIED, "kernel died")}),
    # the network beyond its own simulator (its second answer reads that simulator, and is right), and two
    # processes left running by its third answer, which is right
    "h-network": ({E1: 0, E2: 2, E3: 1}, {E1: (grading.ANSWER_ERROR, "Network is unreachable")}),
    "h-killer": ({E1: 0, E2: 0, E3: 0}, {ex: (grading.NOT_RUN, "not run") for ex in (E1, E2, E3)}),
}
#: what the gradebook's notes add for a hostile submission, besides its reasons
HOSTILE_NOTES = {
    **({"h-forkbomb": "the notebook tried to run more than 256 processes or threads at once; it was stopped",
        "h-memory": "the notebook used more than 1024 MiB of memory; it was stopped"} if WHOLE_JOB else {}),
    "h-killer": "the notebook's grading process ended early (killed or crashed)",
    "h-network": "the notebook left 3 process(es) running; the sandbox ended them",
}


def test_each_hostile_submission_fails_only_itself_with_a_reason(graded):
    """Every attack is contained and costs only the exercise it sits in (or, for an attack on the machine's
    resources or on its own grading process, the rest of its own notebook), with its reason in the feedback and
    the gradebook's notes."""
    grades, files, _ = graded
    by = {g.student: g for g in grades}
    book = {r["student"]: r for r in csv.DictReader(open(files["gradebook"]))}
    for name, (points, why) in HOSTILE.items():
        g = by[name]
        if name in UNSTEADY:  # its points, and a reason for its one zero, only
            assert g.points == points and set(g.reasons) == set(why), (name, g.points, g.reasons)
            continue
        assert g.points == points, (name, g.points, g.messages, g.notes)
        assert {ex: r for ex, (r, _) in why.items()} == g.reasons, (name, g.reasons, g.messages)
        feedback = (files["feedback"] / f"{name}.md").read_text()
        for ex, (reason, words) in why.items():
            assert words in g.messages[ex], (name, ex, g.messages[ex])
            assert reason in book[name]["notes"], (name, book[name]["notes"])
            assert f"| {ex} | 0 / {g.max_points[ex]} | " in feedback and words in feedback, (name, feedback)
        assert "\x1b" not in feedback and "\x07" not in feedback and "\x1b" not in book[name]["notes"]
        if name in HOSTILE_NOTES:
            assert any(n.startswith(HOSTILE_NOTES[name]) for n in g.notes), (name, g.notes)
            assert HOSTILE_NOTES[name] in book[name]["notes"] and HOSTILE_NOTES[name] in feedback


def test_the_deletion_through_the_graders_folder_fails_only_itself(graded):
    """The attack measured before the sandbox: an answer cell that finds the grader's folder through
    /proc/<parent>/cwd and deletes by absolute path another student's notebook and the instructor's files. Now
    none of them exists for it: it fails its own exercise, and every file of the course (the instructor's tree,
    every submission) is byte-identical afterwards; the student it aimed at keeps full marks."""
    grades, _, world = graded
    by = {g.student: g for g in grades}
    assert by["h-files"].points["00.cluster-hosts"] == 0
    assert "perfect/00-getting-started.ipynb" in by["h-files"].messages["00.cluster-hosts"]
    before, after = world["before"]["course"], world["after"]["course"]
    assert "instructor/notebooks/00-getting-started.ipynb" in before and "class/perfect/00-getting-started.ipynb" in before
    assert after == before
    assert by["perfect"].total == by["perfect"].maximum == 4
    assert by["perfect"].notes == [] and by["partial"].total == 2


def test_no_attack_reaches_the_machine(graded):
    """A process census and the machine's own files after the class: the instructor's process (a bystander)
    still runs, nothing runs as a job's uid, no process a submission left behind survives, no cgroup of the
    grader is left, nothing connected to the listener on this machine, and nothing was written in the home
    folder or /tmp."""
    _, _, world = graded
    after = world["after"]
    assert after["bystander"] is None  # still running when the class was done
    # every lesson run had a sandbox of its own (the probe one more), each with a uid of its own when graded as root
    assert after["jobs"] >= len(_TOKENS) and len(after["job_uids"]) == (after["jobs"] if os.geteuid() == 0 else 0)
    assert after["running_as_jobs"] == [] and after["cgroups_left"] == []
    assert len(after["cgroups"]) == (3 * after["jobs"] if WHOLE_JOB else 0)  # pids, memory and cpu, each job
    assert [c for c in after["census"].values() if LINGER in c] == []
    assert _grading_processes(_TOKENS) == []
    assert after["reached"] == []
    for marker in (Path.home() / "labkit-hostile-marker", Path("/tmp/labkit-hostile-marker")):
        assert not marker.exists()


@pytest.mark.skipif("--disable-userns" not in subprocess.run(["bwrap", "--help"], capture_output=True, text=True).stdout,
                    reason="this bubblewrap (before 0.8) cannot forbid user namespaces to what it runs")
def test_an_unsandboxed_run_reports_each_cell_with_the_graders_rights():
    """Without a sandbox (`labkit check`, `labkit grade --no-sandbox`) the notebook runs as this user, and the
    report still comes back cell by cell through the passed descriptor."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nuid = os.getuid()"),
                nbformat.v4.new_code_cell(f"assert uid == {os.getuid()}, uid")]
    records, notes, stopped = grading._run(nb, cell_timeout=30, timeout=60, limits=None)
    assert [r["outcome"] for r in records] == ["passed", "passed"] and notes == [] and stopped is None, records


def test_without_a_sandbox_grading_refuses_and_names_the_way_out(graded, tmp_path):
    """A machine where bubblewrap cannot make a sandbox (here: a user, in a user namespace that may not make
    another, as on a kernel that forbids them): `labkit grade` stops before any work with one line naming the
    cause, the fix and --no-sandbox; with --no-sandbox it grades, warns, and every gradebook row says so.

    The submission graded is one of another lesson, judged without a lesson run: here only the refusal and the
    way out are tested; an unsandboxed run itself (`labkit check`'s) is the next test."""
    grades, _, _ = graded
    other = next(g for g in grades if g.student == "other-lesson").submission
    outer = ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-user", "--uid", "1000",
             "--gid", "1000", "--disable-userns", "--", sys.executable, "-m", "labkit.cli", "grade", other,
             "--source", str(LESSON), "-o", str(tmp_path / "graded")]
    r = subprocess.run(outer, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    (line,) = (r.stdout + r.stderr).strip().splitlines()
    assert line.startswith("labkit: Grading runs students' code in a sandbox, and bubblewrap cannot make one here")
    assert "let users create user namespaces" in line and "--no-sandbox" in line
    assert not (tmp_path / "graded").exists()
    r = subprocess.run([*outer, "--no-sandbox"], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "warning: --no-sandbox" in r.stderr
    (row,) = csv.DictReader(open(tmp_path / "graded" / "gradebook.csv"))
    assert row["total"] == "0" and row["notes"].startswith("wrong lesson; ") and \
        row["notes"].endswith("; " + grading.NO_SANDBOX), row
