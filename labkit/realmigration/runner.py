"""Migrate a live lab guest from one QEMU to another on loopback, and measure it.

::

    from labkit import realmigration as rm
    run = rm.migrate(memory_mib=256, wss_mib=64, hot_mib=16, dirty_rate=2560,
                     max_bandwidth_mibps=64, downtime_limit_ms=300)
    run.samples     # query-migrate every 100 ms
    run.rounds      # one row per dirty-bitmap sync
    run.summary     # outcome, total time, downtime, syncs, pages that differ

Both QEMU processes and their temporary files are removed when the call
returns, whatever happened: success, refusal, timeout, error or Ctrl-C.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from ..errors import InvalidInput, LabkitError
from ..precopy.params import scalar
from . import memory
from .guest import Guest, load, tcg_warning
from .vm import GuestVM

MIB = 2**20
PAGE = 4096
#: query-migrate statuses after which nothing more will happen
FINAL = ("completed", "failed", "cancelled")
SAMPLE_COLUMNS = ["t_s", "status", "total_time_ms", "transferred_mib", "remaining_mib", "dirty_pages_rate",
                  "dirty_sync_count", "mbps", "expected_downtime_ms", "throttle_pct", "normal_pages",
                  "zero_pages"]

DEFAULTS = dict(memory_mib=256, wss_mib=64, hot_mib=16, dirty_rate=2560, pattern="seq", mode="sleep",
                max_bandwidth_mibps=64, downtime_limit_ms=300, auto_converge=False, timeout_s=60.0,
                verify=True)


@dataclasses.dataclass
class RealMigration:
    """One real migration: its settings, the samples, the rounds and the summary."""

    settings: dict
    samples: pd.DataFrame
    summary: dict
    guest: Guest
    consoles: dict = dataclasses.field(default_factory=dict)

    @property
    def rounds(self) -> pd.DataFrame:
        return rounds(self.samples)

    def __getitem__(self, key):
        return self.summary[key]

    def describe(self) -> str:
        """What happened. Measured numbers, which vary from run to run, carry a leading ≈.

        The wording depends only on the settings and the outcome, never on a measured figure:
        a run with ``auto_converge`` always reports its highest throttle, 0 % included. Whether
        the throttle engaged before the run converged depends on the machine's speed and load.
        """
        s = self.summary
        if s["outcome"] == "completed":
            text = (f"completed: ≈{s['dirty_sync_count']} dirty-bitmap syncs, ≈{s['transferred_mib']:,.0f} MiB sent, "
                    f"total ≈{s['total_time_ms']:,} ms, downtime ≈{s['downtime_ms']} ms "
                    f"(expected-downtime said ≈{_or_unknown(s['expected_downtime_ms'])} ms)")
        else:
            text = f"{s['outcome']}: {s['reason']}"
        if s["max_throttle_pct"] or self.settings.get("auto_converge"):
            text += f"; vCPU throttled up to ≈{s['max_throttle_pct']:.0f} %"
        if s.get("pages_compared"):
            text += (f"\nmemory check: {s['pages_compared']:,} pages compared, {s['pages_differ']} differ; "
                     f"the guest {'runs' if s['guest_runs'] else 'does NOT run'} on the destination")
        return text

    __str__ = describe
    __repr__ = describe

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def settings(**given) -> dict:
    """Check and complete a run's settings; raises InvalidInput with one line for a bad one."""
    unknown = set(given) - set(DEFAULTS) - {"on_sample", "interval_s"}
    if unknown:
        raise InvalidInput(f"unknown setting(s): {', '.join(sorted(unknown))}.",
                           fix=f"use some of: {', '.join(DEFAULTS)}")
    s = {**DEFAULTS, **{k: v for k, v in given.items() if k in DEFAULTS}}
    s["memory_mib"] = int(scalar("memory_mib", s["memory_mib"], minimum=128, maximum=2048, integer=True))
    s["wss_mib"] = int(scalar("wss_mib", s["wss_mib"], minimum=1, maximum=s["memory_mib"] - 64, integer=True))
    s["hot_mib"] = int(scalar("hot_mib", s["hot_mib"], minimum=1, maximum=s["wss_mib"], integer=True))
    s["dirty_rate"] = int(scalar("dirty_rate", s["dirty_rate"], minimum=0, maximum=10_000_000, integer=True))
    s["max_bandwidth_mibps"] = scalar("max_bandwidth_mibps", s["max_bandwidth_mibps"], positive=True,
                                      maximum=100_000)
    s["downtime_limit_ms"] = int(scalar("downtime_limit_ms", s["downtime_limit_ms"], minimum=1, maximum=100_000,
                                        integer=True))
    s["timeout_s"] = scalar("timeout_s", s["timeout_s"], positive=True, maximum=3600)
    for name, choices in (("pattern", ("seq", "random")), ("mode", ("sleep", "spin"))):
        if s[name] not in choices:
            raise InvalidInput(f"{name} must be one of {', '.join(choices)}, not {s[name]!r}.")
    for name in ("auto_converge", "verify"):
        if not isinstance(s[name], bool):
            raise InvalidInput(f"{name} must be True or False, not {s[name]!r}.")
    return s


