"""Are the hosts ready for vMotion? Per host and per cluster, from the facts already read. Pure: tables in,
tables out.

Per host (:func:`hosts`): its state, its VMkernel adapters with the vMotion service, their MTU, the physical
uplinks of each adapter's switch (how many, the best one's speed and duplex), its CPU's best EVC mode. Per
cluster (:func:`clusters`; stand-alone hosts form one group, ``(standalone hosts)``): whether the vMotion MTUs
agree across its hosts, the datastores every host mounts writable (shared) and those only some mount, the
cluster's EVC mode, and the highest EVC baseline all its hosts support (:func:`labkit.evc.highest`).

Each problem is an *issue*: ``{"severity", "check", "text", "source"}``; ``error`` blocks vMotion for running
VMs, ``warning`` lets it run with a warning or a risk, ``note`` is advice. Every rule names its source
(:data:`SOURCES`):

* "Host Configuration for vMotion" (vCenter Server and Host Management 6.7): each host licensed for vMotion,
  meeting the shared storage and the networking requirements. Licences are not read (not modelled).
* "vSphere vMotion Networking Requirements" (6.5): a VMkernel adapter for vMotion on each host; no vMotion
  adapter is ``VMotionNotConfigured``, no operational physical uplink ``VMotionLinkDown``, errors for a
  powered-on VM (vSphere API reference).
* ``VMotionLinkCapacityLow`` (API reference): "VMotion is supported on links that have a speed of at least 1000
  Mbps and are full duplex"; a warning.
* "Networking Best Practices for vSphere vMotion" (7.0): at least one 10 GbE adapter (25 GbE for workloads with
  many memory operations); a note below 10 GbE.
* KB 432825: a compatibility warning when the hosts' vMotion adapters have different MTUs.
* "vSphere vMotion Shared Storage Requirements" (5.5): the VM must be on storage both hosts reach.
* KB 1003212 and "CPU Compatibility and EVC" (6.7): without EVC, a VM started on a host with more CPU features
  may not move to one with fewer; an EVC mode is a baseline every host of the cluster presents; KB 1005764: no
  baseline spans Intel and AMD. Mode ordering and features come from ``datasets/evc_modes.csv``; a mode the
  dataset lacks is not modelled.
"""
from __future__ import annotations

import pandas as pd

from .. import evc

STANDALONE = "(standalone hosts)"
#: the sources of the readiness rules, as the report cites them
SOURCES = {
    "host-config": "VMware vCenter Server and Host Management 6.7, \"Host Configuration for vMotion\" (read on a "
                   "mirror of the PDF: http://38.142.81.21:8001/manual/vmware/vsphere/"
                   "11-10-9-8-7-6-5-4-3-2-1-6-7-english/page-124.html)",
    "networking": "VMware vCenter Server and Host Management 6.5, \"vSphere vMotion Networking Requirements\" "
                  "(https://docs.vmware.com/en/VMware-vSphere/6.5/com.vmware.vsphere.vcenterhost.doc/"
                  "GUID-3B41119A-1276-404B-8BFB-A32409052449.html); vSphere API reference, VMotionNotConfigured, "
                  "VMotionLinkDown",
    "capacity": "vSphere API reference, VMotionLinkCapacityLow (\"supported on links that have a speed of at least "
                "1000 Mbps and are full duplex\")",
    "best-practices": "VMware vSphere 7.0, \"Networking Best Practices for vSphere vMotion\" "
                      "(https://docs.vmware.com/en/VMware-vSphere/7.0/com.vmware.vsphere.vcenterhost.doc/"
                      "GUID-7DAD15D4-7F41-4913-9F16-567289E22977.html)",
    "mtu": "Broadcom KB 432825, \"vMotion Compatibility Warning - MTU Configuration Mismatch\" "
           "(https://knowledge.broadcom.com/external/article/432825/vmotion-compatibility-warning-mtu-confi.html)",
    "storage": "VMware vCenter Server and Host Management 5.5, \"vSphere vMotion Shared Storage Requirements\" "
               "(https://docs.vmware.com/jp/VMware-vSphere/5.5/com.vmware.vsphere.vcenterhost.doc/"
               "GUID-B8052D97-6C18-4BE0-8CD0-ABBB9FCA4912.html, Japanese edition)",
    "state": "vSphere API reference, MigrateVM_Task (InvalidState for a target host disconnected or in maintenance "
             "mode); InvalidHostConnectionState",
    "evc": "VMware KB 1003212, \"Enhanced vMotion Compatibility (EVC) processor support\" "
           "(https://kb.vmware.com/s/article/1003212); VMware vCenter Server and Host Management 6.7, \"CPU "
           "Compatibility and EVC\" (https://docs.vmware.com/en/VMware-vSphere/6.7/com.vmware.vsphere.vcenterhost.doc/"
           "GUID-03E7E5F9-06D9-463F-A64F-D4EC20DAF22E.html)",
    "vendor": "VMware KB 1005764 (no vMotion across CPU vendors; https://kb.vmware.com/s/article/1005764)",
    "evc-dataset": "labkit datasets/evc_modes.csv (each mode's source and verification level)",
}
#: VMotionLinkCapacityLow's floor, and the 7.0 best practices' recommendation (Mb/s)
MIN_MBPS, RECOMMENDED_MBPS = 1000, 10000
HOST_COLUMNS = ["cluster", "host", "state", "vmotion", "mtus", "uplinks", "speedMb", "fullDuplex", "maxEVCModeKey",
                "ready", "issues"]
