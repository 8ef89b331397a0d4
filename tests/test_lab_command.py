"""`labkit lab` (behind `make lab`): JupyterLab on the learner's workspace; kernels and their worlds gone after Ctrl-C."""
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from helpers import free_port

from labkit import doctor, labprobe, labserver, sim
from labkit.sim import process

VENV_BIN = os.path.dirname(sys.executable)


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


def _terminal_says(base, token, command, timeout=20.0):
    """What ``command`` prints in a new terminal of JupyterLab (its websocket, as the Terminal tab uses it)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    _, body = labprobe._request(f"{base}/api/terminals", token, "POST")
    name = json.loads(body)["name"]

    async def talk():
        url = base.replace("http", "ws", 1) + f"/terminals/websocket/{name}"
        conn = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
        # quoted apart, the markers are whole only in what the command prints, not in the typed line's echo
        await conn.write_message(json.dumps(["stdin", f'echo "<<""<$({command})>""<<"\r']))
        seen = ""
        try:
            while (m := re.search(r"<<<([^\r\n]*)><<", seen)) is None:
                raw = await conn.read_message()
                assert raw is not None, seen
                kind, *data = json.loads(raw)
                seen += data[0] if kind == "stdout" else ""
            return m.group(1)
        finally:
            conn.close()

    try:
        return asyncio.run(asyncio.wait_for(talk(), timeout))
    finally:
        labprobe._request(f"{base}/api/terminals/{name}", token, "DELETE")


def test_lab_starts_both_and_ctrl_c_stops_both(private_state, binary, tmp_path):
    port = free_port()
    # a simulator the learner started in a terminal (labkit sim start) is theirs: labkit lab must not stop it
    # (private_state stops it at the end)
    theirs = sim.start(binary=binary)
    log = open(tmp_path / "lab.log", "w")
    # started as .venv/bin/labkit is from a shell whose PATH lacks the virtualenv; the learner's own JupyterLab
    # settings are empty (a learner who once answered the news question keeps the answer)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != VENV_BIN)
    lab = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", "--port", str(port)],
                           stdout=log, stderr=subprocess.STDOUT,
                           env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "PATH": path,
                                "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings"),
                                "LABKIT_WORKSPACE": str(tmp_path / "workspace")})
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
        text = (tmp_path / "lab.log").read_text()
        assert f"your workspace: {tmp_path / 'workspace'}" in text and "added 00-getting-started.ipynb" in text
        # JupyterLab serves the learner's copies: no solution on the page it opens
        _, body = labprobe._request(f"{base}/api/contents/00-getting-started.ipynb", token)
        assert "BEGIN SOLUTION" not in body.decode() and "YOUR ANSWER HERE" in body.decode()

        # a cell run by a kernel of this JupyterLab gets a lab world of its own, on the lab's default scenario
        out, error = labprobe.run_code(base, token, (
            "import labkit\n"
            "with labkit.connect() as s:\n"
            "    print('lab', s.is_lab, 'hosts', len(labkit.inventory.hosts(s)), s.world.pid)\n"), shutdown=False)
        assert error is None and out.strip().startswith("lab True hosts 3 "), (out, error)
        world_pid = int(out.split()[-1])
        assert process._proc_start_time(world_pid) is not None
        assert _processes_mentioning(tmp_path), "the kernel should still be running"   # Ctrl-C must end it

        # the news question is answered for the learner: never fetch
        _, body = labprobe._request(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification", token)
        notification = json.loads(body)
        assert notification["settings"] == {}            # nothing of the learner's own
        assert notification["schema"]["properties"]["fetchNews"]["default"] == "false"
        assert notification["schema"]["properties"]["checkForUpdates"]["default"] is False
        assert json.loads(labprobe._request(f"{base}/lab/api/news", token)[1]) == {"news": []}

        # the terminal finds the course's labkit, though labkit lab was started with a PATH without it
        assert _terminal_says(base, token, "command -v labkit") == os.path.join(VENV_BIN, "labkit")

        # labkit doctor knows its lab; a second labkit lab says where it is and leaves it alone
        assert doctor.jupyterlab_port(port).line == (
            f"[ok     ] port {port} for JupyterLab: the lab is already running here (pid {lab.pid}): "
            f"open http://127.0.0.1:{port}/lab/tree/00-getting-started.ipynb")
        again = subprocess.run([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", "--port", str(port)],
                               check=False, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and again.stdout.startswith("the lab is already running here"), again
        assert labprobe.wait_for_page(base, token, timeout=5) >= 0

        lab.send_signal(signal.SIGINT)
        assert lab.wait(60) == 0   # Ctrl-C is how the lab ends: make lab ends quietly, no "Error 130"
        assert "Kernel is running over TCP without encryption" not in (tmp_path / "lab.log").read_text()
        assert not list(private_state.glob("lab-*.json")), "labkit lab left its marker behind"
        deadline = time.monotonic() + 10  # the kernel ended, and with it its world
        while process._proc_start_time(world_pid) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process._proc_start_time(world_pid) is None, "a lab world outlived its kernel"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
            raise AssertionError("JupyterLab still answers")
        except urllib.error.HTTPError:
            raise AssertionError("JupyterLab still answers")
        except OSError:
            pass
        assert _processes_mentioning(tmp_path) == [], "a kernel or server outlived labkit lab"
        assert world_pid != theirs.pid and sim.status().running and sim.status().sim.pid == theirs.pid, \
            "labkit lab stopped a simulator it did not start"
    finally:
        if lab.poll() is None:
            lab.kill()


def test_jupyterlab_command_and_environment():
    cmd = labserver.command(Path("/some/notebooks"), "127.0.0.1", 8123, default_url="/lab/tree/00-x.ipynb",
                            no_browser=True)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    for option in ("--notebook-dir=/some/notebooks", "--ServerApp.port=8123", "--ServerApp.port_retries=0",
                   "--no-browser", "--LabApp.default_url=/lab/tree/00-x.ipynb"):
        assert option in cmd
    assert not any("token" in c.lower() for c in cmd)    # ps shows the command line

    env = labserver.environment("t0ken", {"PATH": f"/usr/bin:{VENV_BIN}:/bin", "JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_TOKEN"] == "t0ken"
    assert env["PATH"] == f"{VENV_BIN}:/usr/bin:/bin"
    settings, *rest = env["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert rest == ["/elsewhere"]
    overrides = json.loads((Path(settings) / "labconfig" / "default_setting_overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    server = json.loads((Path(settings) / "jupyter_server_config.json").read_text())
    assert server["KernelManager"]["transport_encryption"] == "auto" and server["LabApp"]["news_url"] is None


def test_no_kvm_is_said_calmly_once():
    """Without KVM the lab guest runs under TCG, as expected: one quiet line, no probe error."""
    from labkit.realmigration.guest import Guest

    probe = ("a probe boot under KVM failed: qemu-system-x86_64: warning: host doesn't support requested feature: "
             "CPUID.01H:ECX.pni [bit 0]")
    line = Guest(Path("k"), Path("i"), "linux-image-6.1.0-57-cloud-amd64", "qemu", (10, 0, 2), "tcg", probe).describe()
    assert line == ("QEMU 10.0.2 with TCG (software emulation; KVM is not usable here); "
                    "guest kernel from linux-image-cloud-amd64")
    kvm = Guest(Path("k"), Path("i"), "linux-image-6.1.0-57-cloud-amd64", "qemu", (10, 0, 2), "kvm",
                "a probe boot under KVM ran the guest")
    assert "(a probe boot under KVM ran the guest)" in kvm.describe()
