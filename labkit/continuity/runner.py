"""Run one migration and record what happened: the timeline and the invariants.

::

    run = continuity.migrate(session, "app-ab", host="esx-03", datastore="local-03")
    run.timeline      # task states and progress, and the events posted, in seconds from the request
    run.properties    # the VM's properties before and after
    run.invariants    # invariant, before, after, holds

The migration is a ``RelocateVM_Task`` (compute, storage, or both at once, as
the vSphere Client sends it), made through the session's change guard: on a
real vCenter only with ``allow_changes=True`` and inside the lab area. A
migration vCenter refuses is recorded too (``run.succeeded`` is False, with
the fault); it must have changed nothing, and the invariants check that.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pandas as pd
from pyVmomi import vim

from .. import collector, inventory
from ..errors import InvalidInput, TaskFailed
from . import invariants as _invariants
from .state import VmState, read

TIMELINE_COLUMNS = ["t_s", "source", "what", "progress", "detail"]


@dataclasses.dataclass
class MigrationRun:
    vm: str
    kind: str  # "compute", "storage" or "compute + storage"
    host: str | None
    datastore: str | None
    succeeded: bool
    fault_type: str | None
    message: str
    before: VmState
    after: VmState
    timeline: pd.DataFrame
    events: pd.DataFrame
    invariants: pd.DataFrame
    #: the lab world it ran in (labkit.sim.worlds.World), None on a real vCenter; an exercise checks it there
    world: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def holds(self) -> bool:
        """Every invariant holds."""
        return bool(self.invariants["holds"].all())

    @property
    def event_pairs(self) -> list[tuple[str, int]]:
        """The events of the run as (event type, chainId) pairs, the form ``invariants.check(events=...)`` takes."""
        return list(zip(self.events["type"], self.events["chainId"]))

    @property
    def properties(self) -> pd.DataFrame:
        """The VM's properties before and after (property, before, after, changed)."""
        return properties(self.before, self.after)

    @property
    def in_flight(self) -> bool:
        """The migration failed after it had begun (vCenter had posted VmBeing...Event: its checks passed), not
        refused by its checks."""
        return not self.succeeded and any(t.startswith("VmBeing") for t in self.events["type"])

    def describe(self) -> str:
        """What happened, in words and without times (stable across runs)."""
        target = " and ".join(x for x in (self.host, self.datastore) if x)
        head = f"{self.kind} migration of {self.vm} to {target}: "
        if self.succeeded:
            head += "succeeded"
        else:
            head += f"{'failed in flight' if self.in_flight else 'refused'}, {self.fault_type}"
        task = self.timeline[self.timeline["source"] == "task"]
        steps = " -> ".join(dict.fromkeys(task["what"]))
        events = ", ".join(self.events["type"]) or "(none)"
        broken = self.invariants.loc[~self.invariants["holds"], "invariant"].tolist()
        held = f"{len(self.invariants) - len(broken)} of {len(self.invariants)} invariants hold"
        lines = [head, f"  task: {steps}", f"  events: {events}",
                 f"  {held}" + (f"; broken: {', '.join(broken)}" if broken else "")]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<MigrationRun {self.kind} {self.vm}: {'succeeded' if self.succeeded else self.fault_type}, " \
               f"{int(self.invariants['holds'].sum())}/{len(self.invariants)} invariants hold>"


def properties(before: VmState, after: VmState) -> pd.DataFrame:
    def flat(s: VmState) -> dict:
        out = {"host": s.host, "powerState": s.power_state, "datastore": ", ".join(s.datastores),
               "config.files.vmPathName": s.vmx, "config.instanceUuid": s.instance_uuid}
        for d in s.disks:
            out[f"{d.label}: fileName"] = d.file
            out[f"{d.label}: datastore"] = d.datastore
            out[f"{d.label}: capacityInBytes"] = d.capacity_bytes
            out[f"{d.label}: uuid"] = d.uuid
        for n in s.nics:
            out[f"{n.label}: macAddress"] = n.mac
            out[f"{n.label}: network"] = n.network
            if n.port is not None:
                out[f"{n.label}: portKey"] = n.port
        return out

    b, a = flat(before), flat(after)
    keys = list(dict.fromkeys([*b, *a]))
    return pd.DataFrame([{"property": k, "before": b.get(k), "after": a.get(k), "changed": b.get(k) != a.get(k)}
                         for k in keys])


def _resolve(session, obj, kind: str):
    if obj is None or not isinstance(obj, str):
        return obj
    return inventory.find(session, obj, kind)


