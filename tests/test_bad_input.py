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
    one = "title: t\nteaches: t\nclusters:\n  C: {hosts: [esx-01]}\n"
    (d / "scenarios" / "no-datastore.yaml").write_text(one + "vms:\n  a: {host: esx-01}\n")
    one += "datastores:\n  ds1: {hosts: all}\n"
    (d / "scenarios" / "vm-memory.yaml").write_text(one + "vms:\n  a: {host: esx-01, datastore: ds1, memoryMB: 99999999999}\n")
    (d / "scenarios" / "vm-memory-negative.yaml").write_text(one + "vms:\n  a: {host: esx-01, datastore: ds1, memoryMB: -4}\n")
    (d / "scenarios" / "vm-unknown-host.yaml").write_text(one + "vms:\n  a: {host: esx-09, datastore: ds1}\n")
    (d / "scenarios" / "vm-unknown-field.yaml").write_text(one + "vms:\n  a: {host: esx-01, datastore: ds1, colour: red}\n")
    (d / "scenarios" / "host-version.yaml").write_text(one + "hosts:\n  esx-01: {version: '9.9.9'}\n")
    (d / "scenarios" / "host-memory.yaml").write_text(one + "hosts:\n  esx-01: {memoryGB: 99999999999999}\n")
    (d / "scenarios" / "binary.yaml").write_bytes(b"\x00\x01not text")
    (d / "scenarios" / "latin1.yaml").write_bytes("title: caf\xe9\n".encode("latin-1"))
    with open(d / "scenarios" / "huge.yaml", "w") as fh:  # 3 MiB: refused before it is parsed
        fh.write("title: t\nteaches: t\nvms:\n")
        fh.writelines(f"  vm-{n:06d}: {{host: esx-01, memoryMB: 4096, cpus: 2, power: on}}\n" for n in range(50_000))
    (d / "submitted" / "bob").mkdir()
    from labkit import authoring   # a student copy released, then edited: a second release must not replace it

    edited = authoring.release(d / "notebooks" / LESSON.name, d / "edited", execute=False)
    edited.write_text(edited.read_text().replace("YOUR ANSWER HERE", "my answer", 1))
    (d / "foreign").mkdir()
    (d / "foreign" / LESSON.name).write_bytes(LESSON.read_bytes())
    (d / "broken.ipynb").write_text("{not json")
    (d / "bad-roster.csv").write_text("name,email\nalice,alice@example.edu\n")
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
     r"billion\.yaml: vms: 1,000,000,000 VMs; the lab builds at most 8,000\. Fix: ask for at most 8,000"),
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
    ("qemu-memory-negative", ["qemu", "migrate", "--memory", "-5"], 1, r"--memory must be at least 128, not -5\. Fix: labkit qemu migrate --help"),
    ("qemu-bandwidth-negative", ["qemu", "migrate", "--bandwidth", "-1"], 1, r"--bandwidth must be greater than 0"),
    ("qemu-timeout-zero", ["qemu", "migrate", "--timeout", "0"], 1, r"--timeout must be greater than 0, not 0"),
    # more of lab and workspace: checked before the workspace is written or JupyterLab starts
    ("lab-unknown-scenario", ["lab", "--scenario", "healthy-clustr", "--notebooks", "{d}/notebooks", "--workspace",
                              "{d}/ws", "--port", "18999", "--no-browser"], 1, r"There is no scenario 'healthy-clustr'"),
    ("lab-ip-not-an-address", ["lab", "--ip", "999.1.1.1", "--notebooks", "{d}/notebooks", "--workspace", "{d}/ws",
                               "--port", "18999", "--no-browser"], 1,
     r"--ip 999\.1\.1\.1: JupyterLab cannot listen on 999\.1\.1\.1: .*\. Fix: --ip 127\.0\.0\.1"),
    ("lab-workspace-is-the-sources", ["lab", "--notebooks", "{d}/notebooks", "--workspace", "{d}/notebooks",
                                      "--port", "18999", "--no-browser"], 1,
     r"The workspace .*/notebooks is the folder of the lesson sources; the student copies would overwrite them"),
    ("lab-workspace-is-a-file", ["lab", "--notebooks", "{d}/notebooks", "--workspace", "{d}/a-file", "--port", "18999",
                                 "--no-browser"], 1, r"Cannot create the workspace .*/a-file: Not a directory"),
    ("lab-notebooks-is-a-file", ["lab", "--notebooks", "{d}/a-file", "--no-browser"], 1, r"No lessons at .*/a-file"),
    ("lab-port-from-environment", ["lab", "--no-browser"], 2,
     r"--port: 0 is not a port number \(1 to 65535\) \(it comes from LABKIT_LAB_PORT\)", {"LABKIT_LAB_PORT": "0"}),
    ("doctor-port-from-environment", ["doctor"], 2, r"--port: 'abc' is not a port number .*from LABKIT_LAB_PORT",
     {"LABKIT_LAB_PORT": "abc"}),
    ("workspace-is-the-sources", ["workspace", "--notebooks", "{d}/notebooks", "--workspace", "{d}/notebooks"], 1,
     r"is the folder of the lesson sources"),
    ("workspace-is-a-file", ["workspace", "--notebooks", "{d}/notebooks", "--workspace", "{d}/a-file"], 1,
     r"Cannot create the workspace .*/a-file"),
    # release and check: a source is never overwritten by its own student copy (it once lost the solutions)
    ("release-over-its-own-source", ["release", "{d}/notebooks/" + LESSON.name, "-o", "{d}/notebooks", "--no-execute"],
     1, r"would be overwritten by its own student copy in .*/notebooks\. Fix: give -o a folder other than"),
    ("release-over-its-own-source-by-another-path", ["release", "{d}/notebooks/" + LESSON.name, "-o",
                                                     "{d}/notebooks/../notebooks", "--no-execute"], 1,
     r"would be overwritten by its own student copy"),
    ("release-over-an-edited-copy", ["release", "{d}/notebooks/" + LESSON.name, "-o", "{d}/edited", "--no-execute"],
     1, r"edited/00-getting-started\.ipynb was edited since it was released; releasing again would replace those "
        r"edits\. Fix: move it away, or release into another folder"),
    ("release-over-a-notebook-it-did-not-write", ["release", "{d}/notebooks/" + LESSON.name, "-o", "{d}/foreign",
                                                  "--no-execute"], 1,
     r"foreign/00-getting-started\.ipynb is already there, and it is not a student copy that labkit released"),
    ("release-not-a-notebook", ["release", "{d}/notes.txt", "-o", "{d}/released"], 1, r"notes\.txt: not a readable notebook"),
    ("release-a-folder", ["release", "{d}/notebooks", "-o", "{d}/released"], 1, r"notebooks: no such notebook"),
    ("check-not-a-notebook", ["check", "{d}/broken.ipynb"], 1, r"broken\.ipynb: not a readable notebook \(NotJSONError\)"),
    ("check-a-lesson-source", ["check", "{d}/notebooks/" + LESSON.name], 1,
     r"00-getting-started\.ipynb is the course's source of the lesson, with its solutions, not your copy\. "
     r"Fix: labkit check ~/vmotion-labs/00-getting-started\.ipynb"),
    ("check-a-folder", ["check", "{d}/submitted/alice"], 1,
     r"alice is a folder; labkit check checks one notebook\. Fix: labkit check .*alice/00-getting-started\.ipynb"),
    ("check-timeout-word", ["check", "{d}/submitted/alice/" + LESSON.name, "--timeout", "soon"], 2,
     r"--timeout: 'soon' is not a whole number"),
    # grade: more of what it is given
    ("grade-a-broken-notebook", ["grade", "{d}/broken.ipynb"], 1, r"broken\.ipynb: not a readable notebook"),
    ("grade-source-is-a-folder", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks"], 1,
     r"No such source notebook: .*notebooks\. Fix: check the path given to --source"),
    ("grade-source-is-broken", ["grade", "{d}/submitted/alice", "--source", "{d}/broken.ipynb"], 1,
     r"broken\.ipynb: not a readable notebook"),
    ("grade-output-is-a-submission", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                      "-o", "{d}/submitted/alice/" + LESSON.name], 1, r"is a file, not a folder for the results"),
    ("grade-empty-assignment", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                "--export", "canvas", "--assignment", " "], 1, r"--assignment is empty\. Fix:"),
    ("grade-assignment-canvas-would-ignore", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                              "--export", "canvas", "--assignment", "Final Score"], 1,
     r"Canvas ignores a column whose header contains 'Final Score'.* Fix: give the assignment another name"),
    ("grade-roster-without-student-column", ["grade", "{d}/submitted/alice", "--source", "{d}/notebooks/" + LESSON.name,
                                             "--export", "canvas", "--roster", "{d}/bad-roster.csv"], 1,
     r"The roster .*bad-roster\.csv has no 'student' column"),
    ("grade-jobs-word", ["grade", "{d}/submitted/alice", "-j", "many"], 2, r"--jobs: 'many' is not a whole number"),
    # the simulator: names, files, programs and folders checked before anything starts
    ("sim-start-empty-scenario", ["sim", "start", "--scenario", ""], 1, r"--scenario is empty\. Fix: name a scenario"),
    ("sim-start-time-scale-zero", ["sim", "start", "--time-scale", "0"], 1,
     r"--time-scale 0 is out of range\. Fix: give simulated seconds per real second, from 0\.001 to 1000000"),
    ("sim-start-time-scale-word", ["sim", "start", "--time-scale", "fast"], 2, r"--time-scale: invalid float value: 'fast'"),
    ("lab-empty-scenario", ["lab", "--scenario", " ", "--no-browser"], 1, r"--scenario is empty"),
    ("sim-start-scenario-file-missing", ["sim", "start", "--scenario", "{d}/scenarios/nope.yaml"], 1,
     r"No such scenario file: .*nope\.yaml\. Fix: check the path, or use a scenario name"),
    ("sim-start-scenario-is-a-folder", ["sim", "start", "--scenario", "{d}/scenarios"], 1,
     r"scenarios is a folder, not a scenario file"),
    ("sim-start-scenario-same-vm-twice", ["sim", "start", "--scenario", "{d}/scenarios/dup.yaml"], 1,
     r"'a' is given twice \(first at line 6\)"),
    ("sim-start-a-billion-vms", ["sim", "start", "--scenario", "{d}/scenarios/billion.yaml"], 1,
     r"1,000,000,000 VMs; the lab builds at most 8,000"),
    ("sim-start-vcsim-missing", ["sim", "start", "--vcsim", "{d}/no-vcsim"], 1,
     r"The simulator program .*no-vcsim does not exist or is not executable\. Fix: give --vcsim the path"),
    ("sim-start-vcsim-not-executable", ["sim", "start", "--vcsim", "{d}/a-file"], 1,
     r"a-file does not exist or is not executable"),
    ("sim-start-vcsim-from-environment", ["sim", "start"], 1, r"a-file does not exist or is not executable\. "
     r"Fix: point LABKIT_VCSIM at a vcsim binary", {"LABKIT_VCSIM": "{d}/a-file"}),
    ("sim-start-state-folder-cannot-be-made", ["sim", "start"], 1, r"Cannot create the folder .*a-file/state: Not a "
     r"directory\. Fix: point LABKIT_STATE_DIR at a folder you can write", {"LABKIT_STATE_DIR": "{d}/a-file/state"}),
    ("sim-build-cache-is-a-file", ["sim", "build"], 1, r"labkit's cache folder .*a-file is a file\. Fix: point "
     r"LABKIT_CACHE_DIR at a folder", {"LABKIT_CACHE_DIR": "{d}/a-file"}),
    ("sim-url-nothing-running", ["sim", "url"], 1, r"no lab simulator is running \(start one with: labkit sim start\)"),
    ("sim-unknown-action", ["sim", "restart"], 2, r"argument action: invalid choice: 'restart'"),
    ("inventory-state-folder-is-a-file", ["inventory", "hosts"], 1, r"state folder .*/a-file is a file",
     {"LABKIT_STATE_DIR": "{d}/a-file"}),
    # scenario files: what a hand-written world gets wrong, with the field and the limit named
    ("scenario-file-missing", ["scenarios", "--check", "{d}/scenarios/nope.yaml"], 1, r"No such scenario file"),
    ("scenario-a-folder", ["scenarios", "--check", "{d}/scenarios"], 1, r"is a folder, not a scenario file"),
    ("scenario-not-text", ["scenarios", "--check", "{d}/scenarios/binary.yaml"], 1,
     r"binary\.yaml: not valid YAML \(unacceptable character"),
    ("scenario-vm-without-a-datastore", ["scenarios", "--check", "{d}/scenarios/no-datastore.yaml"], 1,
     r"vms\.a\.datastore: the scenario defines no datastore for the VM's files; add one under datastores:"),
    ("scenario-vm-memory-too-large", ["scenarios", "--check", "{d}/scenarios/vm-memory.yaml"], 1,
     r"vms\.a\.memoryMB: 99,999,999,999 is more than 2,147,483,647 MB, .*xsd:int"),
    ("scenario-vm-memory-negative", ["scenarios", "--check", "{d}/scenarios/vm-memory-negative.yaml"], 1,
     r"vms\.a\.memoryMB: expected a whole number of at least 4, got -4"),
    ("scenario-host-memory-too-large", ["scenarios", "--check", "{d}/scenarios/host-memory.yaml"], 1,
     r"hosts\.esx-01\.memoryGB: 99,999,999,999,999 is more than 8,589,934,591 GB"),
    ("scenario-vm-on-unknown-host", ["scenarios", "--check", "{d}/scenarios/vm-unknown-host.yaml"], 1,
     r"vms\.a\.host: 'esx-09' is not one of esx-01"),
    ("scenario-vm-unknown-field", ["scenarios", "--check", "{d}/scenarios/vm-unknown-field.yaml"], 1,
     r"vms\.a\.colour: unknown field; allowed: "),
    ("scenario-host-unknown-version", ["scenarios", "--check", "{d}/scenarios/host-version.yaml"], 1,
     r"hosts\.esx-01\.version: '9\.9\.9' is not one of 6\.5\.0"),
    ("scenario-not-utf8", ["scenarios", "--check", "{d}/scenarios/latin1.yaml"], 1,
     r"latin1\.yaml: not a text file \(byte 11 is not UTF-8\)\. Fix: save the scenario as UTF-8 text"),
    ("scenario-file-too-large", ["scenarios", "--check", "{d}/scenarios/huge.yaml"], 1,
     r"huge\.yaml: 3\.\d MiB; a scenario file is at most 2 MiB\. Fix: describe a large world with generate:"),
    # one student, one row: two submissions of one name would put one's feedback over the other's
    ("grade-one-student-twice", ["grade", "{d}/submitted/alice", "{d}/submitted/alice/" + LESSON.name, "--source",
                                 "{d}/notebooks/" + LESSON.name], 1,
     r"Two submissions would be graded as the same student 'alice': .*alice and .*alice/00-getting-started\.ipynb"),
    ("grade-same-folder-twice", ["grade", "{d}/submitted/alice", "{d}/submitted/bob", "{d}/submitted/alice",
                                 "--source", "{d}/notebooks/" + LESSON.name], 1, r"the same student 'alice'"),
    # qemu: every number checked before a guest starts
    ("qemu-working-set-over-memory", ["qemu", "migrate", "--wss", "1000"], 1, r"--wss must be at most 192, not 1000"),
    ("qemu-hot-set-over-working-set", ["qemu", "migrate", "--hot", "100", "--wss", "50"], 1, r"--hot must be at most 50"),
    ("qemu-rate-negative", ["qemu", "migrate", "--rate", "-5"], 1, r"--rate must be at least 0, not -5"),
    ("qemu-downtime-negative", ["qemu", "migrate", "--downtime-limit", "-1"], 1, r"--downtime-limit must be at least 1"),
    ("qemu-bandwidth-not-a-number", ["qemu", "migrate", "--bandwidth", "nan"], 1,
     r"--bandwidth must be a finite number, not nan"),
    ("qemu-memory-huge", ["qemu", "migrate", "--memory", "100000000"], 1, r"--memory must be at most 2048"),
    ("qemu-memory-word", ["qemu", "migrate", "--memory", "lots"], 2, r"argument --memory: invalid int value: 'lots'"),
    ("qemu-pattern-unknown", ["qemu", "migrate", "--pattern", "zigzag"], 2, r"argument --pattern: invalid choice"),
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
    assert not (course / "released").exists() and not (course / "ws").exists() and not (course / "graded").exists()


