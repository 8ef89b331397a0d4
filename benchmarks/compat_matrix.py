"""Benchmark: the VM x host compatibility matrix on the large scenario (2,000 VMs, 50 hosts).

Prints
  * compat.matrix() end to end: the inventory fetch, then every rule over all 100,000 pairs (goal <= 2 s);
  * the rules alone on a fetched snapshot;
  * the alternative, one CheckMigrate_Task per pair, timed on a sample of pairs and extrapolated;
  * the ratio of the two.
Run: .venv/bin/python benchmarks/compat_matrix.py [--sample 40] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

import labkit
from labkit import compat, sim
from labkit.tasks import wait_for_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=40, help="pairs checked one CheckMigrate_Task each")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-bench-")
    try:
        session = labkit.connect(scenario="large-datacenter")
        ends, fetches, rules = [], [], []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            table = compat.matrix(session)
            ends.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            facts = compat.fetch(session)
            fetches.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            compat.matrix(facts)
            rules.append(time.perf_counter() - t0)
        pairs = len(table)
        print(f"{len(facts.vms)} VMs x {len(facts.hosts)} hosts = {pairs:,} pairs")
        print(f"compat.matrix() end to end: median {statistics.median(ends):.2f} s   (goal <= 2 s)")
        print(f"  inventory fetch {statistics.median(fetches):.2f} s, rules over all pairs "
              f"{statistics.median(rules):.2f} s")

        vms = {o.name: o for o in session.content.viewManager.CreateContainerView(
            session.content.rootFolder, [labkit.inventory.KINDS["VirtualMachine"]], True).view}
        hosts = {o.name: o for o in session.content.viewManager.CreateContainerView(
            session.content.rootFolder, [labkit.inventory.KINDS["HostSystem"]], True).view}
        rng = random.Random(0)
        sample = [(rng.choice(sorted(vms)), rng.choice(sorted(hosts))) for _ in range(a.sample)]
        checker = session.content.vmProvisioningChecker
        t0 = time.perf_counter()
        for vm, host in sample:
            wait_for_task(session, checker.CheckMigrate_Task(vm=vms[vm], host=hosts[host]), progress=False)
        per_pair = (time.perf_counter() - t0) / len(sample)
        one_by_one = per_pair * pairs
        print(f"one CheckMigrate_Task per pair: {per_pair * 1000:.1f} ms a pair on {len(sample)} sampled pairs, "
              f"{one_by_one:,.0f} s for all {pairs:,} (extrapolated)")
        print(f"ratio: compat.matrix() is {one_by_one / statistics.median(ends):,.0f}x faster end to end")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