def incoming_port(vm: GuestVM) -> int:
    """The TCP port a destination started with ``-incoming tcp:127.0.0.1:0`` listens on.

    QEMU binds the port itself and reports it in ``query-migrate``'s ``socket-address`` list (QEMU 4.0 and
    later; its own migration tests start destinations this way). So no other process can take the port
    between choosing it and binding it, as with a port picked beforehand. Raises LabkitError if none is listed.
    """
    info = vm.qmp.execute("query-migrate")
    for address in info.get("socket-address", []):
        if address.get("type") == "inet" and str(address.get("port", "")).isdigit():
            return int(address["port"])
    raise LabkitError(f"QEMU ({vm.name}) reported no port for the incoming migration: {info}",
                      fix="labkit qemu build --force")


def migrate(on_sample=None, interval_s: float = 0.1, guest: Guest | None = None, **given) -> RealMigration:
    """Start a source and a destination QEMU, migrate the guest, sample every ``interval_s``.

    ``on_sample(samples_so_far)`` is called after each sample (for live charts).
    A run that has not completed after ``timeout_s`` is cancelled: the guest
    keeps running on the source, as after a failed vMotion.
    """
    s = settings(**given)
    guest = guest or load()
    if guest.tcg_unsafe:
        warnings.warn(tcg_warning(guest.qemu_version), stacklevel=2)
    workdir = Path(tempfile.mkdtemp(prefix="labkit-migrate-"))
    vms: list[GuestVM] = []
    try:
        guest_settings = {"wss_mib": s["wss_mib"], "hot_mib": s["hot_mib"], "rate": s["dirty_rate"],
                          "pattern": s["pattern"], "mode": s["mode"]}
        source = GuestVM(guest, "source", workdir, s["memory_mib"], guest_settings)
        vms.append(source)
        dest = GuestVM(guest, "destination", workdir, s["memory_mib"], guest_settings,
                       incoming="tcp:127.0.0.1:0")
        vms.append(dest)
        port = incoming_port(dest)
        source.wait_for_console(r"dirtier: ready", timeout=90)
        # two reports a second apart: the rate the guest really writes at, before the migration
        first = int(source.wait_for_console(r"t=1 written=(\d+)", timeout=30).group(1))
        guest_rate = int(source.wait_for_console(r"t=2 written=(\d+)", timeout=30).group(1)) - first

        q = source.qmp
        q.execute("migrate-set-capabilities",
                  capabilities=[{"capability": "auto-converge", "state": s["auto_converge"]}])
        q.execute("migrate-set-parameters", **{"max-bandwidth": int(s["max_bandwidth_mibps"] * MIB),
                                               "downtime-limit": s["downtime_limit_ms"]})
        q.execute("migrate", uri=f"tcp:127.0.0.1:{port}")
        rows, info, start = [], {}, time.monotonic()
        cancelled = False
        while True:
            info = q.execute("query-migrate")
            rows.append(_sample(time.monotonic() - start, info))
            if on_sample is not None:
                on_sample(pd.DataFrame(rows, columns=SAMPLE_COLUMNS))
            if info.get("status") in FINAL:
                break
            if time.monotonic() - start > s["timeout_s"] and not cancelled:
                q.execute("migrate_cancel")
                cancelled = True
            time.sleep(interval_s)
        samples = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
        summary = _summary(info, samples, s, guest, cancelled)
        summary["guest_rate"] = guest_rate
        if summary["outcome"] == "completed" and s["verify"]:
            summary.update(_verify(source, dest, s["memory_mib"], workdir))
        consoles = {vm.name: vm.console_text() for vm in vms}
        return RealMigration(s, samples, summary, guest, consoles)
    finally:
        for vm in vms:
            vm.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _sample(t: float, info: dict) -> dict:
    ram = info.get("ram", {})
    return {"t_s": round(t, 3), "status": info.get("status"), "total_time_ms": info.get("total-time"),
            "transferred_mib": ram.get("transferred", 0) / MIB, "remaining_mib": ram.get("remaining", 0) / MIB,
            "dirty_pages_rate": ram.get("dirty-pages-rate", 0), "dirty_sync_count": ram.get("dirty-sync-count", 0),
            "mbps": ram.get("mbps", 0.0), "expected_downtime_ms": info.get("expected-downtime"),
            "throttle_pct": info.get("cpu-throttle-percentage", 0), "normal_pages": ram.get("normal", 0),
            "zero_pages": ram.get("duplicate", 0)}