U = "https://vcenter.example.com/sdk"
#: (id, connect's arguments, the one line's start as a regex). None of them reaches a network or starts a world.
CONNECT_ROWS = [
    # connect(url, scenario=...) once ignored the scenario silently, even one that does not exist
    ("scenario-with-a-url", dict(url=U, user="u", password="p", scenario="partial-storage"),
     r"scenario= chooses a lab world, and a URL \(https://vcenter\.example\.com/sdk\) connects to a vCenter as it is"),
    ("unknown-scenario-with-a-url", dict(url=U, user="u", password="p", scenario="healthy-clustr"),
     r"scenario= chooses a lab world"),
    ("reset-with-a-url", dict(url=U, user="u", password="p", reset=True), r"reset=True chooses a lab world"),
    ("sim-flags-with-a-url", dict(url=U, user="u", password="p", sim_flags=["-migration-seconds", "0"]),
     r"sim_flags= chooses a lab world"),
    # values of the wrong kind, refused before a world starts (timeout=-1 once started one, then failed obscurely)
    ("timeout-negative", dict(timeout=-1), r"timeout=-1 is not a number of seconds greater than 0\. Fix: "),
    ("timeout-zero", dict(timeout=0), r"timeout=0 is not a number of seconds"),
    ("timeout-text", dict(timeout="ten"), r"timeout='ten' is not a number of seconds"),
    ("timeout-not-a-number", dict(timeout=float("nan")), r"timeout=nan is not a number of seconds"),
    ("timeout-true", dict(timeout=True), r"timeout=True is not a number of seconds"),
    ("scenario-empty", dict(scenario=""), r"scenario='' is not a scenario name"),
    ("scenario-a-number", dict(scenario=5), r"scenario=5 is not a scenario name\. Fix: connect\(scenario='healthy-cluster'\)"),
    ("sim-flags-one-string", dict(sim_flags="-migration-seconds 0"),
     r"sim_flags='-migration-seconds 0' is not a list of simulator flags\. Fix: give one string per word"),
    ("sim-flags-a-number", dict(sim_flags=5), r"sim_flags=5 is not a list of simulator flags"),
    ("lab-area-a-number", dict(url=U, user="u", password="p", lab_area=5), r"lab_area=5 is not a list of folder"),
    ("url-a-number", dict(url=443), r"url= is a int, not an address"),
    # addresses and logins: one line each, without reaching any network
    ("url-empty", dict(url="", user="u", password="p"), r"The vCenter address is empty"),
    ("url-ftp", dict(url="ftp://vc/sdk", user="u", password="p"), r"'ftp://vc/sdk' uses 'ftp://'; vCenter speaks https://"),
    ("url-port-too-big", dict(url="https://vc:99999/sdk", user="u", password="p"), r"has an invalid port"),
    ("url-open-bracket", dict(url="https://[::1/sdk", user="u", password="p"), r"'https://\[::1/sdk' is not a valid address"),
    ("url-no-host", dict(url="https://", user="u", password="p"), r"'https://' names no host"),
    ("url-spaces", dict(url="vc example com", user="u", password="p"), r"contains spaces"),
    ("url-without-login", dict(url=U), r"No user name or password given for https://vcenter\.example\.com"),
    ("env-without-govc-url", dict(env=True), r"GOVC_URL is not set\. Fix: export GOVC_URL="),
    ("cafile-missing", dict(url=U, user="u", password="p", cafile="/nonexistent/ca.pem"),
     r"Cannot read the CA file /nonexistent/ca\.pem: .*\. Fix: pass cafile="),
]


