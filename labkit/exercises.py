"""Exercise checks: one registry, one deterministic line of feedback.

A lesson registers each exercise with its points, hints and a checker; the
learner calls ``labkit.exercises.check("00.cluster-hosts", answer)`` and reads
one line: a pass, or a fail with the next hint. Checkers compare against the
lab world itself (the live inventory), never against a stored answer, and no
message ever contains the expected answer.

When a notebook is graded (``LABKIT_GRADING=1``, set by ``labkit grade`` and
``labkit check``), a failed check raises :class:`ExerciseFailed`, so the test
cell fails under nbval and the grade follows the cell. The notebook, ``labkit
check`` and ``labkit grade`` run this same function on the same answer, so
they give the same points.

An exercise that needs the lab names its ``world``: the scenario it is set in.
It is checked in this kernel's world of that scenario (:mod:`labkit.sim.worlds`),
whatever the lesson's later cells opened; a closed session is replaced by a new
login to the same world. When that world is not running, has been restarted
since the answer was made, or stops answering, the check says in one line what
to re-run and gives no verdict.
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
    world: str | None = None                   # the lab scenario it is set in; None: checked without the lab

    @property
    def needs_session(self) -> bool:
        return self.world is not None


@dataclasses.dataclass(frozen=True)
class Result:
    id: str
    passed: bool
    points: int
    max_points: int
    line: str
    checked: bool = True  # False: no verdict (the answer's lab world is gone or has moved on)

    def __str__(self) -> str:
        return self.line

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):  # IPython shows the line, not the dataclass
        p.text(self.line)

    def _ipython_display_(self):
        """Show the line once: check() shows it as soon as it is known, so that nothing after the check in
        its cell (a hidden test, say) can hide it, and the cell's value then shows nothing more."""
        if getattr(self, "_shown", False):
            return
        object.__setattr__(self, "_shown", True)
        from IPython.display import display

        display({"text/plain": self.line}, raw=True)


#: what a checker returns when the answer is still the release's placeholder
#: (say, a function whose body is ``return ...``)
NOT_ANSWERED = object()


class ExerciseFailed(LabkitError, AssertionError):
    """A check that did not pass, raised only while grading."""


REGISTRY: dict[str, Exercise] = {}
_attempts: dict[str, int] = {}


class WrongType(TypeError):
    """An answer of the wrong kind; its message says which kind is wanted (shown to the learner)."""


def exercise(id: str, title: str, *, world: str | None, points: int = 1, hints: tuple[str, ...] = ()):
    """Decorator registering ``checker(answer, session)`` under ``id``.

    ``world`` is the lab scenario the exercise is set in (the scenario of the
    lesson's ``connect`` cell above it), or None when it is checked without the
    lab; the checker then gets ``session=None``.
    """
    def register(fn):
        REGISTRY[id] = Exercise(id, title, points, tuple(hints), fn, world)
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
    """Check ``answer`` for exercise ``id``; the verdict shows at once, as one line, and is returned.

    ``session`` overrides the exercise's own world (an instructor checking
    against a vCenter of their own). Never raises for a learner's answer,
    except :class:`ExerciseFailed` while grading.
    """
    ex = get(id)
    no_answer = f"[ ] {id} {ex.title}: no answer yet (0/{ex.points}). Replace the placeholder with your answer."
    not_checked = f"[ ] {id} {ex.title}: not checked (0/{ex.points})."
    if answer is None or answer is Ellipsis:
        result = Result(id, False, 0, ex.points, no_answer)
    else:
        problem = None
        if ex.world is not None and session is None:
            session, problem = _session_in_world(ex, answer)
        verdict, wrong_kind = None, False
        if problem is None:
            try:
                verdict = ex.checker(answer, session)
            except WrongType as e:
                verdict, wrong_kind = str(e), True
            except _LOST as e:
                problem = _lost(ex, e)
            except (TypeError, ValueError, AttributeError, KeyError, IndexError) as e:
                verdict = f"the answer has the wrong shape ({type(e).__name__})"
            except Exception as e:  # the learner's own function, called by the checker, failed
                verdict = f"checking it raised {type(e).__name__}: {_first_line(e)}"
        if problem is not None:
            result = Result(id, False, 0, ex.points, f"{not_checked} {problem}", checked=False)
        elif verdict is NOT_ANSWERED:
            result = Result(id, False, 0, ex.points, no_answer)
        elif verdict is True:
            _attempts.pop(id, None)
            result = Result(id, True, ex.points, ex.points, f"[x] {id} {ex.title}: correct ({ex.points}/{ex.points}).")
        else:
            n = _attempts.get(id, 0)
            if wrong_kind:  # an answer of the wrong kind is not a try: it keeps the hint the learner has reached
                n = max(n - 1, 0)
            else:
                _attempts[id] = n + 1
            hint = ex.hints[min(n, len(ex.hints) - 1)] if ex.hints else "look again at the lesson above."
            reason = f" {verdict[0].upper()}{verdict[1:]}." if isinstance(verdict, str) and verdict else ""
            result = Result(id, False, 0, ex.points, f"[ ] {id} {ex.title}: not yet (0/{ex.points}).{reason} Hint: {hint}")
    if grading() and not result.passed:
        raise ExerciseFailed(result.line)
    _show(result)
    return result


