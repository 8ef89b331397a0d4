"""One PropertyCollector read done in a helper process, while this process reads something else.

pyVmomi turns each XML element of an answer into Python objects in Python (expat callbacks): a read of many
objects' big properties is bound by one core. Two such reads of the same session can run on two cores: one here,
one in a helper process that :func:`start` starts and :meth:`Helper.result` collects.

- The helper is started with multiprocessing's ``spawn`` context, never ``fork``: labkit runs inside Jupyter
  kernels, which have threads (a forked child inherits their locks, held or not). ``spawn`` would import the
  caller's ``__main__`` (a script, a notebook kernel's launcher) again in the helper, running a script's top-level
  code a second time unless it sits under ``if __name__ == "__main__":`` (multiprocessing's "Safe importing of main
  module"). The helper needs nothing of it: ``__main__`` is hidden from multiprocessing while it starts the helper
  (:func:`_main_hidden`), so nothing of the caller's runs there, guarded or not.
- It does not log in. It sends the session's cookie on a connection of its own (pyVmomi's ``SoapStubAdapter``: the
  session's URL, API version, TLS settings and HTTP timeout) and reads through :mod:`labkit.collector` with the
  session's PropertyCollector: which objects, over a ContainerView (``CreateContainerView``,
  ``RetrievePropertiesEx``, ``DestroyView``), then their property (``RetrievePropertiesEx``,
  ``ContinueRetrievePropertiesEx``). It neither logs out nor calls anything else: what vCenter sees is reads this
  process could have made, on a second connection.
- It hands back plain data (:data:`PLAIN` turns a property's value into lists, dicts and strings), and
  ``missingSet`` entries as :func:`labkit.collector.retrieve` lists them.

:meth:`Helper.result` returns None on any failure of the helper (it could not start, died, did not answer within
:data:`READY_S`, or its read raised, a refusal included): the caller then reads in this process, as it would have
without a helper, and meets any refusal itself.
"""
from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import ssl
import sys
import time
import types
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

#: seconds the helper may take to start (spawn, imports, its connection) before it is given up
READY_S = 20.0


def _requirements(value) -> dict[str, str]:
    """``runtime.featureRequirement`` as labkit.compat.facts keys it: {key in lower case: value}."""
    return {r.key.lower(): r.value for r in (value or [])}


#: what each property the helper can read becomes: plain, picklable data
PLAIN = {"runtime.featureRequirement": _requirements}


