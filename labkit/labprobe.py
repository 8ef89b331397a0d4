"""Probe a running JupyterLab from outside: does its page answer, and does a kernel reach the lab?

Used by the ``labkit lab`` test, the start-up benchmark and the browser tests.
It speaks Jupyter Server's REST API and the kernel websocket protocol
(``/api/kernels/<id>/channels``, Jupyter messaging 5.x) through tornado, which
JupyterLab already depends on.
"""
from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid

from .errors import LabkitError


def _request(url: str, token: str, method: str = "GET", body: dict | None = None, timeout: float = 5.0):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def wait_for_page(base: str, token: str, *, timeout: float = 60.0, path: str = "/lab", alive=None) -> float:
    """Poll until ``base + path`` answers 200 with JupyterLab's page; returns the seconds waited.

    ``alive()``, if given, is asked between tries, so that a server that died is reported at once.
    """
    start = time.monotonic()
    while True:
        try:
            status, page = _request(base + path, token, timeout=2)
            if status == 200 and b"jupyter-config-data" in page:
                return time.monotonic() - start
        except (urllib.error.URLError, OSError):
            pass
        if alive is not None and not alive():
            raise LabkitError("JupyterLab exited before its page answered.")
        if time.monotonic() - start > timeout:
            raise LabkitError(f"JupyterLab did not answer at {base}{path} within {timeout:.0f} s.")
        time.sleep(0.1)


def run_code(base: str, token: str, code: str, *, timeout: float = 120.0,
             shutdown: bool = True) -> tuple[str, str | None]:
    """Start a python3 kernel on the server, run ``code`` in it, and shut it down (unless ``shutdown`` is False).

    Returns (everything it printed or displayed as text, the error's ``ename: evalue`` or None).
    """
    _, body = _request(f"{base}/api/kernels", token, "POST", {"name": "python3"})
    kernel = json.loads(body)["id"]
    try:
        return asyncio.run(asyncio.wait_for(_execute(base, token, kernel, code), timeout))
    finally:
        if shutdown:
            try:
                _request(f"{base}/api/kernels/{kernel}", token, "DELETE")
            except (urllib.error.URLError, OSError):
                pass


async def _execute(base: str, token: str, kernel: str, code: str) -> tuple[str, str | None]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws_url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    await conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "labkit", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out, error = [], None
    try:
        while True:
            raw = await conn.read_message()
            if raw is None:
                raise LabkitError("The kernel's websocket closed before the cell finished.")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id or msg.get("channel") != "iopub":
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out), error
    finally:
        conn.close()
