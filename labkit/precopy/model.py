"""Iterative pre-copy, as a pure and vectorised model.

What it models
--------------
* **Round 1** sends every page of the VM's memory while the VM keeps running.
  Pages the guest never wrote (``zero_mib``) cost only a short header each,
  as in QEMU (see ``params.ZERO_PAGE_BYTES``); vMotion's handling of zero
  pages is not published, so the default is none.
* **Each later round** re-sends the pages the guest dirtied during the round
  before, as the dirty bitmap is read at the start of a round.
* **Dirtying** follows a writable working set. A *hot set* of ``hot_set_mib``
  takes the share ``hot_share`` of the guest's writes; the rest of memory (the
  *cold* pages) takes what is left. Within a class each page is written at
  random (a Poisson process), so over a round of ``T`` seconds a class of
  ``n`` pages written at ``w`` pages/s gets ``n·(1 − e^(−w·T/n))`` distinct
  dirty pages: it grows like ``w·T`` at first and saturates at ``n``. With no
  hot set (``hot_set_mib=None``) every write lands on a clean page, the
  textbook constant-rate limit, and round ``i`` sends ``M·λ^(i−1)`` with
  ``λ`` = dirty rate / send rate (capped at ``M``: no more pages can be dirty
  than the VM has).
* **The stop rule** ends pre-copy when the pages left can be sent within the
  switchover budget (the VM is then stunned and the rest copied: the
  *downtime*), or when a round limit or a data limit is reached. The budget
  is vMotion's 0.5 s switchover time goal (Broadcom KB 436882). vMotion's
  round and data limits are not published: the defaults are those of Xen's
  ``tools/libxc/xc_linux_save.c`` (``DEF_MAX_ITERS`` 29, ``DEF_MAX_FACTOR``
  3), so a result stopped by them says what Xen would do, not vMotion.
* **The send rate** is ``nics`` × ``link_gbps`` × ``efficiency``: every
  vMotion VMkernel adapter fills its own uplink, as since vSphere 7.0 Update
  2 (see ``params.bandwidth_gbps``).
* **SDPS-style throttling** slows the vCPUs, and with them the writes, when a
  round re-dirties more than half of what it sent in two rounds. vMotion's
  SDPS (Stun During Page Send, part of vMotion since vSphere 5.0) does this by
  putting vCPUs to sleep for a few ms at a time; its exact schedule is not
  published, so the model uses QEMU's auto-converge one (defaults in QEMU's
  ``migration/options.c``): 20 % first, then 10 % steps, at most 99 %.
  With SDPS on, pre-copy gives up at the round or data limit only once the
  throttle is at its maximum.
* **When pre-copy stops without fitting the budget**, the switchover takes as
  long as the rest needs. If that exceeds ``max_switchover_s``
  (``vmotion.maxSwitchoverSeconds``, default 100 s, VMware KB 2141355), the
  migration fails and the VM keeps running on the source.

Why it is fast
--------------
Pages of one class are interchangeable, so the model tracks two numbers per
class instead of one bit per page: its cost does not depend on the VM's size.
Every input may be an array; all configurations run together, round by round.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from . import params as P

#: Defaults and where they come from.
DEFAULTS = dict(
    hot_set_mib=None,        # no working set: every write dirties a clean page
    zero_mib=0.0,            # memory never written (all-zero pages), cheap in round 1
    hot_share=1.0,           # all writes go to the hot set
    link_gbps=10.0,          # one 10 GbE uplink (the vSphere 7.0 docs recommend at least 10 GbE)
    nics=1,                  # one vMotion VMkernel adapter, with an uplink of its own that it fills
    efficiency=P.EFFICIENCY,  # TCP/IP over Ethernet framing, see params.EFFICIENCY
    switchover_s=0.5,        # vMotion's switchover time goal, 0.5 s (Broadcom KB 436882)
    max_switchover_s=100.0,  # vmotion.maxSwitchoverSeconds default (VMware KB 2141355)
    max_rounds=29,           # Xen's DEF_MAX_ITERS (xc_linux_save.c); vMotion's limit is not published
    max_data_factor=3.0,     # Xen's DEF_MAX_FACTOR: stop after sending 3x the VM's memory; vMotion's: not published
    sdps=True,               # SDPS, part of vMotion since vSphere 5.0; it acts only when needed
    throttle_initial_pct=20.0,  # QEMU cpu-throttle-initial
    throttle_step_pct=10.0,     # QEMU cpu-throttle-increment
    throttle_max_pct=99.0,      # QEMU max-cpu-throttle
    throttle_trigger=0.5,       # QEMU throttle-trigger-threshold: dirtied > 50 % of sent ...
    throttle_rounds=2,          # ... in two rounds
)

OUTCOMES = ("converged", "long switchover", "failed")
STOP_REASONS = ("", "fits the switchover budget", "round limit", "data limit")
ROUND_COLUMNS = ["round", "phase", "start_s", "duration_s", "sent_pages", "dirtied_pages", "remaining_pages",
                 "sent_mib", "remaining_mib", "throttle_pct"]
SUMMARY_COLUMNS = ["outcome", "converged", "stop_reason", "rounds", "precopy_s", "downtime_s", "total_s",
                   "sent_gib", "max_throttle_pct", "bandwidth_gbps"]


@dataclasses.dataclass(frozen=True)
class Migration:
    """One simulated migration: ``rounds`` (a DataFrame, one row per round) and ``summary``."""

    rounds: pd.DataFrame
    summary: dict

    def __getitem__(self, key):
        return self.summary[key]

    def __str__(self) -> str:
        s = self.summary
        text = (f"{s['outcome']} ({s['stop_reason']}) after {s['rounds']} round(s): "
                f"pre-copy {s['precopy_s']:.2f} s, downtime {s['downtime_s'] * 1000:.0f} ms, "
                f"total {s['total_s']:.2f} s, {s['sent_gib']:.2f} GiB sent")
        if s["max_throttle_pct"]:
            text += f", vCPUs throttled up to {s['max_throttle_pct']:.0f} %"
        return text

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def simulate(memory_mib, dirty_rate_mibps, **options) -> Migration:
    """Migrate one VM of ``memory_mib`` whose guest dirties ``dirty_rate_mibps``; see the module doc.

    Options (all optional, defaults in :data:`DEFAULTS`): ``hot_set_mib``,
    ``hot_share``, ``link_gbps``, ``nics``, ``efficiency``, ``switchover_s``,
    ``max_switchover_s``, ``max_rounds``, ``max_data_factor``, ``sdps`` and
    the ``throttle_*`` settings.
    """
    cfg = _configure(memory_mib=memory_mib, dirty_rate_mibps=dirty_rate_mibps, **options)
    if cfg["memory_mib"].size != 1:
        raise P.InvalidInput("simulate() takes one configuration; use sweep() for arrays of them.")
    history: list[dict] = []
    result = _run(cfg, history)
    summary = {k: _scalar(v[0]) for k, v in result.items()}
    rounds = pd.DataFrame(history, columns=ROUND_COLUMNS)
    return Migration(rounds, summary)


def sweep(**inputs) -> pd.DataFrame:
    """Every combination given as equal-length arrays (or scalars), run together.

    Returns one row per configuration: the inputs, then the summary columns.
    """
    cfg = _configure(**inputs)
    result = _run(cfg, None)
    table = pd.DataFrame({k: np.broadcast_to(v, cfg["memory_mib"].shape) for k, v in cfg.items()
                          if k in inputs})
    for k, v in result.items():
        table[k] = v
    return table


def grid(**axes) -> dict[str, np.ndarray]:
    """The cartesian product of the given axes, as flat arrays ready for :func:`sweep`."""
    names = list(axes)
    mesh = np.meshgrid(*[np.atleast_1d(np.asarray(axes[n])) for n in names], indexing="ij")
    return {n: m.ravel() for n, m in zip(names, mesh)}


# -- the model ----------------------------------------------------------------
def _configure(**given) -> dict[str, np.ndarray]:
    unknown = set(given) - set(DEFAULTS) - {"memory_mib", "dirty_rate_mibps"}
    if unknown:
        raise P.InvalidInput(f"unknown option(s): {', '.join(sorted(unknown))}.",
                             fix=f"use some of: memory_mib, dirty_rate_mibps, {', '.join(DEFAULTS)}")
    for needed in ("memory_mib", "dirty_rate_mibps"):
        if needed not in given:
            raise P.InvalidInput(f"{needed} is missing.")
    raw = {**DEFAULTS, **given}
    cfg = {
        "memory_mib": P.number("memory_mib", raw["memory_mib"], positive=True),
        "dirty_rate_mibps": P.number("dirty_rate_mibps", raw["dirty_rate_mibps"], minimum=0),
        "hot_set_mib": P.number("hot_set_mib", _unbounded_as_inf(raw["hot_set_mib"]), positive=True,
                                allow_inf=True),
        "zero_mib": P.number("zero_mib", raw["zero_mib"], minimum=0),
        "hot_share": P.number("hot_share", raw["hot_share"], minimum=0, maximum=1),
        "link_gbps": P.number("link_gbps", raw["link_gbps"], positive=True),
        "nics": P.number("nics", raw["nics"], positive=True, integer=True),
        "efficiency": P.number("efficiency", raw["efficiency"], positive=True, maximum=1),
        "switchover_s": P.number("switchover_s", raw["switchover_s"], positive=True),
        "max_switchover_s": P.number("max_switchover_s", raw["max_switchover_s"], positive=True),
        "max_rounds": P.number("max_rounds", raw["max_rounds"], minimum=1, maximum=10_000, integer=True),
        "max_data_factor": P.number("max_data_factor", raw["max_data_factor"], minimum=1),
        "sdps": _flag("sdps", raw["sdps"]),
        "throttle_initial_pct": P.number("throttle_initial_pct", raw["throttle_initial_pct"], minimum=0, maximum=100),
        "throttle_step_pct": P.number("throttle_step_pct", raw["throttle_step_pct"], minimum=0, maximum=100),
        "throttle_max_pct": P.number("throttle_max_pct", raw["throttle_max_pct"], minimum=0, maximum=100),
        "throttle_trigger": P.number("throttle_trigger", raw["throttle_trigger"], minimum=0),
        "throttle_rounds": P.number("throttle_rounds", raw["throttle_rounds"], minimum=1, integer=True),
    }
    try:
        shaped = np.broadcast_arrays(*cfg.values())
    except ValueError:
        sizes = {k: v.size for k, v in cfg.items() if v.size != 1}
        raise P.InvalidInput(f"the arrays given have different lengths: {sizes}.",
                             fix="give every array the same length, or use precopy.grid()") from None
    cfg = {k: np.atleast_1d(v).ravel().copy() for k, v in zip(cfg, shaped)}
    too_big = np.isfinite(cfg["hot_set_mib"]) & (cfg["hot_set_mib"] > cfg["memory_mib"])
    if too_big.any():
        raise P.InvalidInput(f"hot_set_mib ({cfg['hot_set_mib'][too_big][0]:g}) cannot exceed memory_mib "
                             f"({cfg['memory_mib'][too_big][0]:g}).")
    if (cfg["zero_mib"] > cfg["memory_mib"]).any():
        raise P.InvalidInput("zero_mib cannot exceed memory_mib.")
    return cfg


def _unbounded_as_inf(value):
    """None (or NaN in an array) means no working set: an infinite hot set."""
    if value is None:
        return np.inf
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        items = [np.inf if (v is None or (isinstance(v, float) and np.isnan(v))) else v
                 for v in np.asarray(value, dtype=object).ravel()]
        try:
            return np.asarray(items, dtype=float)
        except (TypeError, ValueError):
            return items
    return value


def _flag(name, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind != "b" and not (arr.dtype.kind in "iu" and set(np.unique(arr)) <= {0, 1}):
        raise P.InvalidInput(f"{name} must be True or False, not {value!r}.")
    return arr.astype(float)


def page_classes(cfg: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sizes (pages) and write rates (pages/s) of the hot and cold classes, shape (n, 2).

    An unbounded hot set has infinite size: its writes never land twice on a page.
    """
    memory = P.mib_to_pages(cfg["memory_mib"])
    rate = P.mib_to_pages(cfg["dirty_rate_mibps"])
    hot = P.mib_to_pages(cfg["hot_set_mib"])
    bounded = np.isfinite(hot)
    cold = np.where(bounded, memory - np.where(bounded, hot, 0), 0.0)
    share = np.where(cold > 0, cfg["hot_share"], 1.0)
    sizes = np.stack([hot, cold], axis=1)
    rates = np.stack([share * rate, (1 - share) * rate], axis=1)
    return sizes, rates


