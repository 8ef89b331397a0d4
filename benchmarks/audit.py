"""Benchmark: labkit audit, labkit capture and the replay of a capture, on the 2,000-VM, 50-host world.

Goals on 2 cores: audit <= 10 s, capture <= 10 s, replay start <= 5 s. The lab world large-datacenter (5 clusters
of 10 hosts, 2,000 VMs, 100,000 VM x host pairs) stands in for a vCenter: the commands treat it as one (lab=False).
Each is run --repeat times in one run and the medians are printed, with the share of the goal used, and the
capture beside compat.fetch (the inventory read the audit starts with: both are one PropertyCollector pass).

- audit: labkit.audit.run into a fresh folder (inventory read, labkit's rules over every pair, vCenter's own
  QueryVMotionCompatibilityEx_Task, report.html, verdicts.csv, findings.json);
- capture: labkit.capture.capture, anonymised, and the scenario file written;
- replay start: labkit.connect(scenario=<the captured file>) until the session is open (the file compiled, the
  simulator built from it and logged in to).

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
    with labkit.connect(scenario=a.scenario, sim_flags=["-migration-seconds", "0.02"]) as lab:
        st = lab.world.state
        with labkit.connect(st.url, user=st.username, password=st.password, insecure=True, lab=False) as s:
            for i in range(a.repeat):
                took, _ = _timed(lambda: compat.fetch(s))
                times["compat.fetch"].append(took)
                took, _ = _timed(lambda: audit.run(s, work / f"report-{i}", progress=False))
                times["audit"].append(took)
                target = work / f"captured-{i}.yaml"
                took, _ = _timed(lambda: capture.write(capture.capture(s), target))
                times["capture"].append(took)
                took, replay = _timed(lambda: labkit.connect(scenario=str(target),
                                                             sim_flags=["-migration-seconds", "0.02"]))
                times["replay start"].append(took)
                replay.close()
    print(f"{a.scenario}: {target.stat().st_size / 2**10:,.0f} KiB scenario captured, medians of {a.repeat} runs")
    for name, goal in GOALS.items():
        m = statistics.median(times[name])
        print(f"  {name:13s} {m:6.2f} s   goal <= {goal:g} s ({m / goal:.0%} of it)   runs: "
              + ", ".join(f"{t:.2f}" for t in times[name]))
    fetch = statistics.median(times["compat.fetch"])
    print(f"  compat.fetch  {fetch:6.2f} s   (the audit's inventory read)")
    print(f"ratios: capture / compat.fetch {statistics.median(times['capture']) / fetch:.2f}; "
          f"audit / compat.fetch {statistics.median(times['audit']) / fetch:.2f}")


if __name__ == "__main__":
    main()
