"""Hold the pre-copy models against the measured QEMU matrix.

Inputs come from what the guest is told to do and what QEMU reports, never
from a run's outcome, and only the points marked ``calibrate`` set them:

* the guest's memory, working set, hot set, pattern and mode: as told;
* its dirty rate: what the guest itself reports writing in the second before
  the migration starts (``guest_rate``);
* the rate the link carries under ``max-bandwidth``: QEMU's ``mbps`` while
  pre-copy runs, as a share of the limit;
* the guest's non-zero memory: QEMU's count of normal pages sent by the end
  of round 1, as a plane in the guest's memory size and working set (part of
  the working set lands on pages the kernel had already left non-zero);
* where round 1 meets the hot set (``hot_position``): the value that best
  matches QEMU's pending size just after the first sync of round 2;
* the stop-and-copy speed and fixed cost: a straight line through QEMU's
  ``downtime`` against its ``downtime-bytes``;
* the setup time: QEMU's ``setup-time``.

Held-back points are then predicted with those inputs, and the error is
reported on them alone.
"""
from __future__ import annotations

import dataclasses
import types

import numpy as np
import pandas as pd

from .. import datasets
from ..precopy import model as rounds_model
from ..precopy import qemu as qemu_model

MIB = 2**20
PAGES_PER_MIB = 256


@dataclasses.dataclass(frozen=True)
class Calibration:
    bandwidth_ratio: float        # link rate carried / max-bandwidth
    base_nonzero_mib: float       # non-zero memory: base + per_mib × memory + per_wss × working set
    nonzero_per_mib: float
    nonzero_per_wss: float
    hot_position: float           # where round 1 meets the hot set, 0 (first) to 1 (last)
    background_rate: float        # pages/s the guest kernel itself writes
    switchover_mibps: float
    switchover_overhead_ms: float
    setup_ms: float

    def nonzero_mib(self, memory_mib, wss_mib) -> float:
        estimate = self.base_nonzero_mib + self.nonzero_per_mib * memory_mib + self.nonzero_per_wss * wss_mib
        return float(min(memory_mib, max(estimate, wss_mib)))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([
            ("bandwidth_ratio", self.bandwidth_ratio, "QEMU mbps during pre-copy / max-bandwidth"),
            ("base_nonzero_mib", self.base_nonzero_mib, "normal pages sent in round 1: plane fit, constant"),
            ("nonzero_per_mib", self.nonzero_per_mib, "... per MiB of guest memory"),
            ("nonzero_per_wss", self.nonzero_per_wss, "... per MiB of working set"),
            ("background_rate", self.background_rate, "idle guests: pages sent again after round 1 (pages/s)"),
            ("hot_position", self.hot_position, "best match of pending after round 1's sync"),
            ("switchover_mibps", self.switchover_mibps, "downtime-bytes / downtime, line fit"),
            ("switchover_overhead_ms", self.switchover_overhead_ms, "downtime at zero bytes, line fit"),
            ("setup_ms", self.setup_ms, "QEMU setup-time, median"),
        ], columns=["input", "value", "from"])


