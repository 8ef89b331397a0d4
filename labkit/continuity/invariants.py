"""Continuity invariants: what a migration must keep, and what it must change.

A pure function over two :class:`~labkit.continuity.state.VmState` snapshots
(before and after) and the events posted between them. Each invariant is one
row: ``invariant``, ``before``, ``after``, ``holds``. A refused migration must
leave everything where it was; a successful one must move the VM, and its
files if asked, while keeping its power state, identity, disks and network
identity (vSphere: "Migration with vMotion"; "Storage vMotion").
"""
from __future__ import annotations

import pandas as pd

from .state import VmState, datastore_of

COLUMNS = ["invariant", "before", "after", "holds"]
STARTED = {"VmBeingHotMigratedEvent", "VmBeingMigratedEvent", "VmBeingRelocatedEvent"}
FINISHED = {"VmMigratedEvent", "VmRelocatedEvent", "DrsVmMigratedEvent"}
FAILED = {"VmFailedMigrateEvent", "VmFailedRelocateEvent"}


def _join(items) -> str:
    items = list(items)
    return ", ".join(str(i) for i in items) if items else "(none)"


def _paths(s: VmState) -> list[str]:
    return [s.vmx, *(d.file for d in s.disks), *s.files]


def _on(paths, datastore: str) -> bool:
    return bool(paths) and all(datastore_of(p) == datastore for p in paths)


def _summary_of_paths(paths) -> str:
    stores = sorted({datastore_of(p) for p in paths})
    return f"{len(paths)} paths on {_join(f'[{d}]' for d in stores)}"


def check(before: VmState, after: VmState, *, host: str | None = None, datastore: str | None = None,
          succeeded: bool = True, events=()) -> pd.DataFrame:
    """The invariants of one migration request (``host`` and/or ``datastore``) and its outcome.

    ``events`` is a sequence of ``(event type, chainId)`` pairs posted for the
    VM during the migration.
    """
    rows: list[dict] = []

    def row(name, b, a, holds):
        rows.append({"invariant": name, "before": b, "after": a, "holds": bool(holds)})

    want_host = host if (succeeded and host) else before.host
    moves_storage = bool(succeeded and datastore and datastore not in before.datastores)
    row(f"runs on {want_host}", before.host, after.host, after.host == want_host)
    row("power state kept", before.power_state, after.power_state, after.power_state == before.power_state)
    row("same identity (instance UUID, BIOS UUID)", f"{before.instance_uuid} / {before.bios_uuid}",
        f"{after.instance_uuid} / {after.bios_uuid}",
        (after.instance_uuid, after.bios_uuid) == (before.instance_uuid, before.bios_uuid))

    b_nics, a_nics = {n.key: n for n in before.nics}, {n.key: n for n in after.nics}
    row("same MAC addresses", _join(n.mac for n in before.nics), _join(n.mac for n in after.nics),
        b_nics.keys() == a_nics.keys() and all(a_nics[k].mac == n.mac for k, n in b_nics.items()))
    row("same network on every adapter", _join(n.network for n in before.nics), _join(n.network for n in after.nics),
        b_nics.keys() == a_nics.keys() and all(a_nics[k].network == n.network for k, n in b_nics.items()))
    if any(n.port is not None for n in before.nics):
        row("same distributed port", _join(n.port for n in before.nics if n.port is not None),
            _join(n.port for n in after.nics if n.port is not None),
            b_nics.keys() == a_nics.keys() and all(a_nics[k].port == n.port for k, n in b_nics.items()))

    b_disks, a_disks = {d.key: d for d in before.disks}, {d.key: d for d in after.disks}
    row("same disks", _join(d.label for d in before.disks), _join(d.label for d in after.disks),
        b_disks.keys() == a_disks.keys())
    row("same disk sizes", _join(d.capacity_bytes for d in before.disks), _join(d.capacity_bytes for d in after.disks),
        b_disks.keys() == a_disks.keys() and all(a_disks[k].capacity_bytes == d.capacity_bytes for k, d in b_disks.items()))
    row("same disk UUIDs", _join(d.uuid for d in before.disks), _join(d.uuid for d in after.disks),
        b_disks.keys() == a_disks.keys() and all(a_disks[k].uuid == d.uuid and d.uuid for k, d in b_disks.items()))

    if moves_storage:
        row(f"all files on {datastore}", _summary_of_paths(_paths(before)), _summary_of_paths(_paths(after)),
            _on(_paths(after), datastore) and all(d.datastore == datastore for d in after.disks)
            and after.datastores == (datastore,))
        found = after.browsed_on(datastore)
        wanted = sorted({p.rsplit("/", 1)[-1] for p in [after.vmx, *(d.file for d in after.disks)]})
        row(f"files found on {datastore}", _join(before.browsed_on(datastore) or ()), _join(found or ()),
            found is not None and set(wanted) <= set(found))
        for old in before.datastores:
            left = after.browsed_on(old)
            row(f"nothing left on {old}", _join(before.browsed_on(old) or ()), _join(left or ()),
                left is not None and len(left) == 0)
    else:
        row("files where they were", _summary_of_paths(_paths(before)), _summary_of_paths(_paths(after)),
            _paths(after) == _paths(before) and after.datastores == before.datastores)

    kinds = [t for t, _ in events]
    if succeeded:
        starts = {c for t, c in events if t in STARTED}
        ends = {c for t, c in events if t in FINISHED}
        row("start and end events, one chain", "", _join(kinds), bool(starts & ends))
    else:
        row("failure event", "", _join(kinds), any(t in FAILED for t in kinds))
    return pd.DataFrame(rows, columns=COLUMNS)
