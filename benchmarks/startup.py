"""Benchmark: `labkit lab` from the command to a JupyterLab page that answers, then a lesson's first lab world.

The goal is 10 s or less on 2 cores for the page. Each run starts `labkit lab --no-browser` on a free port, with
a private state folder and a fresh workspace (so the lessons are released, as on a learner's first start), times
the moment JupyterLab serves its /lab page, then starts a kernel in it and times `labkit.connect()` there, as a
lesson's first code cell does (a kernel start and the lesson's own simulator). It then stops the lab with Ctrl-C
and checks that the kernel's world is gone. Prints each run, the medians and worst, and the ratio to the goal.
Run: .venv/bin/python benchmarks/startup.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labkit import labprobe, sim
from labkit.sim import process

GOAL_S = 10.0
ROOT = Path(__file__).resolve().parent.parent
FIRST_CELL = ("import time\nt = time.monotonic()\nimport labkit\ns = labkit.connect()\n"
              "print('world', s.world.pid, 'after', time.monotonic() - t)\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(workdir: Path) -> tuple[float, float]:
    """(seconds from the command to the page, seconds from asking for a kernel to its first world answering)."""
    env = {**os.environ, "LABKIT_STATE_DIR": str(workdir / "state"), "JUPYTER_RUNTIME_DIR": str(workdir / "rt"),
           "LABKIT_WORKSPACE": str(workdir / "workspace")}
    log_path = workdir / "lab.log"
    with open(log_path, "w") as log:
        t0 = time.monotonic()
        lab = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", "--port", str(_free_port()),
                                "--notebooks", str(ROOT / "notebooks")], stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                text = log_path.read_text()
                m = re.search(r"JupyterLab: (http://\S+)", text)
                if m:
                    break
                if lab.poll() is not None:
                    raise SystemExit(f"labkit lab exited early:\n{text}")
                time.sleep(0.02)
            url = m.group(1)
            base, token = url.split("/lab/")[0], url.split("token=")[1]
            labprobe.wait_for_page(base, token, timeout=120, alive=lambda: lab.poll() is None)
            page_s = time.monotonic() - t0
            t1 = time.monotonic()
            out, error = labprobe.run_code(base, token, FIRST_CELL, shutdown=False)
            world_s = time.monotonic() - t1
            if error or not out.startswith("world "):
                raise SystemExit(f"the first cell failed: {error or out}")
            world_pid = int(out.split()[1])
        finally:
            lab.send_signal(signal.SIGINT)
            lab.wait(60)
    deadline = time.monotonic() + 10
    while process._proc_start_time(world_pid) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process._proc_start_time(world_pid) is None, "the lesson's world outlived labkit lab"
    return page_s, world_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    sim.build()
    pages, worlds = [], []
    for i in range(a.repeat):
        with tempfile.TemporaryDirectory(prefix="labkit-startup-") as d:
            page_s, world_s = one_run(Path(d))
        pages.append(page_s)
        worlds.append(world_s)
        print(f"run {i + 1}: JupyterLab page after {page_s:5.2f} s; then a kernel's first world after {world_s:5.2f} s")
    median = statistics.median(pages)
    print(f"command to JupyterLab page: median {median:.2f} s, worst {max(pages):.2f} s "
          f"(first world: median {statistics.median(worlds):.2f} s, worst {max(worlds):.2f} s)")
    print(f"goal {GOAL_S:.0f} s: median is {median / GOAL_S:.2f} of it, worst {max(pages) / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
