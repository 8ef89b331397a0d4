"""Bad input never costs anyone their work: a table of wrong or hostile inputs, each refused in one line.

Each row runs one `labkit` command in this process (cli.main, as the `labkit` entry point does) or one
library call, and asserts: the exit code, the single line it prints (a pattern), that no traceback appears,
and that nothing changed: the files of a prepared course folder (hashes) and the processes this test started
(a census of its children). The rows only use inputs that are refused before any work: none starts a
simulator, a kernel or QEMU, so the table stays cheap.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import time
from pathlib import Path

import pytest

from labkit import cli, gradebook, grading

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "00-getting-started.ipynb"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with the things bad inputs aim at: a source, a submission, scenario files, a file where
    a folder is expected, another lesson's gradebook, a roster."""
    d = tmp_path_factory.mktemp("bad-input")
    (d / "notebooks").mkdir()
    (d / "notebooks" / LESSON.name).write_bytes(LESSON.read_bytes())
    alice = d / "submitted" / "alice"
    alice.mkdir(parents=True)
    (alice / LESSON.name).write_bytes(LESSON.read_bytes())
    (d / "submitted" / "nobody").mkdir()
    (d / "a-file").write_text("not a folder\n")
    (d / "notes.txt").write_text("not a notebook\n")
    (d / "graded-03").mkdir()
    (d / "graded-03" / "gradebook.csv").write_text("student,03.min-bandwidth,total,max,notes\nbob,1,1,1,\n")
    (d / "roster.csv").write_text("student,email\nbob,bob@example.edu\n")
    (d / "scenarios").mkdir()
    (d / "scenarios" / "dup.yaml").write_text("title: t\nteaches: t\nclusters:\n  C: {hosts: [esx-01]}\n"
                                              "vms:\n  a: {host: esx-01}\n  a: {host: esx-01}\n")
    big = (ROOT / "datasets" / "scenarios" / "large-datacenter.yaml").read_text()
    (d / "scenarios" / "billion.yaml").write_text(big.replace("vmsPerCluster: 400", "vmsPerCluster: 200000000"))
    (d / "scenarios" / "hosts.yaml").write_text(big.replace("hostsPerCluster: 10", "hostsPerCluster: 1000"))
    (d / "scenarios" / "broken.yaml").write_text("title: b\nhosts: [\n  - x: 1\n")
    (d / "scenarios" / "list.yaml").write_text("- a\n- b\n")
    (d / "scenarios" / "empty.yaml").write_text("")
    return d


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _children() -> set[int]:
    """The processes this test process started and that still run."""
    me = str(os.getpid())
    out = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == me:
                out.add(int(pid))
    return out


