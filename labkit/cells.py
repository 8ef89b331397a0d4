"""Which notebook cell made what: the cell count, and the cell that last set ``answer``.

Every exercise of the course is answered by a cell that sets ``answer``, and
checked by the cell after it. When a learner restarts a lesson's lab world
(re-runs ``labkit.connect(scenario=...)``) and then re-runs only the check,
``answer`` still holds what was worked out in the world before. To tell, this
module numbers the cells a kernel runs (IPython's ``pre_run_cell`` event) and
notes, after each cell (``post_run_cell``), the number of the cell that last
bound ``answer``: one that assigns it (``answer = ...``, read from the cell's
code) or leaves another object in it. Outside IPython nothing is tracked and
:func:`made_in` says None.
"""
from __future__ import annotations

import ast

_count = 0
_answer: tuple[object, int] | None = None  # (the object in `answer`, the cell that bound it)
_installed: set[int] = set()
_MISSING = object()


def current() -> int:
    """The number of the cell running now: 1 for the first cell this kernel ran (0 outside IPython)."""
    return _count


def made_in(answer) -> int | None:
    """The number of the cell that set ``answer`` to this object, or None when that is not known."""
    if _answer is not None and _answer[0] is answer:
        return _answer[1]
    return None


def _assigns_answer(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Name) and node.id == "answer" and isinstance(node.ctx, ast.Store)
               for node in ast.walk(tree))


def install(shell=None) -> bool:
    """Follow the cells of this IPython kernel (once per shell). Returns whether it is following them."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "events"):
        return False
    if id(shell) in _installed:
        return True
    _installed.add(id(shell))
    global _count
    _count += 1  # installed by a running cell (``import labkit``): count it

    def before(info=None):
        global _count
        _count += 1

    def after(result=None):
        global _answer
        now = shell.user_ns.get("answer", _MISSING)
        if now is _MISSING:
            return
        code = getattr(getattr(result, "info", None), "raw_cell", "") or ""
        if _answer is None or _answer[0] is not now or _assigns_answer(code):
            _answer = (now, _count)

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)
    return True
