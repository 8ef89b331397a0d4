"""Benchmark: the pre-copy models against the measured QEMU matrix.

Prints
  * the calibrated inputs (from the calibration points only);
  * per point: measured total time (median of 3) and its run-to-run spread, the QEMU-window model's
    prediction and error, the textbook round model's error, syncs and downtime, measured and predicted;
  * median and worst absolute error on total time, held-back points apart; goal <= 10 % median there;
  * whether converge / does not converge agrees on every point.
Reads datasets/validation/qemu_precopy_*.csv; make them anew with
datasets/validation/measure_qemu_precopy.py (about 15 minutes).
Run: .venv/bin/python benchmarks/real_precopy.py
"""
from __future__ import annotations

import pandas as pd

from labkit.realmigration import calibrate


def main() -> None:
    matrix, runs, samples = calibrate.load()
    c = calibrate.fit(matrix, runs, samples)
    first = runs.iloc[0]
    print(f"measured with QEMU {first['qemu_version']} under {first['accel'].upper()}; "
          f"{len(runs)} runs of {len(matrix)} points")
    print("\ncalibrated inputs (calibration points only):")
    print(c.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    table = calibrate.compare(matrix, runs, c)
    pd.set_option("display.width", 220)
    cols = ["point", "role", "measured", "predicted", "measured_total_ms", "spread_pct", "predicted_total_ms",
            "error_pct", "rounds_model_error_pct", "measured_syncs", "predicted_syncs", "measured_downtime_ms",
            "predicted_downtime_ms", "measured_throttle_pct", "predicted_throttle_pct"]
    print("\nper point (times in ms; spread = (max - min) / median of the 3 repeats):")
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))

    print()
    for role in ("held-back", "calibrate"):
        e = calibrate.errors(table, role)
        t = table[(table["role"] == role) & table["rounds_model_error_pct"].notna()]
        print(f"{role:>9}: QEMU-window model median |error| {e['median_abs_error_pct']:.1f} %, worst "
              f"{e['worst_abs_error_pct']:.1f} % ({e['worst_point']}) on {e['points']} converging points; "
              f"round model median |error| {t['rounds_model_error_pct'].abs().median():.1f} %; "
              f"verdict agrees on {e['verdicts_agree']}/{e['verdicts']} "
              f"(+{e['at_the_edge']} at the edge: repeats disagree)")
    spread = table["spread_pct"].dropna()
    print(f"run-to-run spread of total time: median {spread.median():.1f} %, worst {spread.max():.1f} %")
    held = calibrate.errors(table, "held-back")
    goal = held["median_abs_error_pct"] <= 10
    print(f"goal: held-back median |error| <= 10 %: {'met' if goal else 'NOT met'} "
          f"({held['median_abs_error_pct']:.1f} %)")


if __name__ == "__main__":
    main()