def load() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The committed matrix, runs and samples."""
    folder = datasets.root() / "validation"
    return (pd.read_csv(folder / "qemu_precopy_matrix.csv"), pd.read_csv(folder / "qemu_precopy_runs.csv"),
            pd.read_csv(folder / "qemu_precopy_samples.csv"))


def fit(matrix: pd.DataFrame, runs: pd.DataFrame, samples: pd.DataFrame) -> Calibration:
    cal_points = matrix[matrix["role"] == "calibrate"]
    cal = runs.merge(cal_points, on="point")
    done = cal[cal["outcome"] == "completed"]

    s = samples.merge(cal_points[["point", "max_bandwidth_mibps"]], on="point")
    active = s[(s["status"] == "active") & (s["mbps"] > 0)]
    ratio = float(np.median(active["mbps"] * 1e6 / 8 / (active["max_bandwidth_mibps"] * MIB)))

    first = _round_one(samples[samples["point"].isin(cal_points["point"])]).merge(cal_points, on="point")
    design = np.column_stack([np.ones(len(first)), first["memory_mib"], first["wss_mib"]])
    (base, slope, per_wss), *_ = np.linalg.lstsq(design, first["nonzero_mib"].to_numpy(), rcond=None)
    per_mib_ms, overhead = np.polyfit(done["downtime_mib"], done["downtime_ms"], 1)
    fast = 1000.0 / per_mib_ms if per_mib_ms > 0 else float("inf")
    # an idle guest's pages sent twice were written by its kernel during round 1; pages sent at a steady
    # pace over round 1 (T seconds) were exposed T/2 on average, so the kernel wrote about 2 x resent / T
    idle = first[first["dirty_rate"] == 0].merge(runs[["point", "repeat", "normal_pages"]], on=["point", "repeat"])
    resent = idle["normal_pages"] - idle["nonzero_mib"] * PAGES_PER_MIB
    background = float(np.median(2 * resent / idle["round_one_s"])) if len(idle) else 0.0
    partial = Calibration(bandwidth_ratio=ratio, base_nonzero_mib=float(base), nonzero_per_mib=float(slope),
                          nonzero_per_wss=float(per_wss), hot_position=0.5, background_rate=background, switchover_mibps=float(fast),
                          switchover_overhead_ms=float(max(overhead, 0.0)), setup_ms=float(done["setup_time_ms"].median()))
    # sleeping writers only: a spinning one's rate wanders from run to run
    dirtying = first[(first["dirty_rate"] > 0) & (first["mode"] == "sleep")].merge(runs[["point", "repeat", "guest_rate"]], on=["point", "repeat"])

    def mismatch(position):
        c = dataclasses.replace(partial, hot_position=position)
        err = 0.0
        for row in dirtying.itertuples(index=False):
            q = qemu_model.simulate(**inputs(row, row.guest_rate, c))
            # like QEMU's sample, the model's first 100 ms window after the sync
            after = q.windows[q.windows["syncs"] >= 2]
            predicted = float(after["pending_mib"].iloc[0]) if len(after) else 0.0
            err += ((predicted - row.pending_after_mib) / max(row.pending_after_mib, 1.0)) ** 2
        return err

    best = min(np.linspace(0, 1, 21), key=mismatch)
    return dataclasses.replace(partial, hot_position=float(best))


def _round_one(samples: pd.DataFrame) -> pd.DataFrame:
    """Per run, from QEMU's samples: non-zero MiB sent in round 1, and what was pending just after its sync."""
    rows = []
    for (point, repeat), g in samples.groupby(["point", "repeat"]):
        one, two = g[g["dirty_sync_count"] == 1], g[g["dirty_sync_count"] >= 2]
        if one.empty or two.empty:
            continue
        rows.append({"point": point, "repeat": repeat, "nonzero_mib": one["normal_pages"].iloc[-1] / PAGES_PER_MIB,
                     "round_one_s": float(one["t_s"].iloc[-1]),
                     "pending_after_mib": float(two["remaining_mib"].iloc[0])})
    return pd.DataFrame(rows)


def inputs(point, guest_rate: float, c: Calibration) -> dict:
    """The QEMU-window model's inputs for one point (a row of the matrix)."""
    return dict(memory_mib=point.memory_mib, nonzero_mib=c.nonzero_mib(point.memory_mib, point.wss_mib),
                hot_mib=point.hot_mib, dirty_rate=guest_rate,
                bandwidth_mibps=point.max_bandwidth_mibps * c.bandwidth_ratio,
                pattern=point.pattern, spin=point.mode == "spin", downtime_limit_ms=point.downtime_limit_ms,
                auto_converge=bool(point.auto_converge), switchover_mibps=c.switchover_mibps,
                hot_position=c.hot_position, background_rate=c.background_rate,
                switchover_overhead_ms=c.switchover_overhead_ms, setup_ms=c.setup_ms, timeout_s=point.timeout_s)


def round_model(point, guest_rate: float, c: Calibration) -> rounds_model.Migration:
    """The same point in the textbook round model, for comparison."""
    bw = point.max_bandwidth_mibps * c.bandwidth_ratio * MIB * 8 / 1e9
    nonzero = c.nonzero_mib(point.memory_mib, point.wss_mib)
    return rounds_model.simulate(point.memory_mib, guest_rate / PAGES_PER_MIB, hot_set_mib=point.hot_mib,
                                 zero_mib=point.memory_mib - nonzero, link_gbps=bw, efficiency=1.0,
                                 switchover_s=point.downtime_limit_ms / 1000, sdps=bool(point.auto_converge),
                                 max_rounds=10_000, max_data_factor=1e9, max_switchover_s=1e9)