#: (id, argv with {d} for the course folder, exit code, the one line as a regex[, environment])
CLI_ROWS = [
    # ports: numbers in 1-65535 (99999 once went to JupyterLab as 34463, printed nowhere)
    ("lab-port-too-big", ["lab", "--port", "99999", "--no-browser"], 2, r"--port: 99999 is not a port number \(1 to 65535\)\. Fix: labkit lab --help"),
    ("lab-port-negative", ["lab", "--port=-1", "--no-browser"], 2, r"--port: -1 is not a port number"),
    ("lab-port-zero", ["lab", "--port", "0", "--no-browser"], 2, r"--port: 0 is not a port number"),
    ("lab-port-word", ["lab", "--port", "http", "--no-browser"], 2, r"--port: 'http' is not a port number"),
    ("lab-no-lessons", ["lab", "--notebooks", "{d}/nowhere", "--no-browser"], 1, r"No lessons at .*/nowhere\. Fix:"),
    ("doctor-port-too-big", ["doctor", "--port", "70000"], 2, r"--port: 70000 is not a port number"),
    # counts and timeouts: at least 1 (once a traceback, or accepted without a word)
    ("grade-jobs-negative", ["grade", "{d}/submitted/alice", "--jobs", "-1"], 2, r"--jobs: -1 is not at least 1"),
    ("grade-jobs-zero", ["grade", "{d}/submitted/alice", "-j", "0"], 2, r"--jobs: 0 is not at least 1"),
    ("grade-cell-timeout-negative", ["grade", "{d}/submitted/alice", "--cell-timeout", "-5"], 2,
     r"--cell-timeout: -5 is not at least 1"),
    ("grade-timeout-zero", ["grade", "{d}/submitted/alice", "--timeout", "0"], 2, r"--timeout: 0 is not at least 1"),
    ("grade-timeout-word", ["grade", "{d}/submitted/alice", "--timeout", "ten"], 2, r"--timeout: 'ten' is not a whole number"),
    ("check-timeout-zero", ["check", "{d}/submitted/alice/" + LESSON.name, "--timeout", "0"], 2,
     r"--timeout: 0 is not at least 1"),
    ("check-cell-timeout-negative", ["check", "{d}/submitted/alice/" + LESSON.name, "--cell-timeout", "-1"], 2,
     r"--cell-timeout: -1 is not at least 1"),
    # results folders: a file where a folder goes is refused before any grading or release (it once lost the work)
    ("grade-output-is-a-file", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                "-o", "{d}/a-file"], 1, r"a-file is a file, not a folder for the results\. Fix: give -o a folder"),
    ("release-output-is-a-file", ["release", "{d}/notebooks/" + LESSON.name, "-o", "{d}/a-file"], 1,
     r"a-file is a file, not a folder for the results"),
    ("grade-into-another-lessons-gradebook", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                              "-o", "{d}/graded-03"], 1,
     r"graded-03/gradebook\.csv is the gradebook of another lesson .* Fix: grade into another folder \(-o\)"),
    # what grade is given
    ("grade-no-such-folder", ["grade", "{d}/submitted/carol"], 1, r"No such submission file or folder: .*carol\. Fix:"),
    ("grade-folder-without-lesson", ["grade", "{d}/submitted/nobody"], 1, r"No notebook in these folders says which lesson it is\. Fix: pass --source"),
    ("grade-source-missing", ["grade", "{d}/submitted/alice", "--source", "{d}/nope.ipynb"], 1, r"No such source notebook: .*nope\.ipynb"),
    ("grade-source-not-a-notebook", ["grade", "{d}/submitted/alice", "--source", "{d}/notes.txt"], 1,
     r"notes\.txt: not a readable notebook"),
    ("grade-roster-without-export", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                     "--roster", "{d}/roster.csv"], 1, r"--roster is for an LMS export\. Fix: add --export"),
    ("grade-assignment-without-export", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                         "--assignment", "Lab 0"], 1, r"--assignment is for an LMS export"),
    ("grade-roster-missing-student", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                      "--export", "moodle", "--roster", "{d}/roster.csv"], 1,
     r"has no row for: alice\. Fix: add a row per student folder"),
    ("grade-roster-missing-file", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                   "--export", "canvas", "--roster", "{d}/no-roster.csv"], 1, r"No roster at .*no-roster\.csv"),
    ("grade-export-unknown", ["grade", "{d}/submitted/alice", "--export", "blackboard"], 2,
     r"--export: invalid choice: 'blackboard'"),
    ("check-no-such-notebook", ["check", "{d}/nope.ipynb"], 1, r"No such notebook: .*nope\.ipynb"),
    # release
    ("release-no-such-source", ["release", "{d}/nope.ipynb", "-o", "{d}/released"], 1, r"nope\.ipynb: no such notebook"),
    ("release-one-of-two-missing", ["release", "{d}/notebooks/" + LESSON.name, "{d}/nope.ipynb", "-o", "{d}/released"], 1,
     r"nope\.ipynb: no such notebook"),
    # scenario files: each problem named with its place (YAML errors once came without line and column)
    ("scenario-same-vm-twice", ["scenarios", "--check", "{d}/scenarios/dup.yaml"], 1,
     r"dup\.yaml: not valid YAML at line 7, column 3 \('a' is given twice \(first at line 6\)\)\. Fix: give each its own name"),
    ("scenario-a-billion-vms", ["scenarios", "--check", "{d}/scenarios/billion.yaml"], 1,
     r"billion\.yaml: vms: 1,000,000,000 VMs; the lab builds at most 8,000"),
    ("scenario-ten-thousand-hosts", ["scenarios", "--check", "{d}/scenarios/hosts.yaml"], 1,
     r"hosts\.yaml: hosts: 5,000 hosts; the lab builds at most 200"),
    ("scenario-broken-yaml", ["scenarios", "--check", "{d}/scenarios/broken.yaml"], 1,
     r"broken\.yaml: not valid YAML at line 3, column 3 \(.*\)\. Fix: correct that line"),
    ("scenario-a-list", ["scenarios", "--check", "{d}/scenarios/list.yaml"], 1, r"list\.yaml: a scenario file is a mapping"),
    ("scenario-empty", ["scenarios", "--check", "{d}/scenarios/empty.yaml"], 1, r"empty\.yaml: a scenario file is a mapping"),
    ("scenario-unknown-name", ["scenarios", "--check", "healthy-clustr"], 1, r"There is no scenario 'healthy-clustr'"),
    ("sim-start-unknown-scenario", ["sim", "start", "--scenario", "healthy-clustr"], 1, r"There is no scenario 'healthy-clustr'"),
    # the simulator: a Go panic's stack never reaches the user, the cause and the log do
    ("sim-start-malformed-listen-port", ["sim", "start", "--", "-l", "127.0.0.1:notaport"], 1,
     r"exited during start-up \(code 2\): httptest: failed to listen on 127\.0\.0\.1:notaport: .*unknown port; "
     r"the whole log is .*/sim\.log\. Fix: correct the simulator flag"),
    ("sim-status-state-folder-is-a-file", ["sim", "status"], 1,
     r"The simulator's state folder .*/a-file is a file\. Fix: point LABKIT_STATE_DIR at a folder", {"LABKIT_STATE_DIR": "{d}/a-file"}),
    ("sim-start-state-folder-is-a-file", ["sim", "start"], 1, r"state folder .*/a-file is a file",
     {"LABKIT_STATE_DIR": "{d}/a-file"}),
    ("sim-stop-state-folder-is-a-file", ["sim", "stop"], 1, r"state folder .*/a-file is a file",
     {"LABKIT_STATE_DIR": "{d}/a-file"}),
    ("sim-env-nothing-running", ["sim", "env"], 1, r"no lab simulator is running \(start one with: labkit sim start\)"),
    # the other commands
    ("workspace-no-lessons", ["workspace", "--notebooks", "{d}/nowhere", "--workspace", "{d}/ws"], 1,
     r"No lessons at .*/nowhere\. Fix: check the path given to --notebooks"),
    ("inventory-unknown-table", ["inventory", "https://127.0.0.1:9/sdk"], 2, r"argument table: invalid choice"),
    ("qemu-memory-negative", ["qemu", "migrate", "--memory", "-5"], 1, r"memory_mib must be at least 128, not -5"),
    ("qemu-bandwidth-negative", ["qemu", "migrate", "--bandwidth", "-1"], 1, r"max_bandwidth_mibps must be greater than 0"),
    ("qemu-timeout-zero", ["qemu", "migrate", "--timeout", "0"], 1, r"timeout_s must be greater than 0, not 0"),
    # the command line itself: argparse's two lines (usage, error) are one
    ("unknown-command", ["migrate-now"], 2, r"^labkit: argument command: invalid choice: 'migrate-now' .*\. Fix: labkit --help$"),
    ("no-command", [], 2, r"^labkit: the following arguments are required: command\. Fix: labkit --help$"),
    ("unknown-option", ["grade", "{d}/submitted/alice", "--fast"], 2, r"unrecognized arguments: --fast\. Fix: labkit --help"),
]


