"""Benchmark: how long a client waits for a short task, with and without engine patch 0008.

The engine's PropertyCollector looked for changes every 250 ms, so WaitForUpdatesEx kept a client waiting at
least that long after a task's last change; patch 0008 (labkit/sim/patches/0008-prompt-property-updates.patch)
looks every 10 ms. This script builds the simulator both ways, starts healthy-cluster with each, migrates one
VM back and forth (a 20 ms lab migration) and waits for every task as labkit does (labkit.tasks.wait_for_task),
interleaving the two, then prints the medians and their ratio.
Run: .venv/bin/python benchmarks/task_wait.py [--moves 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from unittest import mock

from pyVmomi import vim

import labkit
from labkit.sim import builder
from labkit.tasks import wait_for_task

PATCH = "0008-prompt-property-updates.patch"


def _binaries():
    with_patch, _ = builder.build()
    without = [p for p in builder.patch_files() if p.name != PATCH]
    with mock.patch.object(builder, "patch_files", return_value=without):
        without_patch, _ = builder.build()
    return with_patch, without_patch


def _move_times(session, moves: int) -> list[float]:
    view = session.content.viewManager.CreateContainerView(session.content.rootFolder, [vim.VirtualMachine], True)
    vm = sorted(view.view, key=lambda v: v.name)[0]
    view.DestroyView()
    hosts = [h for h in vm.runtime.host.parent.host]
    out = []
    for i in range(moves):
        target = hosts[(hosts.index(vm.runtime.host) + 1) % len(hosts)]
        t0 = time.perf_counter()
        wait_for_task(session, vm.MigrateVM_Task(host=target, priority="defaultPriority"), progress=False)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=20)
    a = ap.parse_args()
    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-bench-")
    patched, unpatched = _binaries()
    times = {"with 0008": [], "without": []}
    for _ in range(2):  # interleaved rounds, so that both see the same machine
        for label, binary in (("with 0008", patched), ("without", unpatched)):
            with mock.patch.dict(os.environ, {"LABKIT_VCSIM": str(binary)}):
                s = labkit.connect(scenario="healthy-cluster", sim_flags=["-migration-seconds", "0.02"])
                try:
                    times[label] += _move_times(s, a.moves)
                finally:
                    s.close()
    w, wo = statistics.median(times["with 0008"]), statistics.median(times["without"])
    print(f"migration task, 20 ms of lab time, waited for: with patch 0008 {w * 1000:6.1f} ms   "
          f"without {wo * 1000:6.1f} ms   ratio {wo / w:5.1f}x   ({len(times['without'])} moves each)")


if __name__ == "__main__":
    main()
