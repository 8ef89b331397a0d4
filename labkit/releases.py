"""vSphere releases: what an ESXi host and a vCenter Server of each release report, and which vCenter may manage
which hosts. Pure functions over two datasets, no I/O beyond reading them.

- ``datasets/esxi_versions.csv``: per ESXi release (``version``, e.g. ``8.0.2``), its GA ``build`` and the
  ``apiVersion`` its ``config.product`` reports, with their source.
- ``datasets/vcenter_versions.csv``: per vCenter Server release, its GA ``build``, ``apiVersion`` and the oldest
  ESXi release it manages (``oldestEsxi``), with their sources.

The rule :func:`vcenter_for` applies: vCenter Server must be of the same version as its ESXi hosts or newer
(Broadcom KB 314601, "vCenter Server version must be same version or higher than the ESXi host version"), and
each vCenter release manages ESXi down to a documented oldest release.
"""
from __future__ import annotations

import csv
import functools

from . import datasets
from .errors import LabkitError


def version_key(version: str) -> tuple[int, ...]:
    """``"7.0.3"`` -> ``(7, 0, 3)``, for comparing releases. Raises ValueError on a non-numeric part."""
    return tuple(int(p) for p in version.split("."))


@functools.cache
def esxi() -> dict[str, dict[str, str]]:
    """ESXi releases by version: ``{"8.0.2": {"release": "ESXi 8.0 U2", "build": "22380479",
    "apiVersion": "8.0.2.0", "maxHardwareVersion": "21", ...}}``."""
    with open(datasets.path("esxi_versions.csv"), newline="") as fh:
        return {r["version"]: r for r in csv.DictReader(fh)}


@functools.cache
def vcenters() -> list[dict[str, str]]:
    """vCenter Server releases, oldest first: dicts with version, release, build, apiVersion, oldestEsxi, source."""
    with open(datasets.path("vcenter_versions.csv"), newline="") as fh:
        return sorted(csv.DictReader(fh), key=lambda r: version_key(r["version"]))


def vcenter_for(host_versions: list[str]) -> dict[str, str]:
    """The oldest vCenter release that may manage hosts of all of ``host_versions`` (ESXi versions such as
    ``"7.0.3"``): its version is at least the newest host's, and its ``oldestEsxi`` at most the oldest host's.
    Raises LabkitError when no release of vcenter_versions.csv can manage them all."""
    if not host_versions:
        raise LabkitError("A vSphere estate needs at least one host to choose its vCenter release.")
    newest = max(host_versions, key=version_key)
    oldest = min(host_versions, key=version_key)
    for vc in vcenters():
        if version_key(vc["version"]) >= version_key(newest) and version_key(vc["oldestEsxi"]) <= version_key(oldest):
            return vc
    raise LabkitError(f"No vCenter release in datasets/vcenter_versions.csv manages both ESXi {oldest} and {newest}.",
                      fix="use host versions that one vCenter release manages, or add that release to the dataset")
