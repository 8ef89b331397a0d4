"""Benchmark: how fast the pre-copy model answers, so its widgets respond at once.

Prints
  * one simulation (summary and per-round table) for VM sizes up to 24 TiB: goal <= 5 ms;
  * a sweep of 10,000 configurations in one vectorised call: goal <= 1 s;
  * the page-by-page reference on a 16 GiB VM against the page-class model, and their ratio.
Run: .venv/bin/python benchmarks/precopy.py [--repeat 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from labkit import precopy
from labkit.precopy.reference import simulate_pages


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    workload = dict(dirty_rate_mibps=1500, hot_set_mib=8192, hot_share=0.9)

    print("one simulation (simulate(): per-round table and summary)")
    for gib in (16, 256, 4096, 24 * 1024):
        runs = precopy.simulate(gib * 1024, **workload)["rounds"]
        median, worst = timed(lambda gib=gib: precopy.simulate(gib * 1024, **workload), a.repeat)
        print(f"  {gib:6d} GiB VM, {runs:2d} rounds: median {median * 1000:6.2f} ms, worst {worst * 1000:6.2f} ms"
              f"   (goal <= 5 ms)")

    axes = precopy.grid(memory_mib=np.geomspace(16384, 24 * 2**20, 10), dirty_rate_mibps=np.linspace(0, 5000, 25),
                        link_gbps=[1, 10, 25, 40, 100], nics=[1, 2], sdps=[True, False, True, False])
    n = len(axes["memory_mib"])
    median, worst = timed(lambda: precopy.sweep(**axes, hot_set_mib=8192, hot_share=0.9), max(3, a.repeat // 4))
    print(f"sweep of {n:,} configurations: median {median:.3f} s, worst {worst:.3f} s   (goal <= 1 s)")

    vm = dict(memory_mib=16384, **workload, link_gbps=10)
    classes, _ = timed(lambda: precopy.simulate(**vm), a.repeat)
    pages, _ = timed(lambda: simulate_pages(**vm), 3)
    m, p = precopy.simulate(**vm).summary, simulate_pages(**vm)
    print(f"16 GiB VM, {m['rounds']} rounds: page classes {classes * 1000:.2f} ms, page by page {pages * 1000:.0f} ms,"
          f" ratio {pages / classes:.0f}x")
    print(f"  same answer: total {m['total_s']:.3f} s vs {p['total_s']:.3f} s,"
          f" data sent {m['sent_gib']:.3f} GiB vs {p['sent_gib']:.3f} GiB")


if __name__ == "__main__":
    main()
