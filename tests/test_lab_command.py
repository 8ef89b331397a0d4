"""`labkit lab` (behind `make lab`): simulator plus JupyterLab, both gone after Ctrl-C."""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from helpers import free_port

from labkit import sim
from labkit.sim import process


def test_lab_starts_both_and_ctrl_c_stops_both(private_state, binary, tmp_path):
    port = free_port()
    log = open(tmp_path / "lab.log", "w")
    lab = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", "--port", str(port),
                            "--notebooks", os.path.join(os.path.dirname(__file__), "..", "notebooks")],
                           stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2):
                    break
            except urllib.error.HTTPError:  # it answers (403 without a token): it is up
                break
            except OSError:
                assert lab.poll() is None, (tmp_path / "lab.log").read_text()
                assert time.monotonic() < deadline, "JupyterLab did not come up"
                time.sleep(0.5)
        st = sim.status()
        assert st.running
        text = (tmp_path / "lab.log").read_text()
        assert "lab simulator: https://127.0.0.1:" in text and "scenario healthy-cluster" in text
        assert "/lab/tree/00-getting-started.ipynb" in text

        lab.send_signal(signal.SIGINT)
        assert lab.wait(60) == 130
        assert not process._alive(st.sim)
        assert sim.status().state == "stopped"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
            raise AssertionError("JupyterLab still answers")
        except urllib.error.HTTPError:
            raise AssertionError("JupyterLab still answers")
        except OSError:
            pass
    finally:
        if lab.poll() is None:
            lab.kill()
