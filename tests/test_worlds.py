"""One lab world per kernel and scenario, and checks that judge an answer in the world it was made in."""
import os
import signal
import subprocess
import sys
import time

import pytest

import labkit
from labkit import cells, connection, evc, exercises, inventory
from labkit.exercises import ExerciseFailed
from labkit.sim import process, worlds


@pytest.fixture(autouse=True)
def _no_attempts():
    exercises._attempts.clear()


def _alive(pid):
    return process._proc_start_time(pid) is not None


def test_each_scenario_has_its_own_world_and_a_reset_starts_a_new_generation(binary):
    a = worlds.open("mixed-intel-evc")
    b = worlds.open("partial-storage")
    assert a.running() and b.running() and a.pid != b.pid and a.folder != b.folder
    assert worlds.get("mixed-intel-evc") == a and worlds.latest() == b
    again = worlds.open("mixed-intel-evc")
    assert again.generation == a.generation + 1 and again != a
    assert b.running()  # restarting one world leaves the others alone
    assert worlds.open("partial-storage", fresh=False) == b


def test_a_world_ends_with_its_kernel_and_its_folder_is_swept(binary, tmp_path):
    env = {**os.environ, "LABKIT_STATE_DIR": str(tmp_path)}
    code = ("import labkit, sys; s = labkit.connect(scenario='old-esxi'); "
            "print(s.world.pid, s.world.folder, flush=True); sys.stdin.read()")
    kernel = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=env)
    pid, folder = kernel.stdout.readline().split()
    assert _alive(int(pid))
    kernel.send_signal(signal.SIGKILL)  # a kernel killed, as JupyterLab's restart may do
    kernel.wait()
    deadline = time.monotonic() + 10
    while _alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(pid)), "the simulator outlived its kernel"
    subprocess.run([sys.executable, "-c", "import labkit; labkit.connect(scenario='old-esxi')"], env=env, check=True)
    assert not os.path.exists(folder)
    assert os.listdir(tmp_path / "kernels") == []  # the second kernel has ended too, and cleaned up after itself


def test_a_check_judges_its_own_world_whatever_the_lesson_opened_later(binary):
    s = labkit.connect(scenario="mixed-intel-evc")
    hosts = inventory.hosts(s)
    right = evc.highest(hosts.loc[hosts["cluster"] == "Cluster-NoEVC", "maxEVCModeKey"])
    labkit.connect(scenario="host-states")  # the lesson moves on: another world is now the current one
    assert exercises.check("02.highest-evc", right).passed
    wrong = exercises.check("02.highest-evc", "intel-merom")
    assert not wrong.passed and wrong.checked and "not yet (0/2)" in wrong.line


def test_a_closed_session_is_replaced_by_a_new_login_to_the_same_world(binary):
    s = labkit.connect(scenario="healthy-cluster")
    truth = int((inventory.hosts(s)["cluster"] == "Cluster-A").sum())
    for open_session in list(connection._open):
        open_session.close()  # lesson 00 ends with session.close()
    r = exercises.check("00.cluster-hosts", truth)
    assert r.passed, r.line
    assert not exercises.check("00.cluster-hosts", truth + 1).passed


def test_without_its_world_a_check_says_what_to_rerun_and_gives_no_verdict(binary, monkeypatch):
    worlds.close_all()
    r = exercises.check("02.destinations", ["esx-02"])
    assert not r.checked and r.points == 0
    assert r.line == ('[ ] 02.destinations hosts app-ab can move to: not checked (0/2). Its lab world (scenario '
                      'partial-storage) is not running in this notebook: run the cell with '
                      'labkit.connect(scenario="partial-storage") and the cells after it down to this one, then '
                      'check again.')
    monkeypatch.setenv("LABKIT_GRADING", "1")
    with pytest.raises(ExerciseFailed, match="not checked"):
        exercises.check("02.destinations", ["esx-02"])


def test_an_answer_made_in_an_earlier_start_of_its_world_is_not_judged(binary):
    from labkit import continuity

    s = labkit.connect(scenario="healthy-cluster", sim_flags=["-migration-seconds", "0.02"])
    run = continuity.migrate(s, "db-01", host="esx-01")
    assert run.world == s.world
    assert exercises.check("01.first-vmotion", run).passed
    labkit.connect(scenario="healthy-cluster")  # the learner re-runs the connect cell: db-01 is back home
    r = exercises.check("01.first-vmotion", run)
    # the process's earlier starts of the scenario (other tests on this worker) count too
    assert not r.checked and f"another lab world (scenario healthy-cluster, start {run.world.generation})" in r.line


def test_a_plain_answer_from_before_a_restart_is_caught_by_its_cell(binary):
    """In a notebook, `answer = 3` made before the world's connect cell ran again is not judged in the new world."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert cells.install(shell)
        shell.run_cell("import labkit\nsession = labkit.connect(scenario='healthy-cluster')")
        shell.run_cell("answer = 3")
        shell.run_cell("r1 = labkit.exercises.check('00.cluster-hosts', answer)")
        shell.run_cell("session = labkit.connect(scenario='healthy-cluster')")
        shell.run_cell("r2 = labkit.exercises.check('00.cluster-hosts', answer)")
        shell.run_cell("answer = 3")
        shell.run_cell("r3 = labkit.exercises.check('00.cluster-hosts', answer)")
        r1, r2, r3 = (shell.user_ns[k] for k in ("r1", "r2", "r3"))
        assert r1.passed and r3.passed
        assert not r2.checked and "worked out before its lab world (scenario healthy-cluster) was started again" in r2.line
    finally:
        InteractiveShell.clear_instance()


def test_a_world_that_stops_answering_gets_a_line_not_a_traceback(binary):
    s = labkit.connect(scenario="healthy-cluster")
    truth = int((inventory.hosts(s)["cluster"] == "Cluster-A").sum())
    os.kill(s.world.pid, signal.SIGKILL)
    r = exercises.check("00.cluster-hosts", truth)
    assert not r.checked and "scenario healthy-cluster" in r.line and "labkit.connect(scenario=" in r.line


@pytest.mark.parametrize("answer, words", [("3", "Give a number, not the text '3'"), (True, "not True or False")])
def test_text_is_not_a_number_in_every_place(binary, answer, words):
    labkit.connect(scenario="healthy-cluster")
    r = exercises.check("00.cluster-hosts", answer)
    assert r.checked and not r.passed and words in r.line


def test_a_learners_function_that_raises_gets_one_line(binary):
    labkit.connect(scenario="partial-storage")

    def rule(vms, datastores, hosts):
        return 1 / 0

    r = exercises.check("02.storage-rule", rule)
    assert not r.passed and "Checking it raised ZeroDivisionError: division by zero." in r.line
