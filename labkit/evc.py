"""EVC modes and the CPU features each exposes, from datasets/evc_modes.csv.

Each mode lists the features it adds to (and removes from) the mode it
follows; a mode's feature set is the sum along that chain. The Intel modes
form one chain, merom to sapphirerapids; the AMD modes one chain through
greyhound-no3dnow (VMware KB 1003212). Feature lists are tagged by how they
were verified: V (VMware or vSphere API data), Q (QEMU's CPU model of that
generation, standing in for VMware's baseline, which is not published).
"""
from __future__ import annotations

import csv
import functools

from . import datasets


@functools.lru_cache(maxsize=1)
def modes() -> dict[str, dict]:
    """key -> {vendor, after, label, adds, removes, tag, source}, in file order."""
    with open(datasets.path("evc_modes.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r["key"]: {**r, "adds": r["adds"].split(), "removes": r["removes"].split()} for r in rows}


@functools.cache
def features(key: str) -> frozenset[str]:
    """The cpuid feature keys a host in EVC mode ``key`` exposes."""
    m = modes()[key]
    base = features(m["after"]) if m["after"] else frozenset()
    return (base | set(m["adds"])) - set(m["removes"])


def vendor(key: str) -> str:
    return modes()[key]["vendor"]


def chain(vendor_name: str) -> list[str]:
    """The modes of one vendor, oldest first."""
    return [k for k, m in modes().items() if m["vendor"] == vendor_name]
