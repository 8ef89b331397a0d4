"""Benchmark: how long labkit takes to return the lab to a pristine scenario.

Every notebook and exercise starts with a reset, so it should stay under 2 s.
Prints the median and worst of N resets per scenario.
Run: .venv/bin/python benchmarks/reset.py [--repeat 5] [scenario ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from labkit import scenarios, sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="*", help="scenarios to time (default: all)")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-bench-")
    sim.build()
    try:
        for name in a.scenario or scenarios.names():
            times = []
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                sim.reset(scenario=name)
                times.append(time.perf_counter() - t0)
            print(f"{name:20} median {statistics.median(times):6.2f} s   worst {max(times):6.2f} s")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
