"""A pytest plugin for grading: records each nbval cell's outcome with its cell id and exercise.

Loaded by ``labkit grade`` as ``-p labkit._nbval_report --labkit-report FILE``.
"""
from __future__ import annotations

import json
import re

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")

_records: list[dict] = []
MAX_MESSAGE = 2000


def pytest_addoption(parser):
    parser.addoption("--labkit-report", default=None, help="write cell outcomes to this JSON file")


def _message(report) -> str:
    text = ANSI.sub("", str(report.longrepr or ""))
    if "KeyboardInterrupt" in text or "Cell execution timed out" in text:
        return "it ran past the time limit for one cell and was stopped"
    for line in text.splitlines():
        if "ExerciseFailed:" in line:
            return line[line.index("ExerciseFailed:") + len("ExerciseFailed:"):].strip()[:MAX_MESSAGE]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:MAX_MESSAGE]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if cell is None or report.when != "call":
        return
    meta = cell.get("metadata", {})
    _records.append({
        "cell": cell.get("id"),
        "exercise": meta.get("labkit", {}).get("exercise"),
        "tags": list(meta.get("tags", [])),
        "outcome": report.outcome,
        "message": "" if report.passed else _message(report),
    })


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--labkit-report")
    if path:
        with open(path, "w") as fh:
            json.dump(_records, fh)
