"""Test session set-up shared by the unit tests and the notebooks (nbval).

Every test run gets a lab simulator of its own: LABKIT_STATE_DIR points at a
fresh folder before anything starts, and the kernels that nbval starts inherit
it, so notebooks and tests never touch a learner's running simulator. The
simulator is stopped when the session ends.
"""
import os
import shutil
import tempfile

import pytest

from labkit._nbval_plotly import pytest_collectstart  # noqa: F401  nbval: skip plotly's JSON

_OWN_STATE = None

#: The files that take longest, longest first (measured with --durations). `make test` runs them first, with
#: --no-loadscope-reorder, so that two workers finish together instead of one waiting on a late long file.
#: xdist hands each worker two files to start with: the browser worker's second is a short one, so that the
#: grading suite starts at once on the other worker.
LONGEST_FIRST = ("tests/test_browser.py", "tests/test_binder.py", "tests/test_notebooks.py",
                 "tests/test_ansible_inventory.py", "tests/test_ansible_vms.py", "tests/test_grading.py",
                 "notebooks/03b-real-precopy.ipynb", "tests/test_compat.py", "tests/test_realmigration.py",
                 "tests/test_conformance.py", "tests/test_estate_lesson.py", "notebooks/08-your-own-estate.ipynb",
                 "tests/test_scenarios.py", "tests/test_vmotion_checks.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Put the longest files first; within a file, tests (and a notebook's cells) keep their order."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def pytest_configure(config):
    global _OWN_STATE
    if not os.environ.get("LABKIT_TEST_KEEP_STATE_DIR"):
        _OWN_STATE = tempfile.mkdtemp(prefix="labkit-test-state-")
        os.environ["LABKIT_STATE_DIR"] = _OWN_STATE


def pytest_unconfigure(config):
    if _OWN_STATE:
        from labkit import sim

        try:
            sim.stop()
        finally:
            shutil.rmtree(_OWN_STATE, ignore_errors=True)


#: Notebooks that measure this machine: a real QEMU migration's outcome (does auto-converge throttle the
#: guest?) depends on the CPU time its guest gets, and a learner runs the lesson with the machine to itself.
MEASURES_THE_MACHINE = ("notebooks/03b-real-precopy.ipynb",)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Give such a notebook's kernel, and so the QEMU guests it starts, priority over the other test worker.
    Needs root (CI runs as root); elsewhere the kernel keeps the usual priority.

    After each exercise's test cell, judge three answers in every place (:func:`_judge_in_every_place`).
    """
    if item.nodeid.split("::")[0] in MEASURES_THE_MACHINE:
        kernel = getattr(getattr(item, "parent", None), "kernel", None)
        process = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "process", None)
        if process is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, process.pid, -10)
            except OSError:
                pass
    result = yield  # a failing cell raises here, and is not judged further
    _judge_in_every_place(item)
    return result


def _judge_in_every_place(item) -> None:
    """After an exercise's test cell of a lesson, in the lesson's own kernel: a right, a wrong and a wrong-type
    answer get the same points in the notebook as in grading (tests/agreement.py). A difference fails the cell."""
    cell = getattr(item, "cell", None)
    if cell is None or not item.nodeid.startswith("notebooks/") or "test" not in cell.metadata.get("tags", []):
        return
    import json
    from queue import Empty

    exercise = cell.metadata["labkit"]["exercise"]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests")
    code = (f"import json as _j, sys as _s\n_s.path.insert(0, {here!r})\nimport agreement as _agreement\n"
            f"print('AGREEMENT ' + _j.dumps(_agreement.judge({exercise!r}, globals())))")
    kernel = item.parent.kernel
    msg_id = kernel.execute_cell_input(code, allow_stdin=False)
    kernel.await_reply(msg_id, timeout=120)
    text = []
    while True:
        try:
            msg = kernel.get_message(stream="iopub", timeout=30)
        except Empty:
            break
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            text.append("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    found = [line for line in "".join(text).splitlines() if line.startswith("AGREEMENT ")]
    if not found:
        raise AssertionError(f"{exercise}: the agreement check did not run: {''.join(text)[-2000:]}")
    import sys

    sys.path.insert(0, here)
    import agreement

    problems = agreement.verdicts_agree(json.loads(found[-1].removeprefix("AGREEMENT ")))
    assert not problems, f"{exercise}: " + "; ".join(problems)