def _event_rows(session, vm, after_key: int, t0: dt.datetime) -> pd.DataFrame:
    spec = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=vm, recursion="self"),
                                     maxCount=1000)
    rows = []
    for e in session.content.eventManager.QueryEvents(spec) or []:
        if e.key <= after_key:
            continue
        rows.append({"key": e.key, "type": type(e).__name__.split(".")[-1], "chainId": e.chainId,
                     "t_s": (e.createdTime - t0).total_seconds(), "message": e.fullFormattedMessage or ""})
    rows.sort(key=lambda r: r["key"])
    return pd.DataFrame(rows, columns=["key", "type", "chainId", "t_s", "message"])


def migrate(session, vm, host=None, datastore=None, *, pool=None, priority: str = "defaultPriority",
            timeout: float | None = None) -> MigrationRun:
    """Migrate ``vm`` to ``host`` and/or ``datastore`` (names or managed objects) and record it.

    ``pool`` is a ResourcePool object (needed on vCenter when the host is in
    another cluster). Bad names raise a one-line error; a migration vCenter
    refuses is returned with ``succeeded`` False, not raised.
    """
    if host is None and datastore is None:
        raise InvalidInput("Say where to: host=, datastore=, or both (a shared-nothing vMotion).")
    vm, host, datastore = _resolve(session, vm, "VirtualMachine"), _resolve(session, host, "HostSystem"), \
        _resolve(session, datastore, "Datastore")
    kind = " + ".join(k for k, x in (("compute", host), ("storage", datastore)) if x is not None)
    [(_, own)] = collector.retrieve_objects(session.content, [vm], ["datastore"])
    all_ds = list(own.get("datastore") or []) + ([datastore] if datastore is not None else [])
    before = read(session, vm, browse_datastores=all_ds)
    earlier = _event_rows(session, vm, -1, dt.datetime.now(dt.timezone.utc))
    after_key = int(earlier["key"].max()) if len(earlier) else -1

    updates: list[tuple[float, object]] = []
    clock = session.si.CurrentTime()
    offset = clock - dt.datetime.now(clock.tzinfo)  # server clock minus ours, to place client-side samples
    spec = vim.vm.RelocateSpec(host=host, datastore=datastore, pool=pool)
    succeeded, fault_type, message = True, None, "succeeded"
    try:
        session.change(vm, "RelocateVM_Task", spec=spec, priority=priority, task_timeout=timeout,
                       on_update=lambda info: updates.append((time.time(), info)))
    except TaskFailed as e:
        succeeded, fault_type, message = False, e.fault_type, str(e)
    after = read(session, vm, browse_datastores=all_ds)

    infos = [i for _, i in updates]
    t0 = next((i.queueTime for i in infos if i.queueTime), None) or clock
    timeline = _task_rows(updates, t0, offset)
    events = _event_rows(session, vm, after_key, t0)
    ev_rows = [{"t_s": r.t_s, "source": "event", "what": r.type, "progress": None, "detail": r.message}
               for r in events.itertuples()]
    timeline = pd.DataFrame(timeline + ev_rows, columns=TIMELINE_COLUMNS)
    order = {"task": 0, "event": 1}
    timeline = timeline.assign(_o=timeline["source"].map(order)).sort_values(["t_s", "_o"], kind="stable") \
        .drop(columns="_o").reset_index(drop=True)
    table = _invariants.check(before, after, host=host.name if host is not None else None,
                              datastore=datastore.name if datastore is not None else None, succeeded=succeeded,
                              events=list(zip(events["type"], events["chainId"])))
    return MigrationRun(vm=before.name, kind=kind, host=host.name if host is not None else None,
                        datastore=datastore.name if datastore is not None else None, succeeded=succeeded,
                        fault_type=fault_type, message=message, before=before, after=after, timeline=timeline,
                        events=events, invariants=table, world=getattr(session, "world", None))


def _task_rows(updates, t0: dt.datetime, offset: dt.timedelta) -> list[dict]:
    """Task states from the TaskInfo updates: server timestamps where vCenter gives them, else arrival time."""
    rows, seen = [], set()

    def add(t, what, progress=None, detail=""):
        rows.append({"t_s": t, "source": "task", "what": what, "progress": progress, "detail": detail})

    for arrived, info in updates:
        local = dt.datetime.fromtimestamp(arrived, t0.tzinfo) + offset
        if info.queueTime and "queued" not in seen:
            seen.add("queued")
            add((info.queueTime - t0).total_seconds(), "queued", 0)
        if info.startTime and "running" not in seen:
            seen.add("running")
            add((info.startTime - t0).total_seconds(), "running", 0)
        if str(info.state) == "running" and info.progress is not None and ("p", info.progress) not in seen:
            seen.add(("p", info.progress))
            add(max(0.0, (local - t0).total_seconds()), "running", int(info.progress))
        if str(info.state) in ("success", "error") and "end" not in seen:
            seen.add("end")
            end = info.completeTime or local
            detail = "" if str(info.state) == "success" else type(info.error).__name__.split(".")[-1]
            add((end - t0).total_seconds(), str(info.state), 100 if str(info.state) == "success" else None, detail)
    return rows