@pytest.mark.parametrize("kwargs, line", [r[1:] for r in CONNECT_ROWS], ids=[r[0] for r in CONNECT_ROWS])
def test_connect_refuses_bad_arguments_in_one_line_before_acting(kwargs, line, monkeypatch):
    """Each call fails with one line, as the notebook shows it, and starts no world and no process."""
    import labkit
    from labkit.errors import LabkitError
    from labkit.sim import worlds

    monkeypatch.delenv("GOVC_URL", raising=False)
    before, children = worlds.every(), _children()
    with pytest.raises(LabkitError) as e:
        labkit.connect(**kwargs)
    assert "\n" not in str(e.value) and re.search(line, str(e.value)), str(e.value)
    assert worlds.every() == before and _children() <= children


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
    # the summary and the pass rates are the whole class's, not only the late students' (they once were)
    assert [g.student for g in late["class"]] == ["alice", "bob", "carol"]
    assert gradebook.pass_rates(late["class"])["00.cluster-hosts"] == 1.0
    summary = (tmp_path / "summary.html").read_text()
    assert "(3 submissions)" in summary and "alice" in summary and "graded earlier" in summary


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
        # another scenario than the one running: once "already running", a note, and exit 0
        assert cli.main(["sim", "start", "--scenario", "partial-storage"]) == 1
        err = capsys.readouterr().err
        assert err == (f"labkit: The lab simulator already serves scenario healthy-cluster (pid {pid}), not "
                       "partial-storage; it was left running. Fix: labkit sim stop, then labkit sim start --scenario "
                       "partial-storage\n"), err
        assert cli.sim.status().sim.pid == pid
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


