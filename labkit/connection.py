"""Connect to the lab simulator or to a real vCenter.

>>> session = labkit.connect()                      # the lab simulator, started if needed
>>> session = labkit.connect("vc.example.com", user="me@vsphere.local", password=...)
>>> session = labkit.connect(env=True)               # GOVC_URL, GOVC_USERNAME, ...

A session is a context manager and logs out on exit. Certificates are verified
for every endpoint except the lab simulator on loopback, unless you pass
``insecure=True``. Passwords are never stored on the session, never shown in a
repr, a log line or a message.
"""
from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Iterable

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from . import endpoint as _endpoint
from . import sim
from .errors import (
    CallTimeout,
    EndpointUnreachable,
    InvalidLogin,
    LabkitError,
    SimulatorError,
    SimulatorNotRunning,
    UntrustedCertificate,
)
from .guard import ChangeGuard
from .sim import worlds

DEFAULT_TIMEOUT_S = 30.0
_open: list[Session] = []  # open sessions, oldest first


def current() -> Session:
    """The most recently opened session that is still open."""
    if not _open:
        raise LabkitError("No open session.", fix="run the lesson's labkit.connect(scenario=...) cell again")
    return _open[-1]


def current_or_none() -> Session | None:
    """The most recently opened session, or None when none is open (lessons that need no vCenter)."""
    return _open[-1] if _open else None


