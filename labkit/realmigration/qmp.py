"""A blocking client for QEMU's machine protocol (QMP) over a Unix socket.

QMP is line-delimited JSON: a greeting, ``qmp_capabilities``, then one
``{"execute": ...}`` per command, answered by ``{"return": ...}`` or
``{"error": ...}``, with asynchronous ``{"event": ...}`` messages in between.

QEMU's own Python client (``qemu.qmp``) is asyncio-based, and its blocking
wrapper runs its own event loop, which cannot run inside a Jupyter kernel's
loop; this small blocking client is all the lab needs.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from ..errors import LabkitError


class QMPError(LabkitError):
    """QEMU refused a command: ``error_class`` is QMP's class (e.g. GenericError)."""

    def __init__(self, command: str, error_class: str, desc: str):
        super().__init__(f"QEMU refused {command}: {desc}")
        self.command = command
        self.error_class = error_class
        self.desc = desc


class QMP:
    """One QMP connection. ``execute(command, **arguments)`` returns QMP's ``return`` value."""

    def __init__(self, path: Path, timeout: float = 30.0, alive=None):
        """Connect to the monitor socket at ``path``, waiting up to ``timeout`` seconds for it to open.

        ``alive()``, if given, says whether QEMU still runs: a QEMU that has exited will never open its
        socket, so the wait ends at once. Raises LabkitError when no monitor answers.
        """
        self.path = Path(path)
        self.events: list[dict] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock.connect(str(self.path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if alive is not None and not alive():
                    self._sock.close()
                    raise LabkitError(f"QEMU exited before it opened its monitor socket {self.path.name}.")
                if time.monotonic() > deadline:
                    self._sock.close()
                    raise LabkitError(f"QEMU's monitor socket {self.path.name} did not open in {timeout:.0f} s.")
                time.sleep(0.05)
        self._sock.settimeout(timeout)
        self._file = self._sock.makefile("rwb")
        greeting = self._read()
        if "QMP" not in greeting:
            raise LabkitError(f"Not a QMP greeting: {greeting!r}")
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        try:
            line = self._file.readline()
        except (ConnectionResetError, BrokenPipeError):  # QEMU ended while we read
            line = b""
        if not line:
            raise LabkitError("QEMU closed its monitor connection (the process ended).")
        return json.loads(line)

    def execute(self, command: str, **arguments):
        message = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        try:
            self._file.write(json.dumps(message).encode() + b"\n")
            self._file.flush()
        except (ConnectionResetError, BrokenPipeError):
            raise LabkitError("QEMU closed its monitor connection (the process ended).") from None
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise QMPError(command, err.get("class", "?"), err.get("desc", "?"))
            return reply.get("return")

    def close(self) -> None:
        for closer in (self._file.close, self._sock.close):
            try:
                closer()
            except OSError:
                pass
