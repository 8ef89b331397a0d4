"""Benchmark: the scenario limits labkit states (labkit/scenarios.py), measured.

1. Worlds: the shipped large datacenter (50 hosts, 2,000 VMs) at 1x, 2x and 4x its clusters, each started with
   ``labkit.sim`` as ``labkit sim start --scenario`` does: the start time and the simulator's resident memory.
   4x is MAX_HOSTS and MAX_VMS, the largest world a scenario may ask for.
2. Files: a scenario file of MAX_FILE_BYTES (VMs one per line, far past MAX_VMS), read by labkit's loader on
   libyaml's parser and on PyYAML's pure-Python one, side by side (medians of --repeat runs, interleaved), and
   the time ``scenarios.compile`` takes to refuse it.

Run: .venv/bin/python benchmarks/scenario_limits.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from labkit import scenarios, sim
from labkit.errors import LabkitError


class _PurePython(yaml.SafeLoader):
    """labkit's loader (duplicate keys refused) on PyYAML's pure-Python parser."""

    construct_mapping = scenarios._UniqueKeys.construct_mapping


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worlds(folder: Path) -> None:
    base = (Path(scenarios.directory()) / "large-datacenter.yaml").read_text()
    for factor in (1, 2, 4):
        path = folder / f"large-x{factor}.yaml"
        path.write_text(base.replace("clusters: 5", f"clusters: {5 * factor}", 1))
        hosts, vms = scenarios.counts(scenarios.compile(str(path)))
        t0 = time.perf_counter()
        state = sim.reset(scenario=str(path))
        took = time.perf_counter() - t0
        print(f"world x{factor}: {hosts:4,} hosts {vms:6,} VMs   start {took:5.1f} s   simulator {_rss_mb(state.pid):5.0f} MB")
        sim.stop()


def files(folder: Path, repeat: int) -> None:
    path = folder / "largest-file.yaml"
    with open(path, "w") as fh:
        fh.write("title: t\nteaches: t\nclusters:\n  C: {hosts: [esx-01]}\ndatastores:\n  ds1: {hosts: all}\nvms:\n")
        n = 0
        while fh.tell() < scenarios.MAX_FILE_BYTES - 200:
            fh.write(f"  vm-{n:06d}: {{host: esx-01, datastore: ds1, memoryMB: 4096, cpus: 2, power: on}}\n")
            n += 1
    text = path.read_text()
    c_times, py_times = [], []
    for _ in range(repeat):
        for loader, times in ((scenarios._UniqueKeys, c_times), (_PurePython, py_times)):
            t0 = time.perf_counter()
            yaml.load(text, Loader=loader)  # noqa: S506 - safe loaders
            times.append(time.perf_counter() - t0)
    c, py = statistics.median(c_times), statistics.median(py_times)
    print(f"file of {path.stat().st_size / 2**20:.1f} MiB ({n:,} VMs): read with libyaml {c:5.1f} s   "
          f"pure Python {py:5.1f} s   ratio {py / c:4.1f}x")
    t0 = time.perf_counter()
    try:
        scenarios.compile(str(path))
        said = "accepted (unexpected)"
    except LabkitError as e:
        said = str(e).split(": ", 1)[1]
    print(f"  labkit scenarios --check: {time.perf_counter() - t0:4.1f} s to say: {said}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-bench-")
    sim.build()
    with tempfile.TemporaryDirectory(prefix="labkit-bench-scenarios-") as d:
        try:
            worlds(Path(d))
        finally:
            sim.stop()
        files(Path(d), a.repeat)


if __name__ == "__main__":
    main()