class Session:
    """A logged-in vSphere API session (pyVmomi ServiceInstance inside)."""

    def __init__(self, si, ep: _endpoint.Endpoint, user: str, guard: ChangeGuard, timeout: float, world=None):
        self.si = si
        self.world = world  # the labkit.sim.worlds.World it is logged in to, or None (a real vCenter)
        self.content = si.RetrieveContent()
        self.endpoint = ep
        self.user = user
        self.guard = guard
        self.timeout = timeout
        self.closed = False

    # -- identity ------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def is_lab(self) -> bool:
        return self.guard.is_lab

    @property
    def where(self) -> str:
        return "the lab simulator" if self.is_lab else self.url

    def __repr__(self) -> str:
        kind = "lab simulator" if self.is_lab else ("changes allowed in lab area" if self.guard.allow_changes else "read-only")
        state = "closed" if self.closed else kind
        return f"<labkit.Session {self.user} at {self.url} ({state})>"

    # -- changing inventory ----------------------------------------------------
    def change(self, obj, method: str, *args, action: str | None = None, task_timeout: float | None = None,
               progress: bool = True, on_update=None, **kwargs):
        """Call a changing API method through the change guard and wait for its task.

        ``session.change(vm, "PowerOffVM_Task")`` checks the guard, calls
        ``vm.PowerOffVM_Task()``, waits with a progress bar and returns the
        task's result, or raises :class:`~labkit.errors.TaskFailed` with
        vCenter's fault. Other keyword arguments go to the API method;
        ``task_timeout`` bounds the wait (the API's own ``timeout`` is free),
        and ``on_update(info)`` sees each TaskInfo update while it waits.
        """
        from .tasks import wait_for_task

        self.guard.check(self.content, obj, action or method, self.where)
        result = getattr(obj, method)(*args, **kwargs)
        if isinstance(result, vim.Task):
            return wait_for_task(self, result, timeout=task_timeout, progress=progress, on_update=on_update)
        return result

    # -- lifetime --------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        with contextlib.suppress(Exception):
            self.content.sessionManager.Logout()
        with contextlib.suppress(Exception):
            Disconnect(self.si)
        self.closed = True
        if self in _open:
            _open.remove(self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(url: str | None = None, *, user: str | None = None, password: str | None = None,
            env: bool = False, insecure: bool | None = None, cafile: str | None = None,
            timeout: float = DEFAULT_TIMEOUT_S, allow_changes: bool = False,
            lab_area: Iterable[str] = (), lab: bool | None = None, reset: bool = False,
            scenario: str | None = None, sim_flags: Iterable[str] | None = None) -> Session:
    """Open a session.

    With no ``url`` (and ``env`` false) this is a lab world of this kernel's own
    (:mod:`labkit.sim.worlds`): ``scenario="healthy-cluster"`` starts that lab
    scenario pristine, in a simulator no other kernel or lesson can change, and
    leaves this kernel's other worlds running. With no scenario it is the
    world this kernel used last, or else a new world of ``$LABKIT_SCENARIO``
    (the generated inventory when unset); ``reset=True`` restarts that world
    pristine. ``sim_flags`` are extra simulator flags for a new world
    (``["-migration-seconds", "0.02"]``). Each world ends with its kernel.
    With ``env=True`` the address and login come from govc's variables
    ``GOVC_URL``, ``GOVC_USERNAME``, ``GOVC_PASSWORD``, ``GOVC_INSECURE``,
    ``GOVC_TLS_CA_CERTS``.

    ``lab=False`` treats even the simulator as a real vCenter (to rehearse the
    change guard). On a real vCenter, changes need ``allow_changes=True`` and a
    ``lab_area`` of folder or resource pool paths.
    """
    lab_area = _arguments(url, timeout, scenario, sim_flags, lab_area)
    if env:
        url = url or os.environ.get("GOVC_URL")
        if not url:
            raise _endpoint.MalformedURL("GOVC_URL is not set.", fix="export GOVC_URL=https://vcenter.example.com/sdk")
        user = user or os.environ.get("GOVC_USERNAME")
        password = password if password is not None else os.environ.get("GOVC_PASSWORD")
        cafile = cafile or os.environ.get("GOVC_TLS_CA_CERTS")
        if insecure is None and os.environ.get("GOVC_INSECURE", "").lower() in ("1", "true", "yes"):
            insecure = True

    if url is not None and (scenario is not None or reset or sim_flags is not None):
        given = ", ".join(n for n, v in (("scenario=", scenario is not None), ("reset=True", reset),
                                          ("sim_flags=", sim_flags is not None)) if v)
        raise LabkitError(f"{given} chooses a lab world, and a URL ({url}) connects to a vCenter as it is.",
                          fix=f"connect({given.split('=')[0]}=...) without the URL for a lab world, or the URL alone")
    managed = url is None
    world = None
    if managed:
        world = _world(scenario, reset, sim_flags)
        state = world.state
        ep = _endpoint.parse(state.url)
        user, password = state.username, state.password
    else:
        ep = _endpoint.parse(url)
        user = user or ep.user
        password = password if password is not None else ep.password
        if not user or password is None:
            raise InvalidLogin(f"No user name or password given for {ep.url}.",
                               fix="connect(url, user=..., password=...) or set GOVC_USERNAME and GOVC_PASSWORD")
        managed = _is_managed_simulator(ep)
        world = worlds.find(ep.url) if managed else None

    is_lab = managed if lab is None else (lab and managed)
    context = _ssl_context(ep, insecure=insecure if insecure is not None else managed, cafile=cafile)
    si = _login(ep, user, password, context, timeout, managed)
    guard = ChangeGuard(is_lab=is_lab, allow_changes=allow_changes, lab_area=lab_area)
    session = Session(si, ep, user, guard, timeout, world)
    _open.append(session)
    return session


def _arguments(url, timeout, scenario, sim_flags, lab_area) -> tuple[str, ...]:
    """Check connect()'s arguments before anything starts or stops; returns ``lab_area`` as a tuple of paths.

    Raises :class:`LabkitError` (one line) for a wrong type or value. A single string for ``lab_area`` is one
    path (``tuple("vm/lab")`` would be six one-letter paths).
    """
    if url is not None and not isinstance(url, str):
        raise LabkitError(f"url= is a {type(url).__name__}, not an address.",
                          fix="connect('https://vcenter.example.com/sdk', user=..., password=...)")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0 \
            or timeout == float("inf"):
        raise LabkitError(f"timeout={timeout!r} is not a number of seconds greater than 0.",
                          fix=f"connect(..., timeout={DEFAULT_TIMEOUT_S:g}) or leave it out")
    if scenario is not None and (not isinstance(scenario, str) or not scenario.strip()):
        raise LabkitError(f"scenario={scenario!r} is not a scenario name.",
                          fix="connect(scenario='healthy-cluster'), or leave scenario out for the world of "
                              "$LABKIT_SCENARIO; labkit scenarios lists them")
    if sim_flags is not None and not _strings(sim_flags):
        raise LabkitError(f"sim_flags={sim_flags!r} is not a list of simulator flags.",
                          fix='give one string per word: sim_flags=["-migration-seconds", "0.02"]')
    if isinstance(lab_area, str):
        return (lab_area,)
    if not _strings(lab_area):
        raise LabkitError(f"lab_area={lab_area!r} is not a list of folder or resource pool paths.",
                          fix="lab_area=['vm/lab'] (inventory paths, as govc writes them)")
    return tuple(lab_area)


def _strings(value) -> bool:
    """Is ``value`` a list or tuple of strings (not one string, not a number)?"""
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _world(scenario: str | None, reset: bool, flags: Iterable[str] | None):
    """The world a managed connect() logs in to (see :func:`connect`)."""
    from . import cells

    cells.install()
    if scenario is not None or flags is not None:
        return worlds.open(scenario or worlds.GENERATED, args=list(flags or ()), fresh=True)
    gone = worlds.lost()
    if gone is not None:  # not silently another world: the learner's changes are gone, and the lesson's checks would
        if reset:         # judge a world it never set
            return worlds.open(gone.scenario, args=gone.args, fresh=True)
        again = f"scenario={gone.scenario!r}" if gone.scenario else "reset=True"
        raise SimulatorError(f"The lab world of {gone.label} has stopped unexpectedly; its log is "
                             f"{gone.folder / 'sim.log'}.",
                             fix=f"labkit.connect({again}) starts it again, pristine")
    last = worlds.latest()
    if last is not None:
        return worlds.open(last.scenario, args=last.args, fresh=True) if reset else last
    return worlds.open(os.environ.get("LABKIT_SCENARIO", worlds.GENERATED), fresh=True)


def session_for(world) -> Session:
    """An open session on ``world``: the newest one open, or a new login (the world's own credentials)."""
    for s in reversed(_open):
        if s.world == world and not s.closed:
            return s
    return connect(world.url, user=world.state.username, password=world.state.password)


def _is_managed_simulator(ep: _endpoint.Endpoint) -> bool:
    """Is this a loopback simulator that labkit itself runs (a world of this kernel, or `labkit sim`)?"""
    if not ep.is_loopback:
        return False
    if worlds.find(ep.url) is not None:
        return True
    st = sim.status()
    if st.sim is None:
        return False
    running = _endpoint.parse(st.sim.url)
    return running.port == ep.port and running.scheme == ep.scheme


def _ssl_context(ep: _endpoint.Endpoint, *, insecure: bool, cafile: str | None) -> ssl.SSLContext | None:
    if ep.scheme != "https":
        return None
    if insecure:
        return ssl._create_unverified_context()  # the user's explicit choice, or the loopback lab simulator
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as e:
        raise UntrustedCertificate(f"Cannot read the CA file {cafile}: {e}.",
                                   fix="pass cafile= the PEM file of the CA that signed the vCenter certificate") from None


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    # pyVmomi's version probe opens its connection without a timeout; bound it.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _login(ep, user, password, context, timeout, managed):
    try:
        with _socket_timeout(timeout):
            return SmartConnect(
                protocol=ep.scheme, host=ep.host, port=ep.port, path=ep.path, user=user, pwd=password,
                sslContext=context, httpConnectionTimeout=timeout,
            )
    except vim.fault.InvalidLogin:
        raise InvalidLogin(
            f"{'The lab simulator' if managed else ep.url} rejected the user name or password for '{user}'.",
            fix=("check user= and password= (or GOVC_USERNAME and GOVC_PASSWORD)" if not managed
                 else "call labkit.connect() with no address; it logs in with the simulator's own login"),
        ) from None
    except ssl.SSLCertVerificationError as e:
        raise UntrustedCertificate(
            f"The certificate of {ep.url} is not trusted ({e.verify_message}).",
            fix=("trust the CA that signed it with connect(url, cafile='vcenter-ca.pem') or GOVC_TLS_CA_CERTS "
                 "(the vCenter start page offers it: https://<vcenter>/certs/download.zip); or, accepting the risk, "
                 "connect(url, insecure=True) or GOVC_INSECURE=1"),
        ) from None
    except TimeoutError:
        raise CallTimeout(f"{ep.url} did not answer within {timeout:g} s.",
                          fix="check that the address is right and reachable, or pass a larger timeout=") from None
    except ConnectionRefusedError:
        if managed or ep.is_loopback:
            elsewhere = _running_simulator_url()
            if elsewhere and elsewhere != ep.url:
                raise SimulatorNotRunning(f"Nothing answers at {ep.url}; the lab simulator runs at {elsewhere}.",
                                          fix=f"connect to {elsewhere}, or call labkit.connect() with no address"
                                          ) from None
            raise SimulatorNotRunning(f"Nothing answers at {ep.url}: the lab simulator is not running there.") from None
        raise EndpointUnreachable(f"{ep.url} refused the connection.",
                                  fix="check the address and port, and that vCenter is up") from None
    except socket.gaierror:
        raise EndpointUnreachable(f"The host name '{ep.host}' cannot be resolved.",
                                  fix="check the spelling, or use the IP address") from None
    except OSError as e:
        raise EndpointUnreachable(f"Cannot reach {ep.url}: {e.strerror or e}.",
                                  fix="check the address and your network") from None
    except Exception as e:  # pyVmomi raises a bare Exception when no vSphere API answers
        if ep.scheme == "http" and _speaks_tls(ep.host, ep.port, timeout):  # https spoken to as http
            secure = "https://" + ep.url.split("://", 1)[1]
            raise EndpointUnreachable(f"{ep.url} does not serve the vSphere API over http.",
                                      fix=f"use https: {secure}") from None
        if "is not a VIM server" in str(e) or "down" in str(e):
            raise EndpointUnreachable(f"{ep.url} answers, but not with the vSphere API.",
                                      fix="check the address; it should be a vCenter or ESXi host") from None
        raise EndpointUnreachable(f"{ep.url} answered in a way labkit does not understand ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''}).",
                                  fix="check the address; it should be a vCenter or ESXi host") from None


def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether host:port completes a TLS handshake (certificate unchecked: only the protocol is asked)."""
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 5)) as raw:
            with ssl._create_unverified_context().wrap_socket(raw, server_hostname=host):
                return True
    except (OSError, ssl.SSLError):
        return False


def _running_simulator_url() -> str | None:
    """The address of the lab simulator `labkit sim` runs, or of this kernel's newest world, if any runs."""
    world = worlds.latest()
    if world is not None:
        return world.url
    st = sim.status()
    return st.sim.url if st.sim is not None else None
