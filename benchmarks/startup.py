"""Benchmark: `labkit lab` from the command to a JupyterLab page that answers, simulator already built.

The goal is 10 s or less on 2 cores. Each run starts `labkit lab --no-browser` on a free port with a
private state folder, times the moment the simulator answers (from the printed "lab simulator" line)
and the moment JupyterLab serves its /lab page, then stops it with Ctrl-C and checks that the
simulator is gone. Prints each run, the median and worst, and the ratio to the goal.
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

GOAL_S = 10.0
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(workdir: Path) -> tuple[float, float]:
    env = {**os.environ, "LABKIT_STATE_DIR": str(workdir / "state"), "JUPYTER_RUNTIME_DIR": str(workdir / "rt")}
    log_path = workdir / "lab.log"
    with open(log_path, "w") as log:
        t0 = time.monotonic()
        lab = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", "--port", str(_free_port()),
                                "--notebooks", str(ROOT / "notebooks")], stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            sim_s = None
            while True:
                text = log_path.read_text()
                if sim_s is None and "lab simulator: " in text:
                    sim_s = time.monotonic() - t0
                m = re.search(r"JupyterLab: (http://\S+)", text)
                if m:
                    break
                if lab.poll() is not None:
                    raise SystemExit(f"labkit lab exited early:\n{text}")
                time.sleep(0.02)
            url = m.group(1)
            labprobe.wait_for_page(url.split("/lab/")[0], url.split("token=")[1], timeout=120,
                                   alive=lambda: lab.poll() is None)
            page_s = time.monotonic() - t0
        finally:
            lab.send_signal(signal.SIGINT)
            lab.wait(60)
    os.environ["LABKIT_STATE_DIR"] = env["LABKIT_STATE_DIR"]
    assert sim.status().state == "stopped", "the simulator outlived labkit lab"
    return sim_s or float("nan"), page_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    sim.build()
    pages, sims = [], []
    for i in range(a.repeat):
        with tempfile.TemporaryDirectory(prefix="labkit-startup-") as d:
            sim_s, page_s = one_run(Path(d))
        sims.append(sim_s)
        pages.append(page_s)
        print(f"run {i + 1}: simulator answering after {sim_s:5.2f} s, JupyterLab page after {page_s:5.2f} s")
    median = statistics.median(pages)
    print(f"command to JupyterLab page: median {median:.2f} s, worst {max(pages):.2f} s "
          f"(simulator: median {statistics.median(sims):.2f} s)")
    print(f"goal {GOAL_S:.0f} s: median is {median / GOAL_S:.2f} of it, worst {max(pages) / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
