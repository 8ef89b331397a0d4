"""Test session set-up shared by the unit tests and the notebooks (nbval).

Every test run gets a lab simulator of its own: LABKIT_STATE_DIR points at a
fresh folder before anything starts, and the kernels that nbval starts inherit
it, so notebooks and tests never touch a learner's running simulator. The
simulator is stopped when the session ends.
"""
import os
import shutil
import tempfile

from labkit._nbval_plotly import pytest_collectstart  # noqa: F401  nbval: skip plotly's JSON

_OWN_STATE = None


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
