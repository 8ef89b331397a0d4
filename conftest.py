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
