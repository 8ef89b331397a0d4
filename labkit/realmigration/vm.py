"""One QEMU process running the lab guest, with its monitor and console."""
from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

from ..errors import LabkitError
from .guest import Guest
from .qmp import QMP


class GuestVM:
    """A QEMU process. ``incoming`` makes it a migration destination (paused until told to run)."""

    def __init__(self, guest: Guest, name: str, workdir: Path, memory_mib: int, settings: dict,
                 incoming: str | None = None):
        self.name = name
        self.console = workdir / f"{name}.console"
        self.monitor = workdir / f"{name}.qmp"
        cmdline = "console=ttyS0 panic=-1 quiet " + " ".join(f"{k}={v}" for k, v in settings.items())
        cmd = [guest.qemu, "-accel", guest.accel, "-m", str(int(memory_mib)), "-smp", "1",
               "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
               "-kernel", str(guest.kernel), "-initrd", str(guest.initrd), "-append", cmdline,
               "-serial", f"file:{self.console}", "-qmp", f"unix:{self.monitor},server=on,wait=off"]
        if incoming:
            # -S: stay paused after the migration, so its memory can be compared with the source's
            cmd += ["-S", "-incoming", incoming]
        self.command = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.qmp: QMP | None = None
        try:
            self.qmp = QMP(self.monitor, timeout=20, alive=lambda: self.proc.poll() is None)
        except LabkitError:
            self.stop()
            raise LabkitError(f"QEMU ({name}) did not start: {self.stderr() or 'no message'}") from None
        except BaseException:  # Ctrl-C, SIGTERM or SIGHUP while it starts: its caller holds no handle to stop it
            self.stop()
            raise

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        try:
            return self.proc.stderr.read().decode(errors="replace").strip()[-300:]
        except (OSError, ValueError):
            return ""

    def console_text(self) -> str:
        try:
            return self.console.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_console(self, pattern: str, timeout: float) -> re.Match:
        """Wait until the guest's console shows ``pattern``."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.console_text())
            if m:
                return m
            if self.proc.poll() is not None:
                raise LabkitError(f"QEMU ({self.name}) exited: {self.stderr() or 'no message'}")
            if time.monotonic() > deadline:
                raise LabkitError(f"The guest ({self.name}) did not print {pattern!r} within {timeout:.0f} s.",
                                  fix="labkit qemu build --force, and check that nothing else loads the CPUs")
            time.sleep(0.05)

    def written(self) -> int | None:
        """The dirtier's last reported count of page writes."""
        counts = re.findall(r"written=(\d+)", self.console_text())
        return int(counts[-1]) if counts else None

    def stop(self) -> None:
        """End the process, politely first; safe to call twice."""
        if self.qmp is not None:
            self.qmp.close()
            self.qmp = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
