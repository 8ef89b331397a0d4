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
LONGEST_FIRST = ("tests/test_browser.py", "tests/test_binder.py", "tests/test_notebooks.py", "tests/test_grading.py",
                 "notebooks/03b-real-precopy.ipynb", "tests/test_compat.py", "tests/test_vmotion_checks.py",
                 "tests/test_realmigration.py")


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Give such a notebook's kernel, and so the QEMU guests it starts, priority over the other test worker.

    Needs root (CI runs as root); elsewhere the kernel keeps the usual priority.
    """
    if item.nodeid.split("::")[0] in MEASURES_THE_MACHINE:
        kernel = getattr(getattr(item, "parent", None), "kernel", None)
        process = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "process", None)
        if process is not None:
            try:
                os.setpriority(os.PRIO_PROCESS, process.pid, -10)
            except OSError:
                pass
    yield
