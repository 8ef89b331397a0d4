"""Exercises of notebooks/03-memory-convergence.ipynb.

The truth comes from the lab world (the VM's configured memory) and the
pre-copy model, never from a stored answer.
"""
from __future__ import annotations

from .. import inventory, precopy
from ..exercises import NOT_ANSWERED, exercise, same_names, same_number, whole_number


def _memory_mib(session, vm: str = "db-01") -> float:
    vms = inventory.vms(session)
    return float(vms.loc[vms["name"] == vm, "memoryMB"].iloc[0])


@exercise("03.first-round", "seconds of round 1 for db-01 on 10 GbE", world="healthy-cluster", points=1, hints=(
    "Round 1 sends all of db-01's memory once: its size divided by the rate vMotion sends at.",
    ("Put both in the same unit: memoryMB counts MiB (2**20 bytes), the link counts bits per second "
     "(10e9), and only the share precopy.EFFICIENCY of the link carries memory."),
))
def first_round(answer, session):
    quiet = precopy.simulate(memory_mib=_memory_mib(session), dirty_rate_mibps=0.0, link_gbps=10)
    truth = quiet.rounds["duration_s"].iloc[0]
    return same_number(answer, truth, rel=0.01)


# configurations well away from a round boundary, with 0 < λ < 1
_TEXTBOOK_CASES = [(4096, 100, 1000, 0.5), (16384, 600, 1200, 0.5), (8192, 800, 1000, 1.0),
                   (65536, 2000, 4800, 0.3), (1024, 10, 120, 0.2)]


@exercise("03.closed-form", "pre-copy time in closed form", world=None, points=2, hints=(
    "Your function takes (memory_mib, dirty_rate_mibps, bandwidth_mibps, budget_s) and returns seconds.",
    ("Round i (from 0) sends M·λ**i, where λ = dirty rate / bandwidth, and takes M·λ**i / B seconds. "
     "Pre-copy stops after n rounds, when what is left, M·λ**n, fits in B·budget."),
    ("Two steps: find n, the smallest n ≥ 1 whose leftover fits the budget (a loop that only counts is fine), "
     "then add up the n round times with the sum of a geometric series, 1 + λ + … + λ**(n−1)."),
))
def closed_form(answer, session):
    if not callable(answer):
        return "give a function, such as the precopy_seconds you defined"
    wrong = 0
    for memory, dirty, bandwidth, budget in _TEXTBOOK_CASES:
        truth = precopy.simulate(memory_mib=memory, dirty_rate_mibps=dirty, link_gbps=bandwidth * 2**20 * 8 / 1e9,
                                 efficiency=1.0, switchover_s=budget, sdps=False, max_rounds=10_000,
                                 max_data_factor=1e6)
        got = answer(memory, dirty, bandwidth, budget)
        if got is None or got is Ellipsis:
            return NOT_ANSWERED
        if not same_number(got, truth["precopy_s"], rel=1e-4):
            wrong += 1
    return True if not wrong else f"{wrong} of {len(_TEXTBOOK_CASES)} test configurations give another time"


@exercise("03.converge-without-sdps", "profiles db-01 can migrate without SDPS",
           world="healthy-cluster", points=2, hints=(
    "precopy.profiles()['profile'] lists the profile names; precopy.workload(name, db_mib) gives one's inputs.",
    ("Simulate each profile with the keyword arguments sdps and switchover_s, and keep the names whose "
     "migration converged (the summary's 'converged')."),
))
def converge_without_sdps(answer, session):
    memory = _memory_mib(session)
    names = precopy.profiles()["profile"]
    ok = [n for n in names if precopy.simulate(**precopy.workload(n, memory), sdps=False,
                                               switchover_s=0.5).summary["converged"]]
    return same_names(answer, ok)


@exercise("03.nics-needed", "1 GbE vMotion NICs db-01 needs", world="healthy-cluster", points=2, hints=(
    "Try nics=1, 2, 3, ... with link_gbps=1, switchover_s=1.0 and sdps=False on the oltp-database profile.",
    ("precopy.sweep runs the model once per value of an input you give it as a list, one row each; its table says "
     "which runs converged. Which of those rows answers the question?"),
))
def nics_needed(answer, session):
    answer = whole_number(answer)
    memory = _memory_mib(session)
    runs = precopy.sweep(**precopy.workload("oltp-database", memory), link_gbps=1, nics=list(range(1, 17)),
                         switchover_s=1.0, sdps=False)
    converged = runs[runs["converged"]]
    return bool(len(converged)) and int(answer) == int(converged["nics"].min())
