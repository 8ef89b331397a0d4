"""Benchmark: how long a lab world takes to start with the simulator's scratch files on disk and in memory.

The engine keeps each datastore in a temporary directory and writes an empty placeholder for every file of every
VM. The launcher puts that directory in /dev/shm when the caller sets no TMPDIR (labkit/sim/launcher/main.go);
this script starts each scenario both ways, side by side in one run, and prints the medians and their ratio.
Run: .venv/bin/python benchmarks/world_start.py [--repeat 3] [scenario ...]   (default: large-datacenter and
healthy-cluster)
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

from labkit import sim


def _start(name: str, tmpdir: str | None) -> float:
    if tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = tmpdir
    t0 = time.perf_counter()
    sim.reset(scenario=name)
    took = time.perf_counter() - t0
    sim.stop()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="*", default=["large-datacenter", "healthy-cluster"])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-bench-")
    disk = tempfile.mkdtemp(prefix="labkit-bench-disk-", dir="/var/tmp")  # a directory on disk
    saved = os.environ.get("TMPDIR")
    sim.build()
    try:
        for name in a.scenario:
            on_disk, in_memory = [], []
            for _ in range(a.repeat):  # interleaved, so that both see the same machine
                on_disk.append(_start(name, disk))
                in_memory.append(_start(name, None))
            d, m = statistics.median(on_disk), statistics.median(in_memory)
            print(f"{name:20} scratch on disk {d:6.2f} s   in memory {m:6.2f} s   ratio {d / m:5.1f}x")
    finally:
        sim.stop()
        if saved is not None:
            os.environ["TMPDIR"] = saved
        shutil.rmtree(disk, ignore_errors=True)  # a stop that outlasts its grace period leaves files on disk


if __name__ == "__main__":
    main()
