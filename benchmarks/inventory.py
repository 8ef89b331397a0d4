"""Benchmark: labkit's inventory against the naive pyVmomi loop.

Starts a private lab simulator with 50 hosts and 2,000 VMs (flags below), then
builds the same VM table twice:

- labkit.inventory.vms: one paged PropertyCollector pass over a ContainerView;
- the naive loop: attribute access per VM (vm.runtime.host.name, vm.config...),
  which pyVmomi turns into one RetrieveProperties round trip per access.

Prints both times, their ratio, and whether the two tables agree.
Run: .venv/bin/python benchmarks/inventory.py [--vms-per-cluster 400]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from pyVmomi import vim

import labkit
from labkit import inventory, sim


def naive_vms(session) -> list[dict]:
    content = session.content
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    rows = []
    try:
        for vm in view.view:
            if vm.config.template:
                continue
            host = vm.runtime.host
            parent = host.parent
            rows.append({
                "name": vm.name,
                "host": host.name,
                "cluster": parent.name if isinstance(parent, vim.ClusterComputeResource) else None,
                "powerState": str(vm.runtime.powerState),
                "memoryMB": vm.config.hardware.memoryMB,
                "numCPU": vm.config.hardware.numCPU,
                "datastore": sorted(d.name for d in vm.datastore),
                "network": sorted(n.name for n in vm.network),
                "version": vm.config.version,
                "guestFullName": vm.config.guestFullName,
                "moid": vm._moId,
            })
    finally:
        view.DestroyView()
    return sorted(rows, key=lambda r: r["name"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=5)
    ap.add_argument("--hosts-per-cluster", type=int, default=10)
    ap.add_argument("--vms-per-cluster", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=5, help="labkit runs (the median is reported)")
    a = ap.parse_args()

    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-bench-")
    flags = ["-dc", "1", "-cluster", str(a.clusters), "-host", str(a.hosts_per_cluster),
             "-standalone-host", "0", "-vm", str(a.vms_per_cluster), "-pool", "1"]
    sim.build()
    t0 = time.perf_counter()
    sim.start(flags, timeout=600)
    print(f"simulator: {' '.join(flags)} (started in {time.perf_counter() - t0:.1f} s)")
    try:
        with labkit.connect(timeout=300) as session:
            inventory.vms(session)  # warm-up: connection pool, first-call costs
            times = []
            for _ in range(a.repeat):
                t = time.perf_counter()
                table = inventory.vms(session)
                times.append(time.perf_counter() - t)
            fast = statistics.median(times)
            print(f"VMs: {len(table)}, hosts: {len(inventory.hosts(session))}")
            print(f"labkit.inventory.vms   median of {a.repeat}: {fast:8.3f} s")

            t = time.perf_counter()
            naive = naive_vms(session)
            slow = time.perf_counter() - t
            print(f"naive pyVmomi loop     one run:      {slow:8.3f} s")
            print(f"ratio naive / labkit:  {slow / fast:8.1f}x")
            agree = naive == table.to_dict("records")
            print(f"tables agree:          {agree}")
            if not agree:
                raise SystemExit("the two tables differ: the benchmark compares unequal work")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