@pytest.mark.parametrize("argv, code, line, env", [(*r[1:4], r[4] if len(r) > 4 else {}) for r in CLI_ROWS],
                         ids=[r[0] for r in CLI_ROWS])
def test_a_bad_command_line_is_refused_in_one_line_and_changes_nothing(course, argv, code, line, env, monkeypatch,
                                                                       tmp_path):
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(d=course))
    monkeypatch.chdir(course)
    before, children = _hashes(course), _children()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            got = cli.main([a.format(d=course) for a in argv])
        except SystemExit as e:  # argparse's own exit
            got = e.code
    text = out.getvalue() + err.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert got == code, text
    assert "Traceback" not in text and len(lines) == 1, text
    assert re.search(line, lines[0]), lines[0]
    assert _hashes(course) == before and _children() <= children
    assert not (course / "released").exists() and not (course / "ws").exists()


@pytest.mark.parametrize("kwargs, words", [
    ({"scenario": "partial-storage"}, "scenario= chooses a lab world, and a URL"),
    ({"scenario": "healthy-clustr"}, "scenario= chooses a lab world"),
    ({"reset": True}, "reset=True chooses a lab world"),
    ({"sim_flags": ["-migration-seconds", "0"]}, "sim_flags= chooses a lab world"),
], ids=["scenario", "unknown-scenario", "reset", "sim-flags"])
def test_connect_refuses_lab_world_arguments_with_a_url(kwargs, words):
    """connect(url, scenario=...) once ignored the scenario silently, even one that does not exist."""
    import labkit
    from labkit.errors import LabkitError

    with pytest.raises(LabkitError) as e:
        labkit.connect("https://vcenter.example.com/sdk", user="u", password="p", **kwargs)
    assert str(e.value).startswith(words) and "\n" not in str(e.value)


