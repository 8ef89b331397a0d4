"""Exercise checks: one registry, one deterministic line of feedback.

A lesson registers each exercise with its points, hints and a checker; the
learner calls ``labkit.exercises.check("00.cluster-hosts", answer)`` and reads
one line: a pass, or a fail with the next hint. Checkers compare against the
lab world itself (the live inventory), never against a stored answer, and no
message ever contains the expected answer.

When a notebook is graded (``LABKIT_GRADING=1``, set by ``labkit grade``), a
failed check raises :class:`ExerciseFailed`, so the test cell fails under
nbval and the grade follows the cell.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable
from typing import Any

from .errors import LabkitError


@dataclasses.dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    points: int
    hints: tuple[str, ...]
    checker: Callable[[Any, Any], bool | str]  # (answer, session) -> True, False, or a reason
    needs_session: bool = True                 # False: checked without vCenter (the real-QEMU lesson)


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


#: what a checker returns when the answer is still the release's placeholder
#: (say, a function whose body is ``return ...``)
NOT_ANSWERED = object()


class ExerciseFailed(LabkitError, AssertionError):
    """A check that did not pass, raised only while grading."""


REGISTRY: dict[str, Exercise] = {}
_attempts: dict[str, int] = {}


def exercise(id: str, title: str, *, points: int = 1, hints: tuple[str, ...] = (), needs_session: bool = True):
    """Decorator registering ``checker(answer, session)`` under ``id``."""
    def register(fn):
        REGISTRY[id] = Exercise(id, title, points, tuple(hints), fn, needs_session)
        return fn
    return register


def grading() -> bool:
    return os.environ.get("LABKIT_GRADING") == "1"


def get(id: str) -> Exercise:
    _load_lessons()
    if id not in REGISTRY:
        raise LabkitError(f"There is no exercise '{id}'.", fix=f"use one of: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[id]


def check(id: str, answer: Any, session=None) -> Result:
    """Check ``answer`` for exercise ``id``; the returned verdict shows as one line."""
    from . import connection

    ex = get(id)
    no_answer = f"[ ] {id} {ex.title}: no answer yet (0/{ex.points}). Replace the placeholder with your answer."
    if answer is None or answer is Ellipsis:
        result = Result(id, False, 0, ex.points, no_answer)
    else:
        session = session or (connection.current() if ex.needs_session else connection.current_or_none())
        try:
            verdict = ex.checker(answer, session)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as e:
            verdict = f"the answer has the wrong shape ({type(e).__name__})"
        if verdict is NOT_ANSWERED:
            result = Result(id, False, 0, ex.points, no_answer)
        elif verdict is True:
            _attempts.pop(id, None)
            result = Result(id, True, ex.points, ex.points, f"[x] {id} {ex.title}: correct ({ex.points}/{ex.points}).")
        else:
            n = _attempts.get(id, 0)
            _attempts[id] = n + 1
            hint = ex.hints[min(n, len(ex.hints) - 1)] if ex.hints else "look again at the lesson above."
            reason = f" {verdict[0].upper()}{verdict[1:]}." if isinstance(verdict, str) and verdict else ""
            result = Result(id, False, 0, ex.points, f"[ ] {id} {ex.title}: not yet (0/{ex.points}).{reason} Hint: {hint}")
    if grading() and not result.passed:
        raise ExerciseFailed(result.line)
    return result


# -- comparing answers --------------------------------------------------------
def same_number(answer, truth, *, rel: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Numbers equal within a relative (default one in a million) or absolute tolerance."""
    if isinstance(answer, bool) or isinstance(truth, bool):
        raise TypeError("a boolean is not a number here")
    a, t = float(answer), float(truth)
    return math.isclose(a, t, rel_tol=rel, abs_tol=abs_tol)


def as_names(answer) -> set[str]:
    """A set of names from a list, tuple, set or pandas Series (not from one string)."""
    if isinstance(answer, (str, bytes)):
        raise TypeError("a single string")
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
    if not isinstance(answer, Iterable):
        raise TypeError("not a collection")
    return {str(a).strip() for a in answer}


def same_names(answer, truth: Iterable[str]) -> bool | str:
    """The same set of names, order and duplicates aside; says what is off without naming it."""
    names, expected = as_names(answer), {str(t) for t in truth}
    if names == expected:
        return True
    if names < expected:
        return f"{len(expected - names)} name(s) missing"
    if names > expected:
        return f"{len(names - expected)} name(s) too many"
    return f"{len(names - expected)} name(s) should not be there and {len(expected - names)} are missing"


def same_frame(answer, truth, *, key: str | None = None, rtol: float = 1e-6) -> bool | str:
    """Two DataFrames with the same columns (any order) and rows (sorted by ``key``), numbers within rtol."""
    import pandas as pd

    if not isinstance(answer, pd.DataFrame):
        raise TypeError("not a DataFrame")
    missing = [c for c in truth.columns if c not in answer.columns]
    if missing:
        return f"column(s) {', '.join(map(str, missing))} missing"
    extra = [c for c in answer.columns if c not in truth.columns]
    if extra:
        return f"column(s) {', '.join(map(str, extra))} not asked for"
    if len(answer) != len(truth):
        return f"{len(answer)} rows where {len(truth)} were expected"
    a, t = answer[list(truth.columns)], truth
    by = [key] if key else list(truth.columns)
    try:
        a = a.sort_values(by, kind="stable").reset_index(drop=True)
        t = t.sort_values(by, kind="stable").reset_index(drop=True)
    except TypeError:  # unsortable cells (lists): keep the given order
        a, t = a.reset_index(drop=True), t.reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(a, t, check_dtype=False, check_exact=False, rtol=rtol)
    except AssertionError:
        return "some values differ"
    return True


def _load_lessons() -> None:
    from . import lessons  # noqa: F401  registers every lesson's exercises