def unique_dirtied(sizes: np.ndarray, rates: np.ndarray, seconds) -> np.ndarray:
    """Distinct pages dirtied in ``seconds`` per class: ``n·(1 − e^(−w·T/n))``, or ``w·T`` when n is infinite."""
    seconds = np.asarray(seconds, dtype=float)
    writes = rates * seconds
    with np.errstate(divide="ignore", invalid="ignore"):
        saturating = sizes * -np.expm1(-writes / sizes)
    return np.where(np.isinf(sizes), writes, np.where(sizes > 0, saturating, 0.0))


def dirty_curve(seconds, **workload) -> np.ndarray:
    """Distinct MiB dirtied after each of ``seconds``, starting from clean memory (no throttling)."""
    cfg = _configure(**workload)
    sizes, rates = page_classes(cfg)
    t = np.asarray(seconds, dtype=float)
    return P.pages_to_mib(unique_dirtied(sizes[0], rates[0], t[..., None]).sum(-1))


def _run(cfg: dict[str, np.ndarray], history: list | None) -> dict[str, np.ndarray]:
    """Run every configuration round by round; append per-round rows to ``history`` if given (n = 1)."""
    n = cfg["memory_mib"].size
    send_rate = P.gbps_to_pages_per_s(cfg["link_gbps"] * cfg["nics"] * cfg["efficiency"])
    memory = P.mib_to_pages(cfg["memory_mib"])
    sizes, rates = page_classes(cfg)
    budget_pages = send_rate * cfg["switchover_s"]
    data_limit = memory * cfg["max_data_factor"]
    sdps = cfg["sdps"] > 0

    zero = P.mib_to_pages(cfg["zero_mib"])
    to_send = memory - zero * (1 - P.ZERO_PAGE_BYTES / P.PAGE_BYTES)  # round 1, in full-page equivalents
    clock = np.zeros(n)
    sent = np.zeros(n)
    rounds = np.zeros(n, dtype=int)
    throttle = np.zeros(n)          # percent of vCPU time taken away
    max_throttle = np.zeros(n)
    high = np.zeros(n, dtype=int)   # rounds that re-dirtied more than the trigger share
    stop = np.zeros(n, dtype=int)   # index into STOP_REASONS; 0 = still copying
    remaining = np.zeros(n)

    steps = np.ceil((cfg["throttle_max_pct"] - cfg["throttle_initial_pct"]) / np.maximum(cfg["throttle_step_pct"], 1e-9))
    throttle_rounds = np.where(sdps, cfg["throttle_rounds"] * (2 + np.maximum(steps, 0)), 0)
    for _ in range(int((cfg["max_rounds"] + throttle_rounds).max())):
        active = stop == 0
        if not active.any():
            break
        duration = to_send / send_rate
        dirtied = unique_dirtied(sizes, rates * (1 - throttle / 100)[:, None], duration[:, None]).sum(axis=1)
        dirtied = np.minimum(dirtied, memory)  # no more pages can be dirty than the VM has
        if history is not None:
            history.append(_row(int(rounds[0]) + 1, "pre-copy", clock[0], duration[0], to_send[0], dirtied[0],
                                throttle[0]))
        clock = np.where(active, clock + duration, clock)
        sent = np.where(active, sent + to_send, sent)
        rounds = np.where(active, rounds + 1, rounds)
        remaining = np.where(active, dirtied, remaining)

        # with SDPS on, pre-copy gives up at a limit only once the throttle is at its maximum
        give_up = ~sdps | (throttle >= cfg["throttle_max_pct"])
        reason = np.select([remaining <= budget_pages, give_up & (rounds >= cfg["max_rounds"]),
                            give_up & (sent >= data_limit)], [1, 2, 3], default=0)
        stop = np.where(active, reason, stop)

        # SDPS: count the rounds that re-dirtied too much; throttle harder every `throttle_rounds` of them
        still = active & (stop == 0) & sdps
        high = np.where(still & (dirtied > cfg["throttle_trigger"] * to_send), high + 1, high)
        bump = still & (high >= cfg["throttle_rounds"])
        stepped = np.where(throttle == 0, cfg["throttle_initial_pct"], throttle + cfg["throttle_step_pct"])
        throttle = np.where(bump, np.minimum(stepped, cfg["throttle_max_pct"]), throttle)
        high = np.where(bump, 0, high)
        max_throttle = np.maximum(max_throttle, throttle)
        to_send = np.where(stop == 0, remaining, to_send)

    downtime = remaining / send_rate
    outcome = np.where(stop == 1, 0, np.where(downtime <= cfg["max_switchover_s"], 1, 2))
    failed = outcome == 2
    downtime = np.where(failed, 0.0, downtime)
    if history is not None and not failed[0]:
        history.append(_row(int(rounds[0]) + 1, "switchover", clock[0], downtime[0], remaining[0], 0.0,
                            throttle[0], left=0.0))
    return {
        "outcome": np.asarray(OUTCOMES, dtype=object)[outcome],
        "converged": outcome == 0,
        "stop_reason": np.asarray(STOP_REASONS, dtype=object)[stop],
        "rounds": rounds,
        "precopy_s": clock,
        "downtime_s": downtime,
        "total_s": clock + downtime,
        "sent_gib": P.pages_to_mib(sent + np.where(failed, 0.0, remaining)) / 1024,
        "max_throttle_pct": max_throttle,
        "bandwidth_gbps": P.pages_per_s_to_gbps(send_rate),
    }


def _row(number, phase, start, duration, sent, dirtied, throttle, left=None) -> dict:
    left = dirtied if left is None else left
    return {"round": number, "phase": phase, "start_s": float(start), "duration_s": float(duration),
            "sent_pages": float(sent), "dirtied_pages": float(dirtied), "remaining_pages": float(left),
            "sent_mib": float(P.pages_to_mib(sent)), "remaining_mib": float(P.pages_to_mib(left)),
            "throttle_pct": float(throttle)}


def _scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value
