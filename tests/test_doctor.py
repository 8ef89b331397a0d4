"""`labkit doctor`: every need of `make lab` checked, each gap named with the command that fixes it."""
import os
import socket
import subprocess
import sys
import time

from helpers import free_port

from labkit import labserver


def _doctor(*args, **env):
    return subprocess.run([sys.executable, "-m", "labkit.cli", "doctor", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def test_a_set_up_machine_is_ready():
    r = _doctor("--port", str(free_port()))
    assert r.returncode == 0, r.stdout
    for name in ("Go toolchain", "govmomi simulator sources", "lab simulator build", "Python packages",
                 "for JupyterLab: free", "QEMU (lesson 03b)"):
        assert name in r.stdout
    assert "MISSING" not in r.stdout and r.stdout.rstrip().endswith("ready: make lab starts the course")


def test_each_gap_comes_with_its_fix(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = _doctor("--port", str(port), LABKIT_GOPATH=str(tmp_path / "no-gocode"),
                    LABKIT_CACHE_DIR=str(tmp_path / "empty-cache"))
    assert r.returncode == 1
    lines = r.stdout.splitlines()

    def fix_of(name):
        i = next(i for i, line in enumerate(lines) if name in line)
        assert lines[i].startswith("[MISSING]"), lines[i]
        return lines[i + 1].strip()

    assert fix_of("govmomi simulator sources") == "fix: sudo apt-get install golang-github-vmware-govmomi-dev"
    assert fix_of("lab simulator build") == "fix: labkit sim build"
    assert fix_of(f"port {port} for JupyterLab").startswith("fix: labkit lab --port ")
    assert f"port {port} for JupyterLab: in use by another program" in r.stdout
    assert fix_of("QEMU (lesson 03b)") == "fix: labkit qemu build"     # the guest lives in the cache too
    assert "[ok     ] Go toolchain" in r.stdout and "[ok     ] Python packages" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    assert "3 thing(s)" not in r.stdout and "4 thing(s) to fix" in r.stdout


def test_the_running_lab_is_recognised_and_another_jupyter_is_not(tmp_path, monkeypatch):
    """A real JupyterLab on the port: the lab when labkit lab's marker vouches for it, else a program in the way."""
    from labkit import doctor

    port, state = free_port(), tmp_path / "state"
    monkeypatch.setenv("LABKIT_STATE_DIR", str(state))
    with open(tmp_path / "jupyterlab.log", "w") as log:
        server = subprocess.Popen(labserver.command(tmp_path, port=port, no_browser=True),
                                  env=labserver.environment("doctor-test-token", {
                                      **os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}),
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while (version := labserver.jupyter_version(port)) is None:
            assert server.poll() is None, (tmp_path / "jupyterlab.log").read_text()
            assert time.monotonic() < deadline, "JupyterLab did not answer at /api"
            time.sleep(0.1)

        # a Jupyter server that labkit lab did not start is in the way, like any program
        c = doctor.jupyterlab_port(port)
        assert not c.ok and c.detail == f"in use by a Jupyter server (version {version}) that labkit lab did not start"
        assert c.fix.startswith("labkit lab --port ")

        # with the marker that labkit lab leaves (this test stands for labkit lab: JupyterLab is its child)
        labserver.record(port, server.pid)
        c = doctor.jupyterlab_port(port)
        assert c.line == (f"[ok     ] port {port} for JupyterLab: the lab is already running here (pid {os.getpid()}): "
                          f"open http://127.0.0.1:{port}/lab")
        assert doctor.summary([c], port) == f"ready: the lab is running, at http://127.0.0.1:{port}/lab"
    finally:
        server.terminate()
        server.wait(30)

    # the marker outlives its lab here: a stale marker does not count, and the port (in TIME_WAIT) is free again
    assert (state / f"lab-{port}.json").exists()
    c = doctor.jupyterlab_port(port)
    assert c.ok and c.detail == "free", c
    assert doctor.summary([c], port) == "ready: make lab starts the course"


def test_a_marker_counts_only_for_the_jupyter_child_of_the_recorded_process(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_STATE_DIR", str(tmp_path))
    port = free_port()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])   # our child, not a Jupyter
    try:
        labserver.record(port, sleeper.pid)
        assert labserver.running(port) is None
        labserver.record(port, os.getppid())          # a live process that is not our child: a reused pid
        assert labserver.running(port) is None
        assert labserver.running(free_port()) is None  # no marker for that port
    finally:
        sleeper.kill()
        sleeper.wait()
    labserver.forget(port)
    assert not (tmp_path / f"lab-{port}.json").exists()
