"""Errors a learner can act on.

Every error labkit raises on purpose is a :class:`LabkitError`: one short
message that says what went wrong and the one thing to do about it. In a
notebook they print as a single line instead of a traceback (see
:mod:`labkit._display`); on the command line ``labkit`` prints the message and
exits non-zero.
"""
from __future__ import annotations


class LabkitError(Exception):
    """Base class: ``str(error)`` is the whole message, fix included."""

    #: the command or call that fixes it, when there is exactly one
    fix: str | None = None

    def __init__(self, message: str, *, fix: str | None = None):
        super().__init__(message)
        if fix is not None:
            self.fix = fix

    def __str__(self) -> str:
        msg = super().__str__()
        if self.fix and self.fix not in msg:
            return f"{msg} Fix: {self.fix}"
        return msg


# -- the lab simulator -------------------------------------------------------
class SimulatorError(LabkitError):
    """The lab simulator could not be built, started or stopped."""


class SimulatorNotBuilt(SimulatorError):
    fix = "labkit sim build"


class BuildError(SimulatorError):
    """Compiling the simulator failed (toolchain or sources missing)."""


# -- reaching an endpoint ----------------------------------------------------
class ConnectionFailed(LabkitError):
    """Base class for errors while connecting to vCenter or the simulator."""


class MalformedURL(ConnectionFailed):
    pass


class SimulatorNotRunning(ConnectionFailed):
    fix = "labkit sim start"


class EndpointUnreachable(ConnectionFailed):
    pass


class InvalidLogin(ConnectionFailed):
    pass


class UntrustedCertificate(ConnectionFailed):
    pass


class CallTimeout(ConnectionFailed):
    pass


# -- changing inventory ------------------------------------------------------
class ChangeRefused(LabkitError):
    """The change guard refused to change a non-lab endpoint."""


# -- tasks -------------------------------------------------------------------
class TaskFailed(LabkitError):
    """A vCenter task ended in state ``error``.

    ``fault_type`` is the vSphere fault name (``InvalidPowerState``),
    ``fault`` the pyVmomi fault object itself.
    """

    def __init__(self, message: str, *, fault_type: str, fault=None):
        super().__init__(message)
        self.fault_type = fault_type
        self.fault = fault


class TaskTimeout(LabkitError):
    pass


# -- models ------------------------------------------------------------------
class InvalidInput(LabkitError, ValueError):
    """A model was given a value it cannot use: a word, a negative size, zero bandwidth."""
