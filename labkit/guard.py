"""The change guard: one gate for every call that changes inventory.

On the lab simulator every change is allowed. On any other endpoint a change
needs two things the user said explicitly when connecting: ``allow_changes=True``
and a lab area, the folders or resource pools (by inventory path or managed
object id) inside which labkit may change objects. Anything else is refused
before a single call reaches vCenter.
"""
from __future__ import annotations

import dataclasses

from . import collector
from .errors import ChangeRefused

HOW = ("connect(url, allow_changes=True, lab_area=['/Datacenter/vm/vmotion-lab']) "
       "names a folder or resource pool that labkit may change")


@dataclasses.dataclass(frozen=True)
class ChangeGuard:
    is_lab: bool
    allow_changes: bool = False
    lab_area: tuple[str, ...] = ()

    def check(self, content, obj, action: str, where: str) -> None:
        """Raise :class:`ChangeRefused` unless ``action`` on ``obj`` is allowed."""
        if self.is_lab:
            return
        label = f"{action} on {_label(obj)}"
        if not self.allow_changes:
            raise ChangeRefused(
                f"Refused: {label}. {where} is not the lab simulator, and this session is read-only.",
                fix=HOW,
            )
        if not self.lab_area:
            raise ChangeRefused(f"Refused: {label}. Changes are allowed, but no lab area was named.", fix=HOW)
        wanted = {_normal(a) for a in self.lab_area}
        entity = collector.owner(content, obj)  # a host's network system is judged by its host
        if entity is None:
            raise ChangeRefused(f"Refused: {label}. It belongs to no inventory object labkit can place in the "
                                f"lab area on {where}.", fix="change it from a host or cluster inside the lab area")
        for ancestor, path in collector.ancestors(content, entity):
            if _normal(path) in wanted or ancestor._moId in wanted:
                return
        raise ChangeRefused(
            f"Refused: {label}. It lies outside the lab area {sorted(self.lab_area)} on {where}.",
            fix="move the object into the lab area, or name its folder or resource pool in lab_area",
        )


def _normal(path: str) -> str:
    path = str(path).strip()
    if path.startswith(("/", )) or "/" in path:
        return "/" + path.strip("/")
    return path  # a managed object id such as group-v42


def _label(obj) -> str:
    kind = type(obj).__name__.split(".")[-1]
    try:
        return f"{kind} '{obj.name}'"  # one read, on the refusal path only
    except Exception:
        return f"{kind} {getattr(obj, '_moId', obj)}"