def _grade(student: str, points: int) -> grading.Grade:
    ids = ["00.cluster-hosts", "00.vms-on-esx-01", "00.guard"]
    return grading.Grade(student, f"{student}.ipynb", {ex: points if ex == ids[0] else 0 for ex in ids},
                         {"00.cluster-hosts": 1, "00.vms-on-esx-01": 2, "00.guard": 1}, {}, [])


def test_grading_one_late_student_keeps_the_others_rows(tmp_path):
    """Re-grading one student into a results folder once replaced gradebook.csv, and the other students' rows
    were gone while their feedback stayed: the gradebook is now merged, and says which rows it kept."""
    first = gradebook.write([_grade("alice", 1), _grade("bob", 0)], tmp_path)
    assert first["kept"] == []
    late = gradebook.write([_grade("bob", 1), _grade("carol", 1)], tmp_path)
    assert late["kept"] == ["alice"]
    rows = (tmp_path / "gradebook.csv").read_text().splitlines()
    assert rows[0] == "student,00.cluster-hosts,00.vms-on-esx-01,00.guard,total,max,notes"
    assert [r.split(",")[:5] for r in rows[1:]] == [["alice", "1", "0", "0", "1"], ["bob", "1", "0", "0", "1"],
                                                    ["carol", "1", "0", "0", "1"]]
    assert not list(tmp_path.glob(".gradebook.csv.tmp"))  # written whole, then moved into place


