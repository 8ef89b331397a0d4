"""A straightforward, page-by-page version of the pre-copy model, for checking and benchmarking.

It keeps one dirty bit per 4 KiB page and draws each page's writes at random,
where :mod:`labkit.precopy.model` keeps two numbers per page class. Both
follow the same rules; averaged over draws they agree, and the benchmark
(``benchmarks/precopy.py``) shows what tracking classes instead of pages buys.
Only bounded working sets can be run page by page.
"""
from __future__ import annotations

import numpy as np

from . import model
from . import params as P


def simulate_pages(memory_mib, dirty_rate_mibps, *, seed: int = 0, **options) -> dict:
    """One migration page by page; returns the same summary keys as ``model.simulate``."""
    cfg = {k: v[0] for k, v in model._configure(memory_mib=memory_mib, dirty_rate_mibps=dirty_rate_mibps,
                                                 **options).items()}
    if not np.isfinite(cfg["hot_set_mib"]):
        raise P.InvalidInput("the page-by-page reference needs a bounded hot_set_mib.")
    rng = np.random.default_rng(seed)
    pages = int(round(P.mib_to_pages(cfg["memory_mib"])))
    hot = int(round(P.mib_to_pages(cfg["hot_set_mib"])))
    writes = float(P.mib_to_pages(cfg["dirty_rate_mibps"]))
    share = cfg["hot_share"] if hot < pages else 1.0
    # each page's own write rate (writes per second)
    per_page = np.empty(pages)
    per_page[:hot] = share * writes / hot
    per_page[hot:] = (1 - share) * writes / max(pages - hot, 1)

    link = float(P.gbps_to_pages_per_s(cfg["link_gbps"] * cfg["nics"] * cfg["efficiency"]))
    dirty = np.ones(pages, dtype=bool)  # round 1 sends everything
    elapsed = total_sent = 0.0
    throttle = peak = 0.0
    strikes = done = 0
    reason = ""
    max_steps = cfg["throttle_rounds"] * (2 + max(np.ceil((cfg["throttle_max_pct"] - cfg["throttle_initial_pct"])
                                                          / max(cfg["throttle_step_pct"], 1e-9)), 0))
    while True:
        batch = int(dirty.sum())
        seconds = batch / link
        # the guest writes while the batch is sent; a page is dirty if it was written at least once
        p_written = -np.expm1(-per_page * (1 - throttle / 100) * seconds)
        dirty = rng.random(pages) < p_written
        left = int(dirty.sum())
        elapsed += seconds
        total_sent += batch
        done += 1
        may_stop = not cfg["sdps"] or throttle >= cfg["throttle_max_pct"]
        if left <= link * cfg["switchover_s"]:
            reason = "fits the switchover budget"
        elif may_stop and done >= cfg["max_rounds"]:
            reason = "round limit"
        elif may_stop and total_sent >= pages * cfg["max_data_factor"]:
            reason = "data limit"
        if reason or done >= cfg["max_rounds"] + (max_steps if cfg["sdps"] else 0):
            break
        if cfg["sdps"] and left > cfg["throttle_trigger"] * batch:
            strikes += 1
            if strikes >= cfg["throttle_rounds"]:
                strikes = 0
                throttle = cfg["throttle_initial_pct"] if throttle == 0 else throttle + cfg["throttle_step_pct"]
                throttle = min(throttle, cfg["throttle_max_pct"])
                peak = float(max(peak, throttle))

    stun = left / link
    if reason == "fits the switchover budget":
        outcome = "converged"
    elif stun <= cfg["max_switchover_s"]:
        outcome = "long switchover"
    else:
        outcome, stun, left = "failed", 0.0, 0
    return {"outcome": outcome, "converged": outcome == "converged", "stop_reason": reason, "rounds": done,
            "precopy_s": elapsed, "downtime_s": stun, "total_s": elapsed + stun,
            "sent_gib": (total_sent + left) / P.PAGES_PER_MIB / 1024, "max_throttle_pct": peak,
            "bandwidth_gbps": float(P.pages_per_s_to_gbps(link))}
