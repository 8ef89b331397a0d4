"""EVC modes and the CPU features each exposes, from datasets/evc_modes.csv.

Each mode lists the features it adds to (and removes from) the mode it
follows; a mode's feature set is the sum along that chain. The Intel modes
form one chain, merom to sapphirerapids; the AMD modes one chain through
greyhound-no3dnow (VMware KB 1003212).

vCenter publishes each mode's baseline through the vSphere API: every
``EVCMode`` (in ``ServiceInstance.capability.supportedEVCMode`` and
``ClusterEVCManager.evcState.supportedEVCMode``) carries ``featureCapability`` (the features the mode
guarantees), ``featureMask`` (the masks that hold a host to it) and
``featureRequirement`` (what a host must have); ``guaranteedCPUFeatures`` is
the older form, deprecated since API 6.5 (vSphere API reference, ``EVCMode``).
The course has no vCenter to read them from, so each row's feature list is
tagged by how far it was checked: V (from vSphere API data or VMware
documentation, named in ``source``), Q (QEMU's CPU model of that generation,
standing in for the API's list and not checked against it).
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


# -- baselines for clusters --------------------------------------------------------
def supported(max_key: str) -> list[str]:
    """The EVC modes a host whose best mode is ``max_key`` can run: same vendor, features it has."""
    if max_key not in modes():
        return []
    have = features(max_key)
    return [k for k in chain(vendor(max_key)) if features(k) <= have]


def common(max_keys) -> list[str]:
    """The EVC modes every host (given by its ``maxEVCModeKey``) can run, oldest first; none across vendors."""
    keys = list(max_keys)
    if not keys:
        return []
    sets = [set(supported(k)) for k in keys]
    shared = set.intersection(*sets)
    return [k for k in modes() if k in shared]


def highest(max_keys) -> str | None:
    """The EVC mode with the most features that every host supports, or None (mixed vendors, unknown CPUs)."""
    shared = common(max_keys)
    return max(shared, key=lambda k: (len(features(k)), list(modes()).index(k))) if shared else None


def lost(vm_features, baseline: str) -> list[str]:
    """Features a VM has seen (a mode key or a set of cpuid keys) that it would not see under ``baseline``."""
    seen = features(vm_features) if isinstance(vm_features, str) else {f.lower() for f in vm_features}
    return sorted(f.removeprefix("cpuid.") for f in seen - features(baseline))


def admits(cluster_mode: str, host_max_key: str) -> tuple[bool, str]:
    """Whether a host can join a cluster running ``cluster_mode``, and why not (vCenter refuses such a host)."""
    if cluster_mode not in modes() or host_max_key not in modes():
        return False, "unknown EVC mode"
    if vendor(cluster_mode) != vendor(host_max_key):
        return False, (f"its CPU is {vendor(host_max_key).upper()}, the cluster's EVC mode is for "
                       f"{vendor(cluster_mode).upper()}")
    if cluster_mode not in supported(host_max_key):
        missing = sorted(f.removeprefix("cpuid.") for f in features(cluster_mode) - features(host_max_key))
        return False, f"its CPU lacks features of {cluster_mode}: {', '.join(missing)}"
    return True, "it supports the cluster's EVC mode"