def cores() -> int:
    """The cores this process may run on."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _login(session) -> dict:
    """What the helper needs to speak for ``session``: URL, API version, cookie, HTTP timeout, TLS settings."""
    stub = session.si._stub
    context = stub.schemeArgs.get("context")
    tls = None
    if context is not None:
        verify = context.verify_mode != ssl.CERT_NONE
        tls = {"verify": verify, "check_hostname": context.check_hostname,
               # the CAs given to connect(cafile=...); none: the system's, as ssl.create_default_context loads them
               "cadata": b"".join(context.get_ca_certs(binary_form=True)) if verify else b"",
               "minimum_version": context.minimum_version, "maximum_version": context.maximum_version}
    scheme = "https" if context is not None or "HTTPS" in getattr(stub.scheme, "__name__", "") else "http"
    return {"url": f"{scheme}://{stub.host}{stub.path}", "version": stub.version, "cookie": stub.cookie,
            "timeout": stub.schemeArgs.get("timeout"), "tls": tls}


def _context(tls: dict | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    if not tls["verify"]:
        context = ssl._create_unverified_context()  # the session's own choice (insecure=True, or the lab on loopback)
    elif tls["cadata"]:
        context = ssl.create_default_context(cadata=tls["cadata"])
    else:
        context = ssl.create_default_context()
    context.check_hostname = tls["check_hostname"]
    context.minimum_version, context.maximum_version = tls["minimum_version"], tls["maximum_version"]
    return context


def _serve(conn, login: dict, refs: dict, kind: str, where: dict, path: str, at_least: int) -> None:
    """The helper process: the objects of type ``kind`` whose ``where`` properties have one of the values given,
    read over a ContainerView of the inventory; then, when there are ``at_least`` of them, their ``path``. Sends
    ("ready",) once connected, then ("done", [distinct plain values], {moid: index in them}, missing), ("few",
    count) or ("failed", why)."""
    try:
        from pyVmomi import SoapStubAdapter, VmomiSupport, vim, vmodl

        from . import collector

        stub = SoapStubAdapter(url=login["url"], version=login["version"], sslContext=_context(login["tls"]),
                               httpConnectionTimeout=login["timeout"])
        stub.cookie = login["cookie"]
        content = types.SimpleNamespace(  # what labkit.collector uses of the session's ServiceContent
            propertyCollector=vmodl.query.PropertyCollector(refs["propertyCollector"], stub),
            viewManager=vim.view.ViewManager(refs["viewManager"], stub),
            rootFolder=vim.Folder(refs["rootFolder"], stub))
        made = VmomiSupport.GetWsdlType("urn:vim25", kind)
        conn.send(("ready",))
        objs = [o for o, p in collector.retrieve(content, {made: list(where)})[made]
                if all(p.get(k) in allowed for k, allowed in where.items())]
        if len(objs) < at_least:
            conn.send(("few", len(objs)))
            return
        missing: list = []
        got = collector.retrieve_objects(content, objs, [path], missing=missing)
        plain = PLAIN[path]
        values, index, seen = [], {}, {}
        for o, p in got:  # each distinct value sent once: most VMs share theirs, and the caller unpickles less
            value = plain(p.get(path))
            key = json.dumps(value, sort_keys=True)
            if key not in seen:
                seen[key] = len(values)
                values.append(value)
            index[o._moId] = seen[key]
        conn.send(("done", values, index, missing))
    except BaseException as e:  # noqa: BLE001 - whatever it was, the caller reads in its own process
        with contextlib.suppress(Exception):
            conn.send(("failed", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


class Helper:
    """A helper process reading one property of some objects; :meth:`result` waits for it, :meth:`close` ends it."""

    def __init__(self, process, conn, started: float):
        self._process, self._conn, self.started = process, conn, started
        #: seconds from start to result; whether the helper failed (the caller then read it itself); None until
        #: :meth:`result` was called
        self.seconds = 0.0
        self.failed = False
        self.answered: bool | None = None

    def result(self) -> tuple[dict, list] | None:
        """``({moid: plain value}, missing)`` as the helper read them (objects with equal values share one value
        object: read them, do not change them), or None when it failed (logged at debug level only). The helper is
        ended either way."""
        try:
            if not self._conn.poll(READY_S):
                raise TimeoutError(f"not ready after {READY_S:g} s")
            answer = self._conn.recv()
            if answer[0] == "ready":
                while not self._conn.poll(1.0):  # it reads: its own HTTP timeout bounds each call
                    if not self._process.is_alive():
                        raise EOFError("the helper ended without an answer")
                answer = self._conn.recv()
            if answer[0] != "done":  # "few" (the inventory changed since the caller read it) or "failed"
                raise RuntimeError(" ".join(map(str, answer)))
            self.answered = True
            values = answer[1]
            return {moid: values[i] for moid, i in answer[2].items()}, answer[3]
        except Exception as e:  # noqa: BLE001 - any failure: the caller reads serially
            log.debug("labkit read helper failed: %s", e)
            self.failed, self.answered = True, False
            return None
        finally:
            self.seconds = time.perf_counter() - self.started
            self.close()

    def close(self) -> None:
        """End the helper: at once when its answer is not wanted (should it be ended between creating its
        ContainerView and destroying it, the view lasts until the session logs out), else reap it."""
        with contextlib.suppress(Exception):
            self._conn.close()
        with contextlib.suppress(Exception):
            if self._process.is_alive() and self.answered is None:
                self._process.terminate()
            self._process.join(timeout=2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=2)


@contextlib.contextmanager
def _main_hidden():
    """``sys.modules["__main__"]`` an empty module while the helper starts: multiprocessing's spawn then prepares
    the child without importing the caller's script or module again (``spawn.get_preparation_data`` names it only
    when it has a file or a module name)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main
        else:
            sys.modules.pop("__main__", None)


def start(session, kind: type, path: str, where: Mapping[str, Iterable], at_least: int = 0) -> Helper | None:
    """A helper process that reads, for ``session``, ``path`` (a key of :data:`PLAIN`) of every object of type
    ``kind`` whose properties named in ``where`` have one of the values given there (``{"runtime.powerState":
    ("poweredOn", "suspended")}``), when there are ``at_least`` such objects. It reads on its own from the start:
    its answer is ready by the time the caller has read the rest. None when no helper could be started."""
    t0 = time.perf_counter()
    content = session.content
    refs = {"propertyCollector": content.propertyCollector._moId, "viewManager": content.viewManager._moId,
            "rootFolder": content.rootFolder._moId}
    try:
        ctx = multiprocessing.get_context("spawn")
        here, there = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_serve, name="labkit-read-helper", daemon=True,
                              args=(there, _login(session), refs, kind._wsdlName,
                                    {k: tuple(v) for k, v in where.items()}, path, at_least))
        with _main_hidden():
            process.start()
        there.close()  # the helper's end: closed here, so that its death reads as the end of the pipe
    except Exception as e:  # noqa: BLE001 - no helper: read here
        log.debug("labkit read helper not started: %s", e)
        return None
    return Helper(process, here, t0)