def test_an_unexpected_error_is_one_line_naming_its_log(monkeypatch, tmp_path, capsys):
    """What labkit did not foresee still reaches the user as one line, and the traceback goes to a log file."""
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path))

    def boom(a):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "_scenarios", boom)
    assert cli.main(["scenarios"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("labkit: unexpected error, ZeroDivisionError: division by zero; the details are in "
                          f"{tmp_path / 'labkit-errors.log'}")
    log = (tmp_path / "labkit-errors.log").read_text()
    assert "labkit scenarios" in log and "Traceback (most recent call last)" in log and "boom" in log


def test_the_table_covers_the_commands():
    covered = {r[1][0] if r[1] else "" for r in CLI_ROWS}
    assert {"lab", "doctor", "grade", "check", "release", "scenarios", "sim"} <= covered
    assert len({r[0] for r in CLI_ROWS}) == len(CLI_ROWS)  # each row named once


def test_a_busy_lab_port_is_refused_before_anything_starts(course, monkeypatch, tmp_path, capsys):
    """`labkit lab --port P` with P taken once printed a URL with P and the token while JupyterLab moved to P+1:
    the printed link sent the token to the other program. Now the port is checked first, and nothing starts."""
    import socket

    from helpers import free_port

    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    port = free_port()
    with socket.create_server(("0.0.0.0", port)):
        children = _children()
        code = cli.main(["lab", "--port", str(port), "--no-browser", "--notebooks", str(course / "notebooks"),
                         "--workspace", str(tmp_path / "ws")])
        assert _children() <= children
    out, err = capsys.readouterr()
    lines = [ln for ln in (out + err).splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1, out + err
    assert lines[0] == f"labkit: Port {port} is in use by another program. Fix: " + lines[0].split("Fix: ")[1]
    assert "token" not in out + err and not (tmp_path / "ws").exists()


def test_wrong_addresses_name_the_world_that_runs_and_a_typo_leaves_it_alone():
    """With this kernel's lab world running: a wrong port once said "the lab simulator is not running", http://
    once said "not with the vSphere API", and a scenario name with a typo must not touch the running world."""
    import labkit
    from labkit.errors import LabkitError

    session = labkit.connect(scenario="healthy-cluster")
    url = session.world.url
    with pytest.raises(LabkitError) as e:
        labkit.connect("https://127.0.0.1:9/sdk", user="u", password="p")
    assert str(e.value) == (f"Nothing answers at https://127.0.0.1:9/sdk; the lab simulator runs at {url}. "
                            f"Fix: connect to {url}, or call labkit.connect() with no address")
    plain = url.replace("https://", "http://")
    with pytest.raises(LabkitError) as e:
        labkit.connect(plain, user="u", password="p")
    assert str(e.value) == f"{plain} does not serve the vSphere API over http. Fix: use https: {url}"
    with pytest.raises(LabkitError, match="There is no scenario 'healthy-clustr'"):
        labkit.connect(scenario="healthy-clustr")
    again = labkit.connect()
    assert session.world.running() and again.world.url == url
    again.close()
    session.close()


def test_a_busy_simulator_port_is_named_with_the_log(tmp_path, monkeypatch, capsys):
    import socket

    from helpers import free_port

    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        assert cli.main(["sim", "start", "--", "-l", f"127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "goroutine" not in err and "Traceback" not in err
    assert f"failed to listen on 127.0.0.1:{port}: " in err and "address already in use" in err
    assert err.rstrip().endswith(f"the whole log is {tmp_path / 'state' / 'sim.log'}. Fix: give -l a free port, or leave -l out")


def test_a_wrong_scenario_name_is_refused_while_a_simulator_runs(tmp_path, monkeypatch, capsys):
    """`labkit sim start --scenario <typo>` with a simulator running once answered "already running" and exit 0."""
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    assert cli.main(["sim", "start", "--scenario", "healthy-cluster"]) == 0
    try:
        pid = cli.sim.status().sim.pid
        capsys.readouterr()
        assert cli.main(["sim", "start", "--scenario", "healthy-clustr"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("labkit: There is no scenario 'healthy-clustr'.") and err.count("\n") == 1
        assert cli.sim.status().sim.pid == pid  # the running one untouched
    finally:
        cli.main(["sim", "stop"])


@pytest.mark.parametrize("damage", ["corrupt", "deleted"])
def test_a_damaged_state_file_is_rebuilt_from_the_running_simulator(damage, tmp_path, monkeypatch, capsys):
    """A state file corrupted (or deleted) while its simulator runs once made `status` say stopped, `stop` stop
    nothing and `start` start a second simulator, orphaning the first: the state is now rebuilt from the
    process itself (its log's announcement, checked against the process holding that log)."""
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path / "state"))
    assert cli.main(["sim", "start", "--scenario", "healthy-cluster"]) == 0
    first = cli.sim.status().sim
    state = tmp_path / "state" / "sim.json"
    try:
        if damage == "corrupt":
            state.write_text('{"pid": garb')
        else:
            state.unlink()
        capsys.readouterr()
        assert cli.main(["sim", "status"]) == 0
        assert capsys.readouterr().out.startswith(f"running: pid {first.pid}, {first.url}")
        state.write_text("\0\0\0") if damage == "corrupt" else state.unlink()
        assert cli.main(["sim", "start"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"already running: pid {first.pid}, {first.url} (user {first.username}, "
                              "scenario healthy-cluster)"), out
    finally:
        state.write_text("not json")
        assert cli.main(["sim", "stop"]) == 0
    assert capsys.readouterr().out.strip() == f"stopped: pid {first.pid}"
    assert cli.sim.status().state == "stopped"
    from labkit.sim import process

    for _ in range(100):  # ended (gone, or a zombie its reaper has yet to collect)
        if process._proc_start_time(first.pid) is None:
            break
        time.sleep(0.05)
    assert process._proc_start_time(first.pid) is None
