"""Wait for vCenter tasks the way vCenter wants: WaitForUpdatesEx, not polling.

A private PropertyCollector watches the task's ``info``; each update moves a
tqdm progress bar (a widget in notebooks, text in terminals) that appears only
for tasks running longer than a second, and is removed when the task ends, so
executed notebooks keep no frames of it. A task that fails becomes
:class:`~labkit.errors.TaskFailed` carrying the fault type and vCenter's
message; one that outlives ``timeout`` becomes :class:`~labkit.errors.TaskTimeout`.
"""
from __future__ import annotations

import contextlib
import time

from pyVmomi import vim, vmodl
from tqdm.auto import tqdm

from .errors import TaskFailed, TaskTimeout

PC = vmodl.query.PropertyCollector
DEFAULT_TASK_TIMEOUT_S = 600.0
BAR_DELAY_S = 1.0


def fault_message(error) -> tuple[str, str]:
    """(fault type name, readable message) for a task's LocalizedMethodFault or a fault."""
    fault = _unwrap(error)
    name = type(fault).__name__.split(".")[-1]
    msg = getattr(error, "localizedMessage", None) or getattr(fault, "msg", None) or ""
    if not msg or msg == name or msg.startswith("*types."):  # the Go type name is no message
        parts = [m.message for m in (getattr(fault, "faultMessage", None) or []) if getattr(m, "message", None)]
        msg = " ".join(parts) or _fields(fault)
    return name, msg


def _unwrap(error):
    """pyVmomi gives a task's LocalizedMethodFault as the fault itself; other
    clients may hand the wrapper, whose .fault is the fault. (A fault's own
    ``fault`` field, as on DisallowedMigrationDeviceAttached, is a sub-fault.)"""
    if isinstance(error, vmodl.MethodFault):
        return error
    return getattr(error, "fault", None) or error


def _fields(fault) -> str:
    """A fault's own scalar fields, e.g. 'existingState: poweredOn'."""
    skip = {"dynamicType", "dynamicProperty", "msg", "faultCause", "faultMessage"}
    out = []
    for prop in fault._GetPropertyList():
        value = getattr(fault, prop.name, None)
        if prop.name in skip or value in (None, "", []) or isinstance(value, (list, tuple)):
            continue
        if hasattr(value, "_moId"):
            continue
        out.append(f"{prop.name}: {value}")
    return ", ".join(out)


def _describe(info) -> str:
    what = info.descriptionId or info.name or "task"
    return f"{what} on {info.entityName}" if info.entityName else what


def wait_for_task(session, task, *, timeout: float | None = None, progress: bool = True, on_update=None):
    """Block until ``task`` ends; return its result or raise.

    ``timeout`` (seconds, default 600) bounds the wait, not the task: a task
    that is still running when it expires keeps running in vCenter.
    ``on_update(info)``, if given, sees every ``TaskInfo`` vCenter reports,
    the final one included.
    """
    timeout = DEFAULT_TASK_TIMEOUT_S if timeout is None else timeout
    content = session.content
    pc = content.propertyCollector.CreatePropertyCollector()
    try:
        pc.CreateFilter(PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=task, skip=False)],
            propSet=[PC.PropertySpec(type=vim.Task, pathSet=["info"])],
        ), partialUpdates=False)
        deadline = time.monotonic() + timeout
        version = ""
        info = None
        bar = None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    what = _describe(info) if info else "the task"
                    raise TaskTimeout(
                        f"{what} did not finish within {timeout:g} s; it may still be running in vCenter.",
                        fix="look at Recent Tasks, or wait longer with timeout=",
                    )
                wait = max(1, min(int(remaining + 0.999), 10))
                update = pc.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=wait))
                if update is None:
                    continue
                version = update.version
                for fs in update.filterSet or []:
                    for obj in fs.objectSet or []:
                        for change in obj.changeSet or []:
                            if change.name == "info":
                                info = change.val
                if info is None:
                    continue
                if on_update is not None:
                    on_update(info)
                if bar is None and progress:
                    bar = tqdm(total=100, desc=_describe(info), delay=BAR_DELAY_S, leave=False,
                               bar_format="{desc}: {percentage:3.0f}%|{bar}|")
                if bar is not None and info.progress is not None:
                    bar.update(max(0, int(info.progress) - bar.n))
                if info.state == vim.TaskInfo.State.success:
                    return info.result
                if info.state == vim.TaskInfo.State.error:
                    name, msg = fault_message(info.error)
                    text = f"{_describe(info)} failed: {name}"
                    raise TaskFailed(f"{text}: {msg}" if msg else text, fault_type=name, fault=_unwrap(info.error))
        finally:
            if bar is not None:
                bar.close()
    finally:
        with contextlib.suppress(Exception):
            pc.DestroyPropertyCollector()
