"""Benchmark: how many simulated vMotions the lab runs at once on this machine, and how often each task's progress
moves while they run.

The lab plays every vMotion out in lab time (labkit/sim/launcher/flight.go): a goroutine per migration sleeps
from one pre-copy round to the next and updates its task's progress at least every 250 ms of real time. This
script writes a world of five clusters of ten hosts, each cluster with a datastore of its own (vCenter runs at most
128 vMotions per datastore, so 200 at once need two or more), and 40 running 2 GiB VMs on five hosts of each
cluster, and starts it at one simulated second per real second. For each batch size it sends that many vMotions
at once from those five hosts of every cluster to the five others (at most eight per host, vCenter's limit on a
10 GbE vMotion network, so none waits), and watches every task through one PropertyCollector
(WaitForUpdatesEx), as a client would. For each batch it prints how many ran at
once, the longest and the 99th-percentile gap between two progress updates of one running task (the goal: at
most 1 s at 200 at once), how long the batch took, and the simulator's CPU use over it (of 2 cores = 200 %).
Run: .venv/bin/python benchmarks/concurrent_migrations.py [--batches 50 100 200]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from pyVmomi import vim, vmodl

import labkit

PC = vmodl.query.PropertyCollector


def _scenario(folder: Path) -> Path:
    """Five clusters of ten hosts, a datastore per cluster, eight running 2 GiB idle VMs on hosts 1-5 of each."""
    lines = ["title: Two hundred vMotions at once", "teaches: How many simulated migrations the lab runs at once.",
             "defaults:", "  host: {cpu: intel-icelake, memoryGB: 1024, cores: 64, version: 8.0.2, vmotion: [vmk1]}",
             "  vm: {memoryMB: 2048, version: vmx-20, workload: idle}", "clusters:"]
    for c in range(1, 6):
        hosts = ", ".join(f"esx-{c}{h:02d}" for h in range(1, 11))
        lines.append(f"  C{c}: {{hosts: [{hosts}]}}")
    lines.append("datastores:")
    for c in range(1, 6):
        hosts = ", ".join(f"esx-{c}{h:02d}" for h in range(1, 11))
        lines.append(f"  ds-{c}: {{type: NFS, hosts: [{hosts}]}}")
    lines.append("vms:")
    for c in range(1, 6):
        for h in range(1, 6):
            for v in range(8):
                lines.append(f"  vm-{c}{h:02d}-{v}: {{host: esx-{c}{h:02d}, datastore: ds-{c}}}")
    path = folder / "concurrent-vmotions.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _plan(session, count: int, back: bool = False):
    """count (VM, destination) pairs: per cluster, hosts 1-5 send to hosts 6-10 (``back``: 6-10 to 1-5), at most
    8 from each host."""
    view = session.content.viewManager.CreateContainerView(session.content.rootFolder, [vim.ClusterComputeResource], True)
    clusters = sorted(view.view, key=lambda c: c.name)
    view.DestroyView()
    pairs = []
    for k in range(8):
        for cl in clusters:
            hosts = sorted(cl.host, key=lambda h: h.name)
            for i in range(5):
                src, dest = (hosts[i + 5], hosts[i]) if back else (hosts[i], hosts[i + 5])
                running = [v for v in src.vm if v.runtime.powerState == "poweredOn"]
                if k < len(running):
                    pairs.append((running[k], dest))
    return pairs[:count]


def _batch(session, pid: int, count: int, back: bool = False) -> dict:
    pairs = _plan(session, count, back)
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    tasks = [vm.MigrateVM_Task(host=dest, priority="defaultPriority") for vm, dest in pairs]
    pc = session.content.propertyCollector.CreatePropertyCollector()
    pc.CreateFilter(PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=t) for t in tasks],
                                  propSet=[PC.PropertySpec(type=vim.Task, pathSet=["info.progress", "info.state"])]),
                    partialUpdates=False)
    seen: dict[str, list[float]] = {t._moId: [] for t in tasks}
    state = {t._moId: "queued" for t in tasks}
    peak, version = 0, ""
    while any(s in ("queued", "running") for s in state.values()):
        update = pc.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=10))
        if update is None:
            continue
        version, now = update.version, time.monotonic()
        for obj in update.filterSet[0].objectSet:
            for change in obj.changeSet:
                if change.name == "info.state":
                    state[obj.obj._moId] = change.val
                elif change.name == "info.progress" and state[obj.obj._moId] == "running":
                    seen[obj.obj._moId].append(now)
        peak = max(peak, sum(s == "running" for s in state.values()))
    elapsed, cpu = time.monotonic() - t0, _cpu_seconds(pid) - cpu0
    pc.DestroyPropertyCollector()
    gaps = sorted(b - a for times in seen.values() for a, b in zip(times, times[1:]))
    failed = sum(s != "success" for s in state.values())
    return {"asked": count, "peak": peak, "failed": failed, "max_gap": gaps[-1] if gaps else float("nan"),
            "p99_gap": gaps[int(0.99 * (len(gaps) - 1))] if gaps else float("nan"),
            "median_gap": statistics.median(gaps) if gaps else float("nan"), "seconds": elapsed,
            "cpu_pct": 100 * cpu / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[50, 100, 200])
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="concurrent-vmotions-"))
    with labkit.connect(scenario=str(_scenario(folder)), sim_flags=["-time-scale", "1"]) as s:
        pid = s.world.pid
        print(f"{'vMotions':>9} {'ran at once':>12} {'failed':>7} {'max gap s':>10} {'p99 gap s':>10} "
              f"{'median gap s':>13} {'batch s':>8} {'sim CPU %':>10}")
        results = []
        for n in a.batches:
            r = _batch(s, pid, n)
            _batch(s, pid, n, back=True)  # the VMs go home, unmeasured, for the next batch
            results.append(r)
            print(f"{r['asked']:>9} {r['peak']:>12} {r['failed']:>7} {r['max_gap']:>10.2f} {r['p99_gap']:>10.2f} "
                  f"{r['median_gap']:>13.2f} {r['seconds']:>8.1f} {r['cpu_pct']:>10.0f}")
        first, last = results[0], results[-1]
        print(f"\n{last['asked']} at once against {first['asked']}: longest gap x{last['max_gap'] / first['max_gap']:.2f}, "
              f"simulator CPU x{last['cpu_pct'] / max(first['cpu_pct'], 1e-9):.2f}. Goal: every running task's progress "
              f"updated at least once a second with 200 at once: {'met' if last['peak'] >= 200 and last['max_gap'] <= 1 else 'NOT met'}.")


if __name__ == "__main__":
    main()
