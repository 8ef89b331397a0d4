"""Benchmark: labkit audit, labkit capture and the replay of a capture, on the 2,000-VM, 50-host world.

Goals on 2 cores: audit <= 10 s, capture <= 10 s, replay start <= 5 s. The lab world large-datacenter (5 clusters
of 10 hosts, 2,000 VMs, 100,000 VM x host pairs) stands in for a vCenter: the commands treat it as one (lab=False).
Each is run --repeat times in one run and the medians are printed, with the share of the goal used, and the
capture beside compat.fetch (the inventory read the audit starts with: both are one PropertyCollector pass).

- audit: labkit.audit.run into a fresh folder (inventory read, labkit's rules over every pair, vCenter's own
  QueryVMotionCompatibilityEx_Task, report.html, verdicts.csv, findings.json);
- capture: labkit.capture.capture, anonymised, and the scenario file written;
- replay start: labkit.connect(scenario=<the captured file>) until the session is open (the file compiled, the
  simulator built from it and logged in to); the first replay's verdicts are compared with the original's
  (vCenter's QueryVMotionCompatibilityEx_Task, every tenth VM against every host), the proof make test leaves to
  this script for this world.

Run: .venv/bin/python benchmarks/audit.py [--repeat 3] [--scenario large-datacenter]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

GOALS = {"audit": 10.0, "capture": 10.0, "replay start": 5.0}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _same_verdicts(original, replay, mapping: dict) -> tuple[bool, int]:
    """Whether vCenter's verdict (QueryVMotionCompatibilityEx_Task) on every tenth VM (by name) against every host
    is the same in the original world and in the replay of its capture, through the capture's mapping; the pairs
    compared. tests/helpers.replay_matches does the same for every other scenario in make test."""
    from labkit import compat, inventory

    real = {kind: {r: p for p, r in table.items()} for kind, table in mapping["names"].items()}
    vms = sorted(inventory.vms(original)["name"])[::10]

    def verdicts(table):
        return {(r.vm, r.host): (tuple(r.errors), tuple(r.warnings)) for r in table.itertuples()}

    before = {(real["vm"][vm], real["host"][host]): v
              for (vm, host), v in verdicts(compat.vcenter(original, vms=vms)).items()}
    after = verdicts(compat.vcenter(replay, vms=[real["vm"][v] for v in vms]))
    return before == after and len(before) > 0, len(before)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", default="large-datacenter")
    a = ap.parse_args()
    os.environ.setdefault("LABKIT_STATE_DIR", tempfile.mkdtemp(prefix="labkit-bench-"))

    import labkit
    from labkit import audit, capture, compat

    work = Path(tempfile.mkdtemp(prefix="labkit-bench-audit-"))
    times: dict[str, list[float]] = {k: [] for k in [*GOALS, "compat.fetch"]}
    steps: dict[str, list[float]] = {}  # the audit's own timings, step by step
    with labkit.connect(scenario=a.scenario, sim_flags=["-migration-seconds", "0.02"]) as lab:
        st = lab.world.state
        with labkit.connect(st.url, user=st.username, password=st.password, insecure=True, lab=False) as s:
            for i in range(a.repeat):
                took, _ = _timed(lambda: compat.fetch(s))
                times["compat.fetch"].append(took)
                took, result = _timed(lambda: audit.run(s, work / f"report-{i}", progress=False))
                times["audit"].append(took)
                for step, seconds in result.timings.items():
                    steps.setdefault(step, []).append(seconds)
                target = work / f"captured-{i}.yaml"
                took, _ = _timed(lambda: capture.write(capture.capture(s), target))
                times["capture"].append(took)
                took, replay = _timed(lambda: labkit.connect(scenario=str(target),
                                                             sim_flags=["-migration-seconds", "0.02"]))
                times["replay start"].append(took)
                if i == 0:
                    equal, pairs = _same_verdicts(s, replay, capture.load_mapping(capture.mapping_path(target)))
                replay.close()
    print(f"{a.scenario}: {target.stat().st_size / 2**10:,.0f} KiB scenario captured, medians of {a.repeat} runs")
    print(f"  replay: vCenter's verdicts {'equal' if equal else 'DIFFERENT'} before and after on {pairs:,} pairs "
          "(every tenth VM against every host)")
    for name, goal in GOALS.items():
        m = statistics.median(times[name])
        print(f"  {name:13s} {m:6.2f} s   goal <= {goal:g} s ({m / goal:.0%} of it)   runs: "
              + ", ".join(f"{t:.2f}" for t in times[name]))
        if name == "audit":
            print("                 its steps (medians): "
                  + ", ".join(f"{step} {statistics.median(v):.2f}" for step, v in steps.items()))
    fetch = statistics.median(times["compat.fetch"])
    print(f"  compat.fetch  {fetch:6.2f} s   (the audit's inventory read)")
    print(f"ratios: capture / compat.fetch {statistics.median(times['capture']) / fetch:.2f}; "
          f"audit / compat.fetch {statistics.median(times['audit']) / fetch:.2f}")


if __name__ == "__main__":
    main()
