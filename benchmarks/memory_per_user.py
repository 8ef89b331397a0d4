"""Benchmark: the memory one learner's server needs on a class deployment (JupyterHub or BinderHub).

Each user's server runs its own lab simulator (started by binder/start) and a Python kernel per open
lesson. This starts a simulator on a scenario, runs lesson 00's set-up and first reads in a kernel
(through nbclient, as JupyterLab would), and prints the resident memory (RSS, from /proc) of each
process and their sum. JupyterLab's own server process is measured too, from a `jupyter lab` started
here. Run: .venv/bin/python benchmarks/memory_per_user.py [--scenario healthy-cluster]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from labkit import labprobe, sim

ROOT = Path(__file__).resolve().parent.parent


def rss_mib(pid: int) -> float:
    """Resident set size of one process and all its descendants, in MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total / 1024


def kernel_rss(scenario: str) -> float:
    """Run lesson 00's opening cells in a kernel and measure it while it still runs."""
    lesson = nbformat.read(ROOT / "notebooks" / "00-getting-started.ipynb", as_version=4)
    code = [c for c in lesson.cells if c.cell_type == "code"][:4]
    nb = nbformat.v4.new_notebook(cells=code + [nbformat.v4.new_code_cell("import os; print(os.getpid())")])
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
        pid = int(nb.cells[-1].outputs[0]["text"])
        return rss_mib(pid)


def jupyterlab_rss() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "membench"
    with tempfile.TemporaryDirectory() as rt:
        server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
                                   f"--notebook-dir={ROOT / 'notebooks'}", "--allow-root"],
                                  env={**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": rt},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            labprobe.wait_for_page(f"http://127.0.0.1:{port}", token, timeout=120)
            time.sleep(1)
            return rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="healthy-cluster")
    a = ap.parse_args()
    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-mem-")
    sim.build()
    try:
        s = sim.start(scenario=a.scenario)
        time.sleep(0.5)
        sim_mib = rss_mib(s.pid)
        kernel_mib = kernel_rss(a.scenario)
        now = sim.status().sim          # the lesson's set-up resets the lab: a new simulator process
        sim_after = rss_mib(now.pid) if now else float("nan")
    finally:
        sim.stop()
    lab_mib = jupyterlab_rss()
    print(f"lab simulator ({a.scenario}): {sim_mib:6.0f} MiB at start, {sim_after:6.0f} MiB after a lesson's reads")
    print(f"python kernel with labkit, lesson 00 set-up: {kernel_mib:6.0f} MiB")
    print(f"JupyterLab server: {lab_mib:6.0f} MiB")
    total = max(sim_mib, sim_after) + kernel_mib + lab_mib
    print(f"one learner, one open lesson: {total:6.0f} MiB; each further open lesson adds a kernel "
          f"(about {kernel_mib:.0f} MiB)")


if __name__ == "__main__":
    main()
