"""Measure the real pre-copy matrix: every point three times, on this machine.

    .venv/bin/python datasets/validation/measure_qemu_precopy.py [--repeats 3] [--only p02,p05]

Writes, next to this script:

* ``qemu_precopy_matrix.csv``: the points (settings, and whether each is used
  to calibrate the model or held back to test it);
* ``qemu_precopy_runs.csv``: one row per run, with QEMU's summary;
* ``qemu_precopy_samples.csv``: every run's ``query-migrate`` samples (100 ms);
* ``qemu_precopy_rounds.csv``: the same, one row per dirty-bitmap sync of each run.

Runs go round-robin over the points (all first repeats, then all second ...)
so slow drift on the machine spreads over every point. Nothing else should
load the CPUs meanwhile: the guest runs under TCG and shares the two cores
with the destination and the migration thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from labkit import realmigration as rm

COLUMNS = ["point", "role", "memory_mib", "wss_mib", "hot_mib", "dirty_rate", "pattern", "mode",
           "max_bandwidth_mibps", "downtime_limit_ms", "auto_converge", "timeout_s", "what"]
# role: "calibrate" points set the model's inputs that QEMU reports; "held-back" points only test it
MATRIX = [
    ("p01", "calibrate", 256, 64, 16, 0, "seq", "sleep", 64, 300, False, 60, "idle guest"),
    ("p02", "calibrate", 256, 64, 16, 2560, "seq", "sleep", 64, 300, False, 60, "small hot set, converges"),
    ("p03", "held-back", 256, 64, 16, 2560, "seq", "sleep", 32, 300, False, 60, "p02 at half the bandwidth"),
    ("p04", "calibrate", 256, 96, 32, 5120, "random", "sleep", 64, 300, False, 60, "random writes"),
    ("p05", "held-back", 256, 96, 32, 5120, "random", "sleep", 64, 100, False, 60, "p04, tighter downtime"),
    ("p06", "calibrate", 256, 128, 64, 10240, "seq", "sleep", 128, 300, False, 60, "fast link, big hot set"),
    ("p07", "held-back", 256, 128, 64, 10240, "random", "sleep", 128, 100, False, 60, "p06 random, tight"),
    ("p08", "held-back", 256, 96, 48, 7680, "seq", "sleep", 48, 200, False, 60, "dirty rate near the link"),
    ("p09", "calibrate", 512, 256, 16, 2560, "seq", "sleep", 64, 300, False, 60, "bigger guest"),
    ("p10", "held-back", 512, 192, 64, 5120, "random", "sleep", 96, 200, False, 60, "bigger guest, random"),
    ("p11", "calibrate", 256, 64, 32, 12800, "seq", "spin", 32, 100, False, 25, "dirty rate above the link"),
    ("p12", "calibrate", 256, 64, 32, 12800, "seq", "spin", 32, 100, True, 90, "p11 with auto-converge"),
    ("p13", "held-back", 256, 96, 48, 10240, "random", "spin", 40, 150, True, 90, "auto-converge, random"),
    ("p14", "held-back", 384, 128, 128, 2560, "random", "sleep", 64, 300, False, 60, "hot set = working set"),
    ("p15", "held-back", 256, 64, 24, 10240, "seq", "spin", 32, 300, False, 25, "above the link, no help"),
    ("p16", "calibrate", 512, 256, 16, 0, "seq", "sleep", 64, 300, False, 60, "idle bigger guest"),
]


def matrix() -> pd.DataFrame:
    return pd.DataFrame(MATRIX, columns=COLUMNS)


def write_rounds(samples: pd.DataFrame, out: Path) -> None:
    """One row per dirty-bitmap sync of each run, from its samples."""
    parts = []
    for (point, repeat), g in samples.groupby(["point", "repeat"], sort=True):
        r = rm.rounds(g.sort_values("t_s"))
        r.insert(0, "repeat", repeat)
        r.insert(0, "point", point)
        parts.append(r)
    pd.concat(parts).to_csv(out / "qemu_precopy_rounds.csv", index=False, float_format="%.4f")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", help="comma-separated point ids")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--rounds-only", action="store_true", help="only remake the rounds file from the samples")
    a = ap.parse_args(argv)
    if a.rounds_only:
        write_rounds(pd.read_csv(a.out / "qemu_precopy_samples.csv"), a.out)
        return 0
    points = matrix()
    if a.only:
        points = points[points["point"].isin(a.only.split(","))]
    guest = rm.load()
    print(guest.describe(), flush=True)
    runs, samples = [], []
    started = time.monotonic()
    for repeat in range(1, a.repeats + 1):
        for p in points.itertuples(index=False):
            settings = {k: getattr(p, k) for k in COLUMNS if k not in ("point", "role", "what")}
            settings = {k: (v.item() if hasattr(v, "item") else v) for k, v in settings.items()}
            run = rm.migrate(guest=guest, **settings)
            row = {"point": p.point, "repeat": repeat, **{k: run.summary[k] for k in (
                "outcome", "total_time_ms", "downtime_ms", "setup_time_ms", "expected_downtime_ms",
                "dirty_sync_count", "transferred_mib", "downtime_mib", "normal_pages", "zero_pages",
                "max_throttle_pct", "guest_rate", "pages_compared", "pages_differ", "guest_runs", "accel",
                "qemu_version")}}
            runs.append(row)
            s = run.samples.copy()
            s.insert(0, "repeat", repeat)
            s.insert(0, "point", p.point)
            samples.append(s)
            print(f"[{time.monotonic() - started:6.0f} s] {p.point} #{repeat}: {run.describe().splitlines()[0]}; "
                  f"total {row['total_time_ms']} ms, downtime {row['downtime_ms']} ms, "
                  f"differ {row['pages_differ']}", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    points.to_csv(a.out / "qemu_precopy_matrix.csv", index=False)
    pd.DataFrame(runs).sort_values(["point", "repeat"]).to_csv(a.out / "qemu_precopy_runs.csv", index=False)
    pd.concat(samples).sort_values(["point", "repeat", "t_s"]).to_csv(
        a.out / "qemu_precopy_samples.csv", index=False, float_format="%.4f")
    write_rounds(pd.concat(samples), a.out)
    print(f"{len(runs)} runs in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
