"""Exercise checks: one registry, one deterministic line of feedback.

A lesson registers each exercise with its points, hints and a checker; the
learner calls ``labkit.exercises.check("00.cluster-hosts", answer)`` and reads
one line: a pass, or a fail with the next hint. Checkers compare against the
lab world itself (the live inventory), never against a stored answer, and no
message ever contains the expected answer.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .errors import LabkitError


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    points: int
    hints: tuple[str, ...]
    checker: Callable[[Any, Any], bool | str]  # (answer, session) -> True, False, or a reason


@dataclasses.dataclass(frozen=True)
class Result:
    id: str
    passed: bool
    points: int
    max_points: int
    line: str

    def __str__(self) -> str:
        return self.line

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):  # IPython shows the line, not the dataclass
        p.text(self.line)


REGISTRY: dict[str, Exercise] = {}
_attempts: dict[str, int] = {}


def exercise(id: str, title: str, *, points: int = 1, hints: tuple[str, ...] = ()):
    """Decorator registering ``checker(answer, session)`` under ``id``."""
    def register(fn):
        REGISTRY[id] = Exercise(id, title, points, tuple(hints), fn)
        return fn
    return register


def check(id: str, answer: Any, session=None) -> Result:
    """Check ``answer`` for exercise ``id``; the returned verdict shows as one line."""
    from . import connection

    _load_lessons()
    if id not in REGISTRY:
        raise LabkitError(f"There is no exercise '{id}'.", fix=f"use one of: {', '.join(sorted(REGISTRY))}")
    ex = REGISTRY[id]
    if answer is None or answer is Ellipsis:
        line = f"[ ] {id} {ex.title}: no answer yet (0/{ex.points}). Replace the placeholder with your answer."
        result = Result(id, False, 0, ex.points, line)
    else:
        session = session or connection.current()
        try:
            verdict = ex.checker(answer, session)
        except (TypeError, ValueError, AttributeError, KeyError) as e:
            verdict = f"the answer has the wrong shape ({type(e).__name__})"
        if verdict is True:
            _attempts.pop(id, None)
            result = Result(id, True, ex.points, ex.points, f"[x] {id} {ex.title}: correct ({ex.points}/{ex.points}).")
        else:
            n = _attempts.get(id, 0)
            _attempts[id] = n + 1
            hint = ex.hints[min(n, len(ex.hints) - 1)] if ex.hints else "look again at the lesson above."
            reason = f" {verdict[0].upper()}{verdict[1:]}." if isinstance(verdict, str) and verdict else ""
            result = Result(id, False, 0, ex.points, f"[ ] {id} {ex.title}: not yet (0/{ex.points}).{reason} Hint: {hint}")
    return result


def _load_lessons() -> None:
    from . import lessons  # noqa: F401  registers every lesson's exercises