def test_a_crashed_world_is_named_not_replaced_by_another():
    """After this kernel's world died, connect() once silently started the default world: the learner's changes
    were gone and the lesson's checks judged a world it never set. Now it says so, naming the log; reset=True
    (or the lesson's own connect cell) starts the same scenario again, pristine."""
    import signal

    import labkit
    from labkit.errors import SimulatorError
    from labkit.sim import process, worlds

    session = labkit.connect(scenario="healthy-cluster")
    world = session.world
    os.kill(world.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process._proc_start_time(world.pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    before, children = worlds.every(), _children()
    with pytest.raises(SimulatorError) as e:
        labkit.connect()
    assert str(e.value) == (f"The lab world of scenario healthy-cluster has stopped unexpectedly; its log is "
                            f"{world.folder / 'sim.log'}. Fix: labkit.connect(scenario='healthy-cluster') starts it "
                            "again, pristine")
    assert (world.folder / "sim.log").is_file() and worlds.every() == before and _children() <= children
    again = labkit.connect(reset=True)
    assert again.world.scenario == "healthy-cluster" and again.world.generation == world.generation + 1
    again.close()
    session.close()


def test_workspace_names_a_notebook_it_cannot_read_and_keeps_it(tmp_path):
    """A learner's notebook that is no longer JSON (cut short, overwritten) was passed over with "up to date"."""
    ws = tmp_path / "ws"
    assert cli.main(["workspace", "--workspace", str(ws)]) == 0
    (ws / LESSON.name).write_text('{"cells": [')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["workspace", "--workspace", str(ws)]) == 0
    assert out.getvalue().splitlines()[1:] == [
        f"  unreadable {LESSON.name}: not a readable notebook, so labkit left it as it is; rename it, and labkit "
        "workspace puts a fresh copy in its place"]
    assert (ws / LESSON.name).read_text() == '{"cells": ['


def test_labkit_inventory_says_when_it_starts_the_simulator(private_state, binary, capsys):
    """`labkit inventory` with no simulator running once started one silently and left it running."""
    from labkit import sim

    assert cli.main(["inventory", "hosts"]) == 0
    out, err = capsys.readouterr()
    pid = sim.status().sim.pid
    assert err == f"labkit inventory: started the lab simulator (generated inventory, pid {pid}); labkit sim stop " \
                  "ends it\n"
    assert out.split()[:2] == ["name", "cluster"]
    assert cli.main(["inventory", "clusters"]) == 0   # the running one: nothing to say
    assert capsys.readouterr().err == "" and sim.status().sim.pid == pid


def _tagged(tmp_path: Path) -> list[str]:
    """The processes whose TMPDIR is tmp_path or in it: a command run with it, and all it started."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if any(v == f"TMPDIR={tmp_path}".encode() or v.startswith(f"TMPDIR={tmp_path}/".encode())
                   for v in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")):
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80])
    return found


def test_a_killed_check_stops_its_kernel_and_world(tmp_path):
    """`labkit check` runs the notebook in a session of its own (a kernel, a lab world): killed (SIGTERM, or its
    terminal closed), labkit once died alone and the run went on without it. Now everything it started ends."""
    import signal
    import subprocess
    import sys

    from labkit import authoring

    copy = authoring.release(ROOT / "notebooks" / LESSON.name, tmp_path / "mine", execute=False)
    proc = subprocess.Popen([sys.executable, "-m", "labkit.cli", "check", str(copy)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    deadline = time.monotonic() + 60
    while not any("ipykernel" in c for c in _tagged(tmp_path)) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    assert any("ipykernel" in c for c in _tagged(tmp_path)), "the check's kernel never started"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM and err == "labkit check: stopped by SIGTERM\n", (out, err)
    deadline = time.monotonic() + 5
    while _tagged(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _tagged(tmp_path) == [], "labkit check left these running"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no work folder, no kernel connection file (its key)