CLUSTER_COLUMNS = ["cluster", "hosts", "evcMode", "hostModes", "highestCommon", "mtus", "mtuConsistent", "shared",
                   "partial", "ready", "issues"]


def _issue(severity: str, check: str, text: str, source: str) -> dict:
    return {"severity": severity, "check": check, "text": text, "source": SOURCES[source]}


def _group(cluster) -> str:
    return cluster if isinstance(cluster, str) and cluster else STANDALONE


def _state(h) -> str:
    if h.connectionState != "connected":
        return h.connectionState
    if h.inMaintenanceMode:
        return "maintenance"
    return "entering maintenance" if bool(getattr(h, "enteringMaintenanceMode", False)) else "connected"


def hosts(facts) -> pd.DataFrame:
    """One row per host, by cluster then name: ``state``; ``vmotion`` (its vMotion adapters, in selection order);
    ``mtus`` (their MTUs, bytes); ``uplinks`` (physical NICs behind its best-linked vMotion adapter); ``speedMb``
    and ``fullDuplex`` (that adapter's best uplink; 0 when none is up); ``maxEVCModeKey``; ``ready`` (no error);
    ``issues``."""
    v = facts.vmotion_vnics
    rows = []
    for h in facts.hosts.itertuples():
        mine = v[v["host_moid"] == h.moid].sort_values("order", kind="stable")
        best = mine.sort_values(["speedMb", "fullDuplex", "uplinks"], kind="stable").tail(1)
        speed = int(best["speedMb"].iloc[0]) if len(best) else 0
        full = bool(best["fullDuplex"].iloc[0]) and speed > 0 if len(best) else False
        uplinks = int(best["uplinks"].iloc[0]) if len(best) else 0
        state = _state(h)
        issues = []
        if h.connectionState != "connected":
            issues.append(_issue("error", "host state", f"the host is {h.connectionState}: vCenter cannot move VMs "
                                 "to or from it (InvalidHostConnectionState)", "state"))
        elif state != "connected":
            doing = "is entering maintenance mode" if state.startswith("entering") else "is in maintenance mode"
            issues.append(_issue("warning", "host state", f"the host {doing}: it accepts no virtual machines "
                                 "(InvalidState)", "state"))
        if not list(h.vmotionVnics):
            issues.append(_issue("error", "vMotion adapter", "no VMkernel adapter has the vMotion service: running "
                                 "VMs cannot move to or from it (VMotionNotConfigured)", "networking"))
        elif speed == 0:
            issues.append(_issue("error", "uplinks", "no vMotion adapter has an operational physical uplink "
                                 "(VMotionLinkDown)", "networking"))
        elif speed < MIN_MBPS or not full:
            issues.append(_issue("warning", "uplinks", f"the best vMotion uplink runs at {speed} Mb/s, "
                                 f"{'full' if full else 'half'} duplex; vMotion is supported from 1000 Mb/s full "
                                 "duplex (VMotionLinkCapacityLow)", "capacity"))
        elif speed < RECOMMENDED_MBPS:
            issues.append(_issue("note", "uplinks", f"the best vMotion uplink runs at {speed} Mb/s; the vSphere 7.0 "
                                 "best practices recommend at least 10 GbE", "best-practices"))
        if not h.maxEVCModeKey:
            issues.append(_issue("note", "EVC", "the host reports no best EVC mode (summary.maxEVCModeKey unset): "
                                 "its CPU baseline is unknown", "evc"))
        rows.append({"cluster": _group(h.cluster), "host": h.host, "state": state, "vmotion": list(h.vmotionVnics),
                     "mtus": [int(m) for m in mine["mtu"]], "uplinks": uplinks, "speedMb": speed, "fullDuplex": full,
                     "maxEVCModeKey": h.maxEVCModeKey or None,
                     "ready": not any(i["severity"] == "error" for i in issues), "issues": issues})
    out = _nones(pd.DataFrame(rows, columns=HOST_COLUMNS), ["maxEVCModeKey"])
    return out.sort_values(["cluster", "host"], kind="stable").reset_index(drop=True)


