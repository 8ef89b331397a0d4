"""The lab world's own endpoints, beside its vSphere API: its clock, its vmkping and the log of methods it served.

A real vCenter has neither. The lab serves them at ``/labkit/...`` on the simulator's address, to its user name
and password (HTTP basic authentication); :func:`get` finds both from a labkit session.
"""
from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

from .errors import LabkitError


def _state(session):
    """The simulator state (url, username, password) of a session on the lab, or a clear error."""
    world = getattr(session, "world", None)
    if world is not None:
        return world.state
    if getattr(session, "is_lab", False):
        from . import sim

        st = sim.status()
        if st.sim is not None:
            return st.sim
    raise LabkitError(f"{getattr(session, 'where', 'This session')} is not the lab world: this runs only there.",
                      fix="connect to the lab (labkit.connect(scenario=...)), or run the command on the ESXi host")


def get(session, path: str, **params) -> dict:
    """GET ``/labkit/<path>`` of the session's lab world with ``params``; the JSON answer as a dict.

    Raises LabkitError with the lab's one-line reason for a refused request (an unknown host or adapter).
    """
    st = _state(session)
    split = urllib.parse.urlsplit(st.url)
    url = urllib.parse.urlunsplit((split.scheme, split.netloc, f"/labkit/{path}",
                                   urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}), ""))
    token = base64.b64encode(f"{st.username}:{st.password}".encode()).decode()
    req = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        # the lab's certificate is its own, on the loopback address (as connect() trusts it)
        with urllib.request.urlopen(req, timeout=30, context=ssl._create_unverified_context()) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        reason = e.read().decode(errors="replace").strip() or e.reason
        raise LabkitError(f"The lab refused {path}: {reason}.") from None
    except urllib.error.URLError as e:
        raise LabkitError(f"The lab world at {st.url} did not answer ({e.reason}).",
                          fix="reconnect: labkit.connect(scenario=...)") from None


def clock(session) -> dict:
    """The lab's clock: ``{"timeScale": simulated seconds per real second, "simSeconds": its time now}``."""
    return get(session, "clock")


def time_scale(session) -> float:
    """Simulated seconds per real second in the session's lab world."""
    return float(clock(session)["timeScale"])


def served_methods(session, since: int = 0) -> tuple[list[str], int]:
    """The names of the SOAP methods the lab served, in order, from the ``since``-th on (counted from 0 since the
    lab started; the oldest roll off after 200,000), and the number the next one will have: pass it as ``since``
    to read only what came after. Every client's calls count, this session's own included."""
    answer = get(session, "methods", since=since)
    return list(answer["methods"]), int(answer["next"])