def _show(result: Result) -> None:
    """Display the verdict now when running in a notebook (see Result._ipython_display_)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None and hasattr(get_ipython(), "kernel"):
        result._ipython_display_()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else "no message"


def _lost_errors() -> tuple[type[BaseException], ...]:
    import http.client

    from pyVmomi import vim

    return (OSError, http.client.HTTPException, vim.fault.NotAuthenticated)


_LOST = _lost_errors()


def _rerun(world: str) -> str:
    return (f'run the cell with labkit.connect(scenario="{world}") and the cells after it down to this one, '
            "then check again")


def _lost(ex: Exercise, e: BaseException) -> str:
    return f"Its lab world (scenario {ex.world}) stopped answering ({type(e).__name__}): {_rerun(ex.world)}."


def _session_in_world(ex: Exercise, answer) -> tuple[Any, str | None]:
    """A session on the exercise's own world, or the line that says what to re-run instead."""
    from . import cells, connection
    from .sim import worlds

    world = worlds.get(ex.world)
    if world is None:
        return None, f"Its lab world (scenario {ex.world}) is not running in this notebook: {_rerun(ex.world)}."
    made = getattr(answer, "world", None)
    if made is not None and made != world:
        return None, (f"This answer was made in another lab world ({made.label}, start {made.generation}), "
                      f"not in this exercise's ({world.label}, start {world.generation}): {_rerun(ex.world)}.")
    cell = cells.made_in(answer)
    if made is None and cell is not None and cell < world.started_at_cell:
        return None, (f"This answer was worked out before its lab world (scenario {ex.world}) was started again: "
                      f"{_rerun(ex.world)}.")
    try:
        return connection.session_for(world), None
    except LabkitError as e:
        why = e.args[0] if e.args else e
        return None, f"Cannot log in to its lab world (scenario {ex.world}): {why} {_rerun(ex.world)}."


# -- comparing answers --------------------------------------------------------
def same_number(answer, truth, *, rel: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Numbers equal within a relative (default one in a million) or absolute tolerance.

    Text is not a number: ``"3"`` raises :class:`WrongType`, the same in the
    notebook, in ``labkit check`` and in ``labkit grade``.
    """
    if isinstance(answer, bool) or isinstance(truth, bool):
        raise WrongType("give a number, not True or False")
    if isinstance(answer, (str, bytes)):
        raise WrongType(f"give a number, not the text {str(answer)[:20]!r}: int(...) or float(...) turns text into one")
    a, t = float(answer), float(truth)
    return math.isclose(a, t, rel_tol=rel, abs_tol=abs_tol)


def whole_number(answer) -> int:
    """The answer as an int when it is a whole number (an int, or a float such as 3.0); text, True/False and
    fractions raise :class:`WrongType`, alike in the notebook, ``labkit check`` and ``labkit grade``."""
    if isinstance(answer, (str, bytes)):
        raise WrongType(f"give a whole number, not the text {str(answer)[:20]!r}: int(...) turns text into one")
    if isinstance(answer, bool):
        raise WrongType("give a whole number, not True or False")
    value = float(answer)
    if not value.is_integer():
        raise WrongType(f"give a whole number, not {value:g}")
    return int(value)


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