def _summary(info: dict, samples: pd.DataFrame, s: dict, guest: Guest, cancelled: bool) -> dict:
    ram = info.get("ram", {})
    status = info.get("status")
    if status == "completed":
        outcome, reason = "completed", ""
    elif cancelled:
        outcome, reason = "did not converge", f"still copying after {s['timeout_s']:g} s, so it was cancelled"
    else:
        outcome, reason = status or "failed", info.get("error-desc", "QEMU gave no reason")
    expected = samples["expected_downtime_ms"].dropna()
    return {
        "outcome": outcome, "reason": reason,
        "total_time_ms": info.get("total-time"), "downtime_ms": info.get("downtime"),
        "setup_time_ms": info.get("setup-time"),
        "expected_downtime_ms": int(expected.iloc[-1]) if len(expected) else None,
        "dirty_sync_count": int(samples["dirty_sync_count"].max()) if len(samples) else 0,
        "transferred_mib": ram.get("transferred", samples["transferred_mib"].max() * MIB if len(samples) else 0) / MIB,
        "downtime_mib": ram.get("downtime-bytes", 0) / MIB,
        "normal_pages": ram.get("normal", 0), "zero_pages": ram.get("duplicate", 0),
        "max_throttle_pct": float(samples["throttle_pct"].max()) if len(samples) else 0.0,
        "accel": guest.accel, "qemu_version": guest.version_text,
        "pages_compared": 0, "pages_differ": None, "guest_runs": None,
    }


def _verify(source: GuestVM, dest: GuestVM, memory_mib: int, workdir: Path) -> dict:
    """Both paused: dump both RAMs and compare them page by page; then run the destination."""
    status = dest.qmp.execute("query-status")["status"]
    if status not in ("paused", "postmigrate", "prelaunch"):
        raise LabkitError(f"The destination is {status!r}, not paused: its memory cannot be compared.")
    size = memory_mib * MIB
    dumps = {}
    for vm in (source, dest):
        dumps[vm.name] = workdir / f"{vm.name}.ram"
        vm.qmp.execute("pmemsave", val=0, size=size, filename=str(dumps[vm.name]))
    diff = memory.compare(dumps["source"], dumps["destination"])
    for f in dumps.values():
        f.unlink(missing_ok=True)
    before = source.written() or 0
    dest.qmp.execute("cont")
    try:
        dest.wait_for_console(r"written=\d+", timeout=15)
        runs = (dest.written() or 0) >= before
    except LabkitError:
        runs = False
    return {"pages_compared": diff.pages, "pages_differ": diff.differ, "first_differing_page": diff.first,
            "guest_runs": runs}


def rounds(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per dirty-bitmap sync seen in the samples: when it started, data sent, rates seen."""
    if samples.empty:
        return pd.DataFrame(columns=["sync", "start_s", "duration_s", "sent_mib", "dirty_pages_rate",
                                     "throttle_pct"])
    active = samples[samples["status"].isin(["active", "device", "completed", "cancelling", "cancelled"])]
    out = []
    for sync, g in active.groupby("dirty_sync_count", sort=True):
        out.append({"sync": int(sync), "start_s": float(g["t_s"].iloc[0]),
                    "duration_s": float(g["t_s"].iloc[-1] - g["t_s"].iloc[0]),
                    "sent_mib": float(g["transferred_mib"].iloc[-1] - g["transferred_mib"].iloc[0]),
                    "dirty_pages_rate": int(g["dirty_pages_rate"].iloc[-1]),
                    "throttle_pct": float(g["throttle_pct"].max())})
    return pd.DataFrame(out)


def _or_unknown(value) -> str:
    """A measured figure, or "?" when QEMU reported none (a run too short for a sample of expected-downtime)."""
    return "?" if value is None else str(value)