def _nones(table: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``cols`` as objects with None (not NaN) where unknown."""
    for c in cols:
        table[c] = pd.Series([v if isinstance(v, str) else None for v in table[c]], index=table.index, dtype=object)
    return table


def highest_common(max_keys) -> tuple[str | None, str]:
    """The highest EVC baseline every host supports, from their ``maxEVCModeKey``, and why there is none: hosts
    with no key, keys the course's dataset lacks (not modelled), or more than one CPU vendor."""
    keys = list(max_keys)
    if not keys:
        return None, "no hosts"
    if any(not k for k in keys):
        return None, "a host reports no best EVC mode"
    unknown = sorted({k for k in keys if k not in evc.modes()})
    if unknown:
        return None, f"not modelled: {', '.join(unknown)} is not in datasets/evc_modes.csv"
    vendors = sorted({evc.vendor(k) for k in keys})
    if len(vendors) > 1:
        shown = {"intel": "Intel", "amd": "AMD"}
        return None, (f"the hosts' CPUs are of {' and '.join(shown.get(v, v) for v in vendors)}: no EVC mode spans "
                      "vendors")
    best = evc.highest(keys)
    return best, "" if best else "no EVC mode all hosts support"


def clusters(facts, cluster_rows: pd.DataFrame, datastores: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster (and one for the stand-alone hosts), by name: ``hosts`` (names); ``evcMode`` (the
    cluster's, None without EVC); ``hostModes`` (its hosts' distinct ``maxEVCModeKey``); ``highestCommon``;
    ``mtus`` (distinct vMotion MTUs) and ``mtuConsistent``; ``shared`` (datastores every host of it mounts
    writable) and ``partial`` (``{datastore: [hosts that mount it]}`` for the others); ``ready`` (no error, here or on a host of
    it); ``issues``.

    ``cluster_rows``: cluster, evcMode (from the clusters' ``summary.currentEVCModeKey``); ``datastores``:
    datastore, moid."""
    h = facts.hosts.assign(group=[_group(c) for c in facts.hosts["cluster"]])
    host_ready = hosts(facts).set_index("host")["ready"]
    evc_mode = dict(zip(cluster_rows["cluster"], cluster_rows["evcMode"])) if len(cluster_rows) else {}
    ds_name = dict(zip(datastores["moid"], datastores["datastore"])) if len(datastores) else {}
    mounts = facts.mounts
    rows = []
    for group in sorted(h["group"].unique(), key=lambda g: (g == STANDALONE, g)):
        members = h[h["group"] == group].sort_values("host", kind="stable")
        moids, names = list(members["moid"]), list(members["host"])
        mtus = sorted({int(m) for m in facts.vmotion_vnics.loc[facts.vmotion_vnics["host_moid"].isin(moids), "mtu"]})
        mine = mounts[mounts["host_moid"].isin(moids)]
        writable = mine[mine["writable"].astype(bool)].groupby("datastore_moid")["host_moid"].agg(set)
        anywhere = mine.groupby("datastore_moid")["host_moid"].agg(set)
        shared = sorted(ds_name.get(d, d) for d, hs in writable.items() if hs >= set(moids))
        host_of = dict(zip(members["moid"], members["host"]))
        partial = {ds_name.get(d, d): sorted(host_of[m] for m in hs) for d, hs in anywhere.items()
                   if ds_name.get(d, d) not in shared}
        keys = list(members["maxEVCModeKey"])
        best, why = highest_common(keys)
        mode = evc_mode.get(group) if group != STANDALONE else None
        issues = []
        if len(mtus) > 1:
            issues.append(_issue("warning", "MTU", f"the hosts' vMotion adapters have different MTUs ({', '.join(map(str, mtus))}):"
                                 " vCenter warns on a vMotion between them, and such migrations often fail or "
                                 "degrade", "mtu"))
        if len(moids) > 1 and not shared:
            issues.append(_issue("warning", "shared storage", "no datastore is mounted writable on every host: a "
                                 "VM moves only between hosts that both mount its datastores (or with Storage "
                                 "vMotion)", "storage"))
        for ds, on in sorted(partial.items()):
            issues.append(_issue("note", "shared storage", f"{ds} is mounted (writable) on {len(on)} of {len(moids)} "
                                 f"hosts ({', '.join(on)}): its VMs cannot move to the others by vMotion alone "
                                 "(DatastoreNotWritableOnHost)", "storage"))
        distinct = sorted({k for k in keys if k})
        if group != STANDALONE:
            issues += _evc_issues(mode, distinct, best, why, members)
        ready = not any(i["severity"] == "error" for i in issues) and bool(host_ready.reindex(names).all())
        rows.append({"cluster": group, "hosts": names, "evcMode": mode, "hostModes": distinct,
                     "highestCommon": best, "mtus": mtus, "mtuConsistent": len(mtus) <= 1, "shared": shared,
                     "partial": partial, "ready": ready, "issues": issues})
    return _nones(pd.DataFrame(rows, columns=CLUSTER_COLUMNS), ["evcMode", "highestCommon"])


def _evc_issues(mode, distinct: list[str], best, why: str, members: pd.DataFrame) -> list[dict]:
    issues = []
    if why.startswith("the hosts' CPUs are of"):
        issues.append(_issue("error", "EVC", why + "; running VMs cannot move between the vendors' hosts", "vendor"))
    elif why:
        issues.append(_issue("note", "EVC", f"highest common EVC baseline unknown: {why}", "evc-dataset"))
    if mode:
        for h in members.itertuples():
            if h.maxEVCModeKey and mode in evc.modes() and h.maxEVCModeKey in evc.modes():
                ok, reason = evc.admits(mode, h.maxEVCModeKey)
                if not ok:
                    issues.append(_issue("error", "EVC", f"{h.host} cannot run the cluster's EVC mode {mode}: {reason}",
                                         "evc"))
        if best and mode in evc.modes() and evc.vendor(mode) == evc.vendor(best) and \
                len(evc.features(best)) > len(evc.features(mode)):
            issues.append(_issue("note", "EVC", f"every host supports {best}, above the cluster's mode {mode}; a higher"
                                 " mode shows VMs more CPU features after their next power cycle", "evc"))
    elif len(distinct) > 1:
        issues.append(_issue("warning", "EVC", f"the hosts' CPUs differ ({', '.join(distinct)}) and the cluster has no "
                             "EVC mode: a VM powered on where the CPU offers more features may not move to a host "
                             "that offers fewer (FeatureRequirementsNotMet)"
                             + (f"; every host supports the baseline {best}" if best else ""), "evc"))
    return issues
