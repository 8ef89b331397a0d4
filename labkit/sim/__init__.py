"""The lab simulator: build it, run it in the background, find it.

>>> from labkit import sim
>>> sim.build()          # once; cached by a hash of the Go source
>>> sim.start()          # or reuse the running one
>>> sim.status().describe()
"""
from .builder import build, built_binary, source_hash
from .process import (DEFAULT_PASSWORD, DEFAULT_USER, SimState, SimStatus, credentials, reset,
                      resolve_binary, start, status, stop, url)

__all__ = [
    "build", "built_binary", "source_hash", "start", "stop", "status", "reset", "url",
    "credentials", "resolve_binary", "SimState", "SimStatus", "DEFAULT_USER", "DEFAULT_PASSWORD",
]
