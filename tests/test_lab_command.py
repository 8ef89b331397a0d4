"""`labkit lab` (behind `make lab`): simulator plus JupyterLab, both gone after Ctrl-C."""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from helpers import free_port

from labkit import labprobe, sim
from labkit.sim import process


def _processes_mentioning(path):
    """Processes whose command line names ``path`` (JupyterLab and its kernels, by their runtime folder)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(path) in cmdline:
                found.append((int(pid), cmdline[:120]))
    return found


def test_lab_starts_both_and_ctrl_c_stops_both(private_state, binary, tmp_path):
    port = free_port()
    log = open(tmp_path / "lab.log", "w")
    lab = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", "--port", str(port),
                            "--notebooks", os.path.join(os.path.dirname(__file__), "..", "notebooks")],
                           stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 90
        while "JupyterLab: http" not in (tmp_path / "lab.log").read_text():
            assert lab.poll() is None, (tmp_path / "lab.log").read_text()
            assert time.monotonic() < deadline, "labkit lab printed no URL"
            time.sleep(0.2)
        text = (tmp_path / "lab.log").read_text()
        url = re.search(r"JupyterLab: (http://\S+)", text).group(1)
        base, token = url.split("/lab/")[0], url.split("token=")[1]
        assert url == f"http://127.0.0.1:{port}/lab/tree/00-getting-started.ipynb?token={token}"
        labprobe.wait_for_page(base, token, timeout=90, alive=lambda: lab.poll() is None)
        st = sim.status()
        assert st.running
        text = (tmp_path / "lab.log").read_text()
        assert "lab simulator: https://127.0.0.1:" in text and "scenario healthy-cluster" in text

        # a cell run by a kernel of this JupyterLab reaches the simulator labkit lab started
        out, error = labprobe.run_code(base, token, (
            "import labkit\n"
            "with labkit.connect() as s:\n"
            "    print('lab', s.is_lab, 'hosts', len(labkit.inventory.hosts(s)))\n"), shutdown=False)
        assert error is None and out.strip() == "lab True hosts 3", (out, error)
        assert _processes_mentioning(tmp_path), "the kernel should still be running"   # Ctrl-C must end it

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
        assert _processes_mentioning(tmp_path) == [], "a kernel or server outlived labkit lab"
    finally:
        if lab.poll() is None:
            lab.kill()