def compare(matrix: pd.DataFrame, runs: pd.DataFrame, c: Calibration) -> pd.DataFrame:
    """One row per point: measured (median of repeats, spread) against both models."""
    rows = []
    for p in matrix.itertuples(index=False):
        r = runs[runs["point"] == p.point]
        done = r[r["outcome"] == "completed"]
        rate = float(r["guest_rate"].median())
        q = qemu_model.simulate(**inputs(p, rate, c))
        rm_ = round_model(p, rate, c)
        measured_total = float(done["total_time_ms"].median()) if len(done) else np.nan
        spread = (float((done["total_time_ms"].max() - done["total_time_ms"].min()) / measured_total * 100)
                  if len(done) else np.nan)
        predicted_total = q["total_s"] * 1000 if q["outcome"] == "completed" else np.nan
        rounds_total = rm_["total_s"] * 1000 if rm_["converged"] else np.nan
        rows.append({
            "point": p.point, "role": p.role, "what": p.what, "runs": len(r),
            "measured": f"{len(done)}/{len(r)} completed",
            "predicted": q["outcome"],
            # a point whose repeats disagree sits at the edge: no verdict to match
            "verdict_agrees": (None if 0 < len(done) < len(r)
                               else (len(done) == len(r)) == (q["outcome"] == "completed")),
            "measured_total_ms": measured_total, "spread_pct": spread,
            "predicted_total_ms": predicted_total,
            "error_pct": (predicted_total - measured_total) / measured_total * 100 if len(done) else np.nan,
            "rounds_model_total_ms": rounds_total,
            "rounds_model_error_pct": (rounds_total - measured_total) / measured_total * 100 if len(done) else np.nan,
            "measured_syncs": float(done["dirty_sync_count"].median()) if len(done) else np.nan,
            "predicted_syncs": q["syncs"] if q["outcome"] == "completed" else np.nan,
            "measured_downtime_ms": float(done["downtime_ms"].median()) if len(done) else np.nan,
            "predicted_downtime_ms": q["downtime_s"] * 1000 if q["outcome"] == "completed" else np.nan,
            "measured_throttle_pct": float(r["max_throttle_pct"].max()),
            "predicted_throttle_pct": q["max_throttle_pct"],
        })
    return pd.DataFrame(rows)


def errors(table: pd.DataFrame, role: str = "held-back") -> dict:
    """Median and worst absolute error of total time on the points of ``role`` that completed."""
    t = table[(table["role"] == role) & table["error_pct"].notna()]
    worst = t.loc[t["error_pct"].abs().idxmax()] if len(t) else None
    return {"points": len(t), "median_abs_error_pct": float(t["error_pct"].abs().median()) if len(t) else np.nan,
            "worst_abs_error_pct": float(abs(worst["error_pct"])) if worst is not None else np.nan,
            "worst_point": worst["point"] if worst is not None else None,
            "verdicts_agree": int((table.loc[table["role"] == role, "verdict_agrees"] == True).sum()),
            "verdicts": int(table.loc[table["role"] == role, "verdict_agrees"].notna().sum()),
            "at_the_edge": int(table.loc[table["role"] == role, "verdict_agrees"].isna().sum())}


_FITTED: Calibration | None = None


def committed() -> Calibration:
    """The calibration from the committed matrix (computed once per process)."""
    global _FITTED
    if _FITTED is None:
        _FITTED = fit(*load())
    return _FITTED


def predict(settings: dict, guest_rate: float | None = None, c: Calibration | None = None) -> qemu_model.QemuRun:
    """The QEMU-window model's prediction for run settings (as ``realmigration.migrate`` takes them).

    ``guest_rate`` is what the guest reported writing (pages/s); by default the rate it was told.
    """
    from .runner import settings as check

    s = check(**settings)
    point = types.SimpleNamespace(**s)      # (a pandas Series would answer .mode with its method)
    rate = s["dirty_rate"] if guest_rate is None else guest_rate
    return qemu_model.simulate(**inputs(point, rate, c or committed()))
