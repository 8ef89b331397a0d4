"""How Storage vMotion copies a disk that is being written to: a pure model.

Two designs, as ESX had them (VMware vSphere Blog, "New vSphere 5.0 Storage
Features Part 2 – Storage vMotion", 2011; Mashtizadeh et al., "The Design and
Evolution of Live Storage Migration in VMware ESX", USENIX ATC 2011):

* ``"iterative"`` (ESX 4.x, changed block tracking): copy the whole disk,
  then copy again the blocks the guest wrote meanwhile, pass after pass,
  until what is left can be copied while the VM is briefly stunned. Like
  memory pre-copy, it only converges if the guest writes more slowly than
  the copier copies.
* ``"mirror"`` (vSphere 5.0 and later, the mirror driver): copy the disk once,
  front to back. A guest write to a block the copier has already passed is
  sent to both datastores ("mirrored"); a write ahead of the copier lands on
  the source and is carried by the copy when it gets there. Nothing is ever
  copied twice, so the copy ends after one pass whatever the write rate.

Assumptions: guest writes are spread evenly over the disk; every write in the
iterative design dirties a block not yet dirty in that pass (the worst case,
as in the textbook pre-copy model); the copy rate is what the copier gets
alongside the guest's own I/O. The switchover budget and the pass limit of
the iterative design are not published for ESX 4.x; by default the model
borrows vMotion's 0.5 s switchover goal (Broadcom KB 436882) and Xen's 29
rounds, and fails a switchover longer than ``fsr.maxSwitchoverSeconds``,
100 s by default (Broadcom KB 1010045).
"""
from __future__ import annotations

import dataclasses

import pandas as pd

from ..errors import InvalidInput
from ..precopy.params import scalar as _scalar

METHODS = ("mirror", "iterative")
DEFAULTS = {"switchover_s": 0.5, "max_passes": 29, "max_switchover_s": 100.0}
PASS_COLUMNS = ["pass", "phase", "start_s", "duration_s", "copied_mib", "mirrored_mib", "dirtied_mib"]


@dataclasses.dataclass(frozen=True)
class Copy:
    """One Storage vMotion copy: ``passes`` (one row per pass) and ``summary``."""

    passes: pd.DataFrame
    summary: dict

    def __repr__(self) -> str:
        s = self.summary
        return (f"<Copy {s['method']}: {s['outcome']} after {s['passes']} pass(es), "
                f"{s['total_s']:.1f} s, {s['mirrored_mib']:.0f} MiB mirrored>")


def copy(disk_gib, copy_mibps, write_mibps, *, method: str = "mirror", **options) -> Copy:
    """Copy a ``disk_gib`` disk at ``copy_mibps`` while the guest writes ``write_mibps``."""
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}, not {method!r}.")
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise InvalidInput(f"Unknown option {sorted(unknown)[0]!r}; the options are {', '.join(DEFAULTS)}.")
    cfg = {**DEFAULTS, **options}
    size = _scalar("disk_gib", disk_gib, positive=True) * 1024
    rate = _scalar("copy_mibps", copy_mibps, positive=True)
    writes = _scalar("write_mibps", write_mibps, minimum=0)
    budget = _scalar("switchover_s", cfg["switchover_s"], positive=True)
    max_passes = int(_scalar("max_passes", cfg["max_passes"], positive=True, integer=True))
    max_switch = _scalar("max_switchover_s", cfg["max_switchover_s"], positive=True)

    if method == "mirror":
        duration = size / rate
        mirrored = writes * duration / 2  # writes behind the copier: on average half the disk is copied
        rows = [{"pass": 1, "phase": "copy + mirror", "start_s": 0.0, "duration_s": duration,
                 "copied_mib": size, "mirrored_mib": mirrored, "dirtied_mib": 0.0}]
        switch, left = 0.0, 0.0  # nothing left to copy: source and destination are already equal
    else:
        rows, start, todo = [], 0.0, size
        while True:
            duration = todo / rate
            dirtied = min(writes * duration, size)
            rows.append({"pass": len(rows) + 1, "phase": "copy", "start_s": start, "duration_s": duration,
                         "copied_mib": todo, "mirrored_mib": 0.0, "dirtied_mib": dirtied})
            start += duration
            todo = dirtied
            if todo / rate <= budget or len(rows) >= max_passes:
                break
        left = todo
        switch = left / rate
        if left > 0:
            rows.append({"pass": len(rows) + 1, "phase": "switchover (VM stunned)", "start_s": start,
                         "duration_s": switch, "copied_mib": left, "mirrored_mib": 0.0, "dirtied_mib": 0.0})
    passes = pd.DataFrame(rows, columns=PASS_COLUMNS)
    copy_passes = passes[passes["phase"] != "switchover (VM stunned)"]
    if switch > max_switch:
        outcome = "failed"
    elif switch > budget:
        outcome = "long switchover"
    else:
        outcome = "converged"
    summary = {
        "method": method,
        "outcome": outcome,
        "converged": outcome == "converged",
        "passes": len(copy_passes),
        "copy_s": float(copy_passes["duration_s"].sum()),
        "switchover_s": switch,
        "total_s": float(passes["duration_s"].sum()),
        "copied_mib": float(passes["copied_mib"].sum()),
        "mirrored_mib": float(passes["mirrored_mib"].sum()),
        "recopied_mib": float(passes["copied_mib"].sum() - size),
        "written_to_destination_mib": float(passes["copied_mib"].sum() + passes["mirrored_mib"].sum()),
    }
    return Copy(passes, summary)


def compare(disk_gib, copy_mibps, write_mibps, **options) -> pd.DataFrame:
    """Both designs side by side: one row per method with the summary columns."""
    return pd.DataFrame([copy(disk_gib, copy_mibps, write_mibps, method=m, **options).summary for m in METHODS])


def remaining(result: Copy, points_per_pass: int = 20) -> pd.DataFrame:
    """Data still to copy over time (``t_s``, ``remaining_mib``), for charts."""
    rows = []
    for p in result.passes.itertuples():
        for i in range(points_per_pass + 1):
            f = i / points_per_pass
            left_after = 0.0 if p.phase == "copy + mirror" else p.dirtied_mib * f
            rows.append({"t_s": p.start_s + f * p.duration_s,
                         "remaining_mib": p.copied_mib * (1 - f) + left_after, "phase": p.phase})
    return pd.DataFrame(rows)
