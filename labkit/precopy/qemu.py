"""QEMU's pre-copy loop, step by step in its own 100 ms windows.

The round model (:mod:`labkit.precopy.model`) is the textbook one: a round
sends everything dirty, then the bitmap is read again. QEMU 10 does not work
in whole rounds, and on a small guest the difference shows. Read from QEMU's
``migration/migration.c`` and ``migration/ram.c``:

* **Windows.** The migration thread sends at most ``max-bandwidth / 10``
  bytes per 100 ms window (``BUFFER_DELAY``), then sleeps to the window's end.
* **When the bitmap is read.** Not at the end of a pass: when the pages still
  marked dirty (``pending``, counted as whole pages, zero or not) fall below
  ``threshold = bandwidth × downtime-limit``, QEMU syncs the dirty bitmap
  (``ram_state_pending_exact``). If what is then pending is still below the
  threshold, it stops the VM and sends the rest (``migration_completion``).
  Otherwise it goes on sending, and checks again every window.
* **What a sync adds.** Pages written since the last sync that were not
  already marked dirty; a page re-written before it was sent counts once.
* **Zero pages** cost a 9-byte header each (``save_zero_page``): round 1
  sends only the guest's non-zero memory at the link's rate. QEMU walks
  memory in address order, and a freshly booted small guest keeps its
  never-used (zero) memory together at the top (seen in the measured
  samples: the zero-page count jumps near the end of round 1), so the model
  sends the non-zero pages first. Until the walk reaches them, the zero pages
  still count as pending, which is why round 1 sends all the non-zero memory.
  Where the hot set lies in that walk (``hot_position``) decides how long its
  pages have been sent, and so how much of it is dirty again, when round 1 ends.
* **The stop-and-copy is not rate limited** (``migration_switchover_start``
  lifts the limit), so the downtime is the rest at loopback speed plus a fixed
  cost, both measured, not the pending bytes at ``max-bandwidth``.
* **Auto-converge** (``migration_trigger_throttle``): on a sync at least 1 s
  after the last such check, if the period dirtied more than 50 % of the bytes
  it sent, a counter goes up; at 2 the vCPUs are throttled to 20 %, then 10
  points more each time, at most 99 %. A throttled vCPU sleeps
  ``pct / (1 − pct)`` × 10 ms per 10 ms slice, so a CPU-bound writer slows to
  ``(1 − pct)`` of its rate; one that sleeps between writes does not.
  With auto-converge on, QEMU also syncs every 5 s while the sync count
  stands still (``cpu_throttle_dirty_sync_timer``).

Writes land on the *hot set* only, at random or in sequence. The model keeps
counts per class (hot, other non-zero, zero), not pages; sent hot pages are
followed by where the writer is. A sequential writer re-writes each hot page
exactly once per pass over the hot set, when its cursor comes round; a random
one hits each clean page at a constant rate (the page-class model of
:mod:`labkit.precopy.model`).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from . import params as P

PAGE = P.PAGE_BYTES
MIB = 2**20
WINDOW_S = 0.1                  # BUFFER_DELAY
ZERO_PAGE_WIRE_BYTES = 9        # be64 header + one byte (save_zero_page)
NORMAL_PAGE_WIRE_BYTES = PAGE + 8
PERIOD_S = 1.0                  # migration_bitmap_sync: rates and the throttle trigger, at most once a second
SYNC_TIMER_S = 5.0              # CPU_THROTTLE_DIRTY_SYNC_TIMESLICE_MS
PHASE_BINS = 256                # slices of a sequential writer's pass over the hot set

DEFAULTS = dict(
    pattern="random", spin=False, downtime_limit_ms=300.0, auto_converge=False,
    switchover_mibps=1500.0, switchover_overhead_ms=2.0, setup_ms=1.0, timeout_s=60.0,
    throttle_initial_pct=20.0, throttle_step_pct=10.0, throttle_max_pct=99.0, throttle_trigger=0.5,
    throttle_periods=2,
    background_rate=0.0,  # pages/s the guest's kernel writes at random over the rest of its non-zero memory
    hot_position=None,   # where round 1 meets the hot set among the non-zero pages (0 first, 1 last); None: spread
)


@dataclasses.dataclass(frozen=True)
class QemuRun:
    """A modelled QEMU migration: ``windows`` (one row per 100 ms), ``syncs`` and ``summary``."""

    windows: pd.DataFrame
    syncs: pd.DataFrame
    summary: dict

    def __getitem__(self, key):
        return self.summary[key]

    def __str__(self) -> str:
        s = self.summary
        if s["outcome"] != "completed":
            return f"{s['outcome']} after {s['total_s']:.1f} s, {s['syncs']} syncs, throttle {s['max_throttle_pct']:.0f} %"
        return (f"completed: total {s['total_s'] * 1000:,.0f} ms, downtime {s['downtime_s'] * 1000:.0f} ms, "
                f"{s['syncs']} syncs, {s['sent_mib']:.0f} MiB sent, throttle up to {s['max_throttle_pct']:.0f} %")

    __repr__ = __str__


def _crossed(start: float, end: float, hot: float, bins: int) -> np.ndarray:
    """Share of each phase bin of the hot set that a cursor moving from ``start`` to ``end`` passes."""
    width = hot / bins
    lo = np.arange(bins) * width

    def covered(x):   # length of each bin's phases within [0, x)
        return np.floor(x / hot) * width + np.clip(np.mod(x, hot) - lo, 0.0, width)

    return np.minimum((covered(end) - covered(start)) / width, 1.0)


def simulate(memory_mib, nonzero_mib, hot_mib, dirty_rate, bandwidth_mibps, **options) -> QemuRun:
    """Model one QEMU migration.

    ``dirty_rate`` is in pages/s written to the hot set; ``nonzero_mib`` is
    the guest's memory that is not all zeros when the migration starts (the
    rest costs a header a page); ``bandwidth_mibps`` is the rate the link
    really carries under ``max-bandwidth``.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise P.InvalidInput(f"unknown option(s): {', '.join(sorted(unknown))}.", fix=f"use some of: {', '.join(DEFAULTS)}")
    o = {**DEFAULTS, **options}
    memory = P.scalar("memory_mib", memory_mib, positive=True) * P.PAGES_PER_MIB
    nonzero = P.scalar("nonzero_mib", nonzero_mib, minimum=0, maximum=memory_mib) * P.PAGES_PER_MIB
    hot = P.scalar("hot_mib", hot_mib, positive=True, maximum=nonzero_mib) * P.PAGES_PER_MIB
    rate = P.scalar("dirty_rate", dirty_rate, minimum=0)
    bw = P.scalar("bandwidth_mibps", bandwidth_mibps, positive=True) * MIB      # bytes/s
    limit_s = P.scalar("downtime_limit_ms", o["downtime_limit_ms"], positive=True) / 1000
    fast = P.scalar("switchover_mibps", o["switchover_mibps"], positive=True) * MIB
    overhead_s = P.scalar("switchover_overhead_ms", o["switchover_overhead_ms"], minimum=0) / 1000
    timeout = P.scalar("timeout_s", o["timeout_s"], positive=True)
    if o["pattern"] not in ("random", "seq"):
        raise P.InvalidInput(f"pattern must be 'random' or 'seq', not {o['pattern']!r}.")

    threshold = bw * limit_s                  # bytes; QEMU: measured bandwidth × downtime-limit
    hot_position = o["hot_position"]
    if hot_position is not None:
        hot_position = P.scalar("hot_position", hot_position, minimum=0, maximum=1)
    below = (nonzero - hot) * (0.5 if hot_position is None else hot_position)
    cold = {"below": below, "above": nonzero - hot - below}    # non-zero pages outside the hot set
    pend = {"zero": memory - nonzero}
    cold_total = nonzero - hot
    cold_clean = cold_logged = 0.0                              # the same two states, for the cold pages
    background = P.scalar("background_rate", o["background_rate"], minimum=0)
    first_pass = True                                           # until the first sync after setup
    # The hot set, in bins. A sequential writer's cursor passes every hot page once per pass, so a bin is
    # a slice of the pass (its phase): the cursor re-writes a bin's pages exactly when it crosses it. A
    # random writer has no phase: one bin, and each clean page is hit at a constant rate.
    bins = PHASE_BINS if o["pattern"] == "seq" else 1
    hot_pend = np.full(bins, hot / bins)       # marked dirty, not sent
    hot_logged = np.zeros(bins)                # written since the last sync, not pending: the next sync adds them
    hot_clean = np.zeros(bins)                 # sent, and not written since
    cursor = 0.0                               # the sequential writer's position, in pages written
    clock = P.scalar("setup_ms", o["setup_ms"], minimum=0) / 1000
    sent = 0.0                                 # bytes
    syncs, throttle, high = 1, 0.0, 0          # the setup sync counts as one
    period_start, period_dirty, period_sent = clock, 0.0, 0.0
    last_sync_clock, last_timer = clock, clock
    windows, sync_rows = [], [{"sync": 1, "t_s": clock, "pending_mib": memory / P.PAGES_PER_MIB, "throttle_pct": 0.0}]

    def pending_pages():
        return hot_pend.sum() + cold["below"] + cold["above"] + pend["zero"]

    def sync():
        nonlocal hot_pend, hot_logged, syncs, throttle, high, period_start, period_dirty, period_sent
        nonlocal last_sync_clock, first_pass, cold_logged
        first_pass = False
        hot_pend = hot_pend + hot_logged
        cold["above"] += cold_logged
        period_dirty += hot_logged.sum() + cold_logged
        hot_logged = np.zeros(bins)
        cold_logged = 0.0
        syncs += 1
        last_sync_clock = clock
        if o["auto_converge"] and clock - period_start >= PERIOD_S:
            if period_dirty * PAGE > o["throttle_trigger"] * period_sent:
                high += 1
                if high >= o["throttle_periods"]:
                    high = 0
                    throttle = (o["throttle_initial_pct"] if throttle == 0
                                else min(throttle + o["throttle_step_pct"], o["throttle_max_pct"]))
            period_start, period_dirty, period_sent = clock, 0.0, 0.0
        sync_rows.append({"sync": syncs, "t_s": clock, "pending_mib": pending_pages() / P.PAGES_PER_MIB,
                          "throttle_pct": throttle})

    outcome = "did not converge"
    downtime = last_bytes = 0.0
    while clock < timeout:
        if pending_pages() * PAGE < threshold:          # the estimate is below: read the bitmap
            sync()
            if pending_pages() * PAGE < threshold:
                outcome = "completed"
                break
        elif o["auto_converge"] and clock - last_timer >= SYNC_TIMER_S:
            last_timer = clock
            if clock - last_sync_clock >= SYNC_TIMER_S:
                sync()
        # send one window's worth: the non-zero pages first (hot and cold mixed), then the zero pages,
        # which a freshly booted guest keeps together at the top of its memory
        budget = bw * WINDOW_S
        used = 0.0
        if first_pass and hot_position is not None:
            # round 1 walks memory in order: the cold pages below the hot set, the hot set, the rest
            room = budget / NORMAL_PAGE_WIRE_BYTES
            for part in ("below", "hot", "above"):
                left = hot_pend.sum() if part == "hot" else cold[part]
                pages = min(left, room)
                if pages <= 0:
                    continue
                if part == "hot":
                    share = pages / left
                    hot_clean = hot_clean + hot_pend * share
                    hot_pend = hot_pend * (1 - share)
                else:
                    cold[part] -= pages
                    cold_clean += pages
                room -= pages
                used += pages * NORMAL_PAGE_WIRE_BYTES
        else:
            nonzero_left = hot_pend.sum() + cold["below"] + cold["above"]
            if nonzero_left > 0:
                pages = min(nonzero_left, budget / NORMAL_PAGE_WIRE_BYTES)
                share = pages / nonzero_left       # memory order is unrelated to the writer's: every bin alike
                hot_clean = hot_clean + hot_pend * share
                hot_pend = hot_pend * (1 - share)
                cold_clean += (cold["below"] + cold["above"]) * share
                cold["below"] -= cold["below"] * share
                cold["above"] -= cold["above"] * share
                used += pages * NORMAL_PAGE_WIRE_BYTES
        if pend["zero"] > 0 and used < budget:
            pages = min(pend["zero"], (budget - used) / ZERO_PAGE_WIRE_BYTES)
            pend["zero"] -= pages
            used += pages * ZERO_PAGE_WIRE_BYTES
        step = max(used / bw, 1e-3) if used else WINDOW_S
        sent += used
        period_sent += used
        # the guest writes meanwhile
        writes = rate * step * ((1 - throttle / 100) if o["spin"] else 1.0)
        if background > 0 and cold_clean > 0 and cold_total > 0:
            fresh = cold_clean * -np.expm1(-background * step / cold_total)
            cold_clean -= fresh
            cold_logged += fresh
        if writes > 0:
            if bins == 1:
                hit = -np.expm1(-writes / hot)                     # random: share of clean pages written
            else:
                hit = _crossed(cursor, cursor + writes, hot, bins)  # sequential: share of each bin passed
                cursor += writes
            fresh = hot_clean * hit
            hot_clean = hot_clean - fresh
            hot_logged = hot_logged + fresh
        clock += step
        windows.append({"t_s": clock, "transferred_mib": sent / MIB, "pending_mib": pending_pages() / P.PAGES_PER_MIB,
                        "throttle_pct": throttle, "syncs": syncs})

    if outcome == "completed":
        syncs += 1                                       # ram_save_complete's final sync
        last_bytes = (hot_pend.sum() + cold["below"] + cold["above"]) * NORMAL_PAGE_WIRE_BYTES + pend["zero"] * ZERO_PAGE_WIRE_BYTES
        downtime = overhead_s + last_bytes / fast
        sent += last_bytes
    summary = {"outcome": outcome, "total_s": clock + downtime, "precopy_s": clock, "downtime_s": downtime,
               "syncs": syncs, "sent_mib": sent / MIB, "downtime_mib": last_bytes / MIB, "max_throttle_pct": max([0.0] + [w["throttle_pct"] for w in windows])}
    return QemuRun(pd.DataFrame(windows), pd.DataFrame(sync_rows), summary)
