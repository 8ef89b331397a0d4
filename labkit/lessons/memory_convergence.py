"""Exercises of notebooks/03-memory-convergence.ipynb.

The truth comes from the lab world (the VM's configured memory) and the
pre-copy model, never from a stored answer.
"""
from __future__ import annotations

import numpy as np

from .. import inventory, precopy
from ..exercises import NOT_ANSWERED, exercise, same_names, same_number, whole_number


def _memory_mib(session, vm: str = "db-01") -> float:
    vms = inventory.vms(session)
    return float(vms.loc[vms["name"] == vm, "memoryMB"].iloc[0])


@exercise("03.first-round", "seconds of round 1 for db-01 on 10 GbE", world="healthy-cluster", points=1, hints=(
    "Round 1 sends all of db-01's memory once: its size divided by the rate vMotion sends at.",
    "Bytes: memoryMB × 2**20. Rate: 10e9 bit/s × precopy.EFFICIENCY / 8 bytes per second.",
))
def first_round(answer, session):
    truth = precopy.simulate(_memory_mib(session), 0.0, link_gbps=10).rounds["duration_s"].iloc[0]
    return same_number(answer, truth, rel=0.01)


# configurations well away from a round boundary, with 0 < λ < 1
_TEXTBOOK_CASES = [(4096, 100, 1000, 0.5), (16384, 600, 1200, 0.5), (8192, 800, 1000, 1.0),
                   (65536, 2000, 4800, 0.3), (1024, 10, 120, 0.2)]


@exercise("03.closed-form", "pre-copy time in closed form", world=None, points=2, hints=(
    "Round i (from 0) sends M·λ**i, where λ = dirty rate / bandwidth, and takes M·λ**i / B seconds.",
    "Find n, the smallest n ≥ 1 with M·λ**n ≤ B·budget; pre-copy time = M·(1 − λ**n) / (B·(1 − λ)).",
    "Your function takes (memory_mib, dirty_rate_mibps, bandwidth_mibps, budget_s) and returns seconds.",
))
def closed_form(answer, session):
    if not callable(answer):
        return "give a function, such as the precopy_seconds you defined"
    wrong = 0
    for memory, dirty, bandwidth, budget in _TEXTBOOK_CASES:
        truth = precopy.simulate(memory, dirty, link_gbps=bandwidth * 2**20 * 8 / 1e9, efficiency=1.0,
                                 switchover_s=budget, sdps=False, max_rounds=10_000, max_data_factor=1e6)
        got = answer(memory, dirty, bandwidth, budget)
        if got is None or got is Ellipsis:
            return NOT_ANSWERED
        if not same_number(got, truth["precopy_s"], rel=1e-4):
            wrong += 1
    return True if not wrong else f"{wrong} of {len(_TEXTBOOK_CASES)} test configurations give another time"


@exercise("03.converge-without-sdps", "profiles db-01 can migrate without SDPS",
           world="healthy-cluster", points=2, hints=(
    "Run precopy.simulate(**precopy.workload(name, memory), sdps=False, switchover_s=0.5) for each profile.",
    "Keep the names whose summary says converged; precopy.profiles()['profile'] lists them all.",
))
def converge_without_sdps(answer, session):
    memory = _memory_mib(session)
    names = precopy.profiles()["profile"]
    ok = [n for n in names if precopy.simulate(**precopy.workload(n, memory), sdps=False,
                                               switchover_s=0.5).summary["converged"]]
    return same_names(answer, ok)


@exercise("03.nics-needed", "1 GbE vMotion NICs db-01 needs", world="healthy-cluster", points=2, hints=(
    "Try nics=1, 2, 3, ... with link_gbps=1, switchover_s=1.0 and sdps=False on the oltp-database profile.",
    "The answer is the first number of NICs whose migration converges: a whole number.",
))
def nics_needed(answer, session):
    answer = whole_number(answer)
    memory = _memory_mib(session)
    counts = np.arange(1, 17)
    runs = precopy.sweep(**precopy.workload("oltp-database", memory), link_gbps=1, nics=counts, switchover_s=1.0,
                         sdps=False)
    converged = counts[runs["converged"].to_numpy()]
    return bool(len(converged)) and int(answer) == int(converged.min())
