"""`labkit doctor`: every need of `make lab` checked, each gap named with the command that fixes it."""
import os
import socket
import subprocess
import sys

from helpers import free_port


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
    assert fix_of("QEMU (lesson 03b)") == "fix: labkit qemu build"     # the guest lives in the cache too
    assert "[ok     ] Go toolchain" in r.stdout and "[ok     ] Python packages" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    assert "3 thing(s)" not in r.stdout and "4 thing(s) to fix" in r.stdout
