"""Real pre-copy: the lab guest, QEMU migrations on loopback, the memory check and the QEMU-window model.

The real migrations need QEMU >= 9.0, busybox-static and gcc (``make setup``
installs them). Without QEMU they are skipped on a learner's machine, never in
CI, where ``.ci/run`` installs it.
"""
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from labkit import realmigration as rm
from labkit.errors import InvalidInput, LabkitError
from labkit.precopy import qemu as qemu_model
from labkit.realmigration import calibrate, memory
from labkit.realmigration.guest import QEMU, Guest

HAVE_QEMU = shutil.which(QEMU) is not None
needs_qemu = pytest.mark.skipif(not HAVE_QEMU and not os.environ.get("CI"),
                                reason="QEMU is not installed (make setup installs it)")

SMALL = dict(memory_mib=128, wss_mib=32, hot_mib=8, dirty_rate=2560, max_bandwidth_mibps=128,
             downtime_limit_ms=300)


@pytest.fixture(autouse=True)
def own_temp(tmp_path, monkeypatch):  # tmp_path first: pytest picks its own base folder before the patch
    """This test's own temporary folder: its migrations' work folders, and so its QEMUs, are told apart
    from those of a lesson that runs on another test worker at the same time. Short, because QEMU's
    monitor socket lives in it and a socket path has at most 107 bytes."""
    folder = tempfile.mkdtemp(prefix="lkrm-")
    monkeypatch.setattr(tempfile, "tempdir", folder)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _our_qemus() -> list[str]:
    """Command lines of QEMU processes started from a labkit work folder of this test."""
    # -ww: whole command lines (ps cuts them to $COLUMNS otherwise, and the work folder comes last)
    out = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.startswith(QEMU) or f"/{QEMU} " in line
            if f"{tempfile.gettempdir()}/labkit-migrate-" in line]


# -- settings: one line for each bad value -------------------------------------------------------
@pytest.mark.parametrize("bad, words", [
    (dict(memory_mib=64), "memory_mib"),
    (dict(wss_mib=250), "wss_mib"),
    (dict(hot_mib=100, wss_mib=64), "hot_mib"),
    (dict(dirty_rate=-1), "dirty_rate"),
    (dict(dirty_rate="fast"), "dirty_rate must be a number"),
    (dict(max_bandwidth_mibps=0), "max_bandwidth_mibps"),
    (dict(pattern="zigzag"), "pattern must be one of"),
    (dict(mode="busy"), "mode must be one of"),
    (dict(auto_converge="yes"), "auto_converge must be True or False"),
    (dict(bandwidth=64), "unknown setting"),
])
def test_bad_settings_get_one_line(bad, words):
    with pytest.raises(InvalidInput) as e:
        rm.settings(**bad)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_old_qemu_under_tcg_is_warned_about():
    old = Guest(Path("k"), Path("i"), "linux-image-x", "qemu", (8, 2, 2), "tcg", "no usable /dev/kvm")
    assert old.tcg_unsafe and "older than 9.0" in old.describe() and "lose dirty pages" in old.describe()
    assert not Guest(Path("k"), Path("i"), "x", "qemu", (8, 2, 2), "kvm", "probe").tcg_unsafe
    assert not Guest(Path("k"), Path("i"), "x", "qemu", (10, 0, 2), "tcg", "probe").tcg_unsafe


def test_the_guest_is_described_by_its_kernel_family_not_the_archive_version():
    for package, family in (("linux-image-6.1.0-57-cloud-amd64", "linux-image-cloud-amd64"),
                            ("linux-image-6.8.0-45-generic", "linux-image-generic")):
        g = Guest(Path("k"), Path("i"), package, "qemu", (10, 0, 2), "tcg", "probe")
        assert g.kernel_family == family and g.describe().endswith(f"guest kernel from {family}")


def _described(auto_converge: bool, throttle: float) -> str:
    summary = {"outcome": "completed", "reason": "", "dirty_sync_count": 9, "transferred_mib": 100.0,
               "total_time_ms": 5000, "downtime_ms": 5, "expected_downtime_ms": 90,
               "max_throttle_pct": throttle, "pages_compared": 0}
    return rm.runner.RealMigration(rm.settings(auto_converge=auto_converge), None, summary, None).describe()


def test_the_description_has_the_same_words_whatever_the_measured_throttle():
    """Whether the throttle engaged before a run converged depends on the machine; the words must not."""
    import re
    shape = {re.sub(r"≈[\d,.]+", "≈N", _described(True, t)) for t in (0.0, 20.0, 30.0)}
    assert len(shape) == 1 and "; vCPU throttled up to ≈N %" in shape.pop()
    assert "vCPU throttled up to ≈0 %" in _described(True, 0.0)
    assert "throttled" not in _described(False, 0.0)


def test_migrate_warns_before_running_on_an_unsafe_qemu(monkeypatch):
    old = Guest(Path("k"), Path("i"), "linux-image-x", "qemu", (7, 2, 0), "tcg", "no usable /dev/kvm")

    class Stop(Exception):
        pass

    def no_vm(*a, **k):
        raise Stop

    monkeypatch.setattr(rm.runner, "GuestVM", no_vm)
    with pytest.warns(UserWarning, match="older than 9.0"), pytest.raises(Stop):
        rm.migrate(guest=old, **SMALL)


# -- the memory check finds what differs ---------------------------------------------------------
def test_memory_compare_counts_differing_pages(tmp_path):
    a = np.random.default_rng(1).integers(0, 255, 4096 * 40000, dtype=np.uint8)
    (tmp_path / "a").write_bytes(a.tobytes())
    b = a.copy()
    (tmp_path / "same").write_bytes(b.tobytes())
    assert memory.compare(tmp_path / "a", tmp_path / "same") == memory.MemoryDiff(40000, 0, None)
    b[4096 * 17 + 5] ^= 1            # one bit in page 17
    b[4096 * 39999] ^= 0xFF          # first byte of the last page (in the third chunk)
    (tmp_path / "b").write_bytes(b.tobytes())
    assert memory.compare(tmp_path / "a", tmp_path / "b") == memory.MemoryDiff(40000, 2, 17)


# -- the QEMU-window model -----------------------------------------------------------------------
def test_model_idle_guest_takes_its_nonzero_memory_over_the_link():
    run = qemu_model.simulate(256, 128, 16, 0, 64, setup_ms=0, switchover_overhead_ms=0)
    assert run["outcome"] == "completed"
    # 128 MiB of pages (+8 bytes each) at 64 MiB/s, then 128 MiB of 9-byte zero pages in a flash. Until the
    # walk reaches the zero pages they count as pending, so round 1 sends every non-zero page.
    assert run["precopy_s"] == pytest.approx(128 * 4104 / 4096 / 64, abs=0.11)
    assert run["syncs"] == 3          # setup, the check below the threshold, the final one


def test_model_rate_above_the_link_needs_a_throttle_that_can_bite():
    base = dict(memory_mib=256, nonzero_mib=128, hot_mib=32, dirty_rate=12800, bandwidth_mibps=32,
                downtime_limit_ms=100, timeout_s=60)
    assert qemu_model.simulate(**base)["outcome"] == "did not converge"
    spin = qemu_model.simulate(**base, spin=True, auto_converge=True)
    assert spin["outcome"] == "completed" and spin["max_throttle_pct"] >= 40
    throttles = spin.syncs["throttle_pct"].to_numpy()
    assert throttles[throttles > 0][0] == 20 and set(np.diff(np.unique(throttles[throttles > 0]))) == {10}
    # a writer that sleeps between writes is not slowed by the throttle
    assert qemu_model.simulate(**base, spin=False, auto_converge=True)["outcome"] == "did not converge"


def test_model_downtime_is_the_rest_at_switchover_speed():
    run = qemu_model.simulate(256, 128, 16, 2560, 64, switchover_mibps=1000, switchover_overhead_ms=2)
    pending = run.syncs["pending_mib"].iloc[-1]
    assert pending < 64 * 0.3
    assert 0 < run["downtime_mib"] <= pending * 4104 / 4096 + 1e-9   # each page plus its 8-byte header
    assert run["downtime_s"] == pytest.approx(0.002 + run["downtime_mib"] / 1000, rel=1e-9)


def test_model_hot_set_met_early_in_round_1_is_dirty_again_by_its_end():
    late = qemu_model.simulate(256, 160, 32, 5120, 64, pattern="random", hot_position=1.0)
    early = qemu_model.simulate(256, 160, 32, 5120, 64, pattern="random", hot_position=0.0)
    assert early.syncs["pending_mib"].iloc[1] > late.syncs["pending_mib"].iloc[1] + 10
    assert early["total_s"] > late["total_s"]


def test_model_sequential_writer_dirties_each_hot_page_once_a_pass():
    # 16 MiB hot set written in sequence at 16 MiB/s: a pass a second. Round 1 lasts over 2 s, so every hot
    # page sent before the last pass is dirty again, and those sent after it are not.
    run = qemu_model.simulate(256, 144, 16, 4096, 64, pattern="seq", hot_position=0.0, downtime_limit_ms=50)
    assert run.syncs["pending_mib"].iloc[1] == pytest.approx(16, rel=0.05)
    rnd = qemu_model.simulate(256, 144, 16, 4096, 64, pattern="random", hot_position=0.0, downtime_limit_ms=50)
    assert rnd.syncs["pending_mib"].iloc[1] < 16 * 0.95


def test_model_bad_input_gets_one_line():
    with pytest.raises(InvalidInput) as e:
        qemu_model.simulate(256, 300, 16, 2560, 64)
    assert "nonzero_mib" in str(e.value)
    with pytest.raises(InvalidInput):
        qemu_model.simulate(256, 128, 16, 2560, 64, pattern="zigzag")


# -- the committed matrix, against the model -----------------------------------------------------
def test_committed_matrix_has_three_repeats_and_nothing_lost():
    matrix, runs, samples = calibrate.load()
    assert set(matrix["role"]) == {"calibrate", "held-back"}
    assert (runs.groupby("point").size() == 3).all() and set(runs["point"]) == set(matrix["point"])
    done = runs[runs["outcome"] == "completed"]
    assert (done["pages_differ"] == 0).all() and done["guest_runs"].all()
    assert set(samples["point"]) == set(matrix["point"])


def test_calibration_uses_only_calibration_points():
    matrix, runs, samples = calibrate.load()
    c = calibrate.fit(matrix, runs, samples)
    held = set(matrix.loc[matrix["role"] == "held-back", "point"])
    # scrambling every held-back run's outcome changes nothing in the calibration
    scrambled = runs.copy()
    mask = scrambled["point"].isin(held)
    for col in ("total_time_ms", "downtime_ms", "downtime_mib", "normal_pages", "setup_time_ms"):
        scrambled.loc[mask, col] = scrambled.loc[mask, col] * 3 + 1
    s2 = samples.copy()
    s2.loc[s2["point"].isin(held), "mbps"] *= 5
    assert calibrate.fit(matrix, scrambled, s2) == c


def test_model_holds_on_the_held_back_points():
    """An accuracy check on committed data (not a timed test): the numbers are printed by benchmarks/real_precopy.py."""
    matrix, runs, samples = calibrate.load()
    table = calibrate.compare(matrix, runs, calibrate.fit(matrix, runs, samples))
    held = calibrate.errors(table, "held-back")
    assert held["verdicts_agree"] == held["verdicts"]           # converges or not, wherever the repeats agree
    assert held["verdicts"] + held["at_the_edge"] == (matrix["role"] == "held-back").sum()
    assert held["median_abs_error_pct"] <= 10
    cal = calibrate.errors(table, "calibrate")
    assert cal["verdicts_agree"] == cal["verdicts"]


# -- real migrations ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guest():
    if not HAVE_QEMU:
        pytest.fail("QEMU is not installed: make setup installs it")
    return rm.load()


@needs_qemu
def test_a_real_migration_loses_nothing_and_the_guest_runs_on(guest):
    seen = []
    run = rm.migrate(guest=guest, on_sample=lambda s: seen.append(len(s)), **SMALL)
    s = run.summary
    assert s["outcome"] == "completed", run
    assert s["pages_compared"] == 128 * 256 and s["pages_differ"] == 0 and s["guest_runs"]
    assert s["dirty_sync_count"] >= 3 and s["total_time_ms"] > 0 and s["downtime_ms"] >= 0
    assert s["accel"] in ("kvm", "tcg")
    assert abs(s["guest_rate"] - 2560) < 300
    assert seen == list(range(1, len(run.samples) + 1))
    assert set(rm.runner.SAMPLE_COLUMNS) <= set(run.samples.columns)
    assert run.samples["status"].iloc[-1] == "completed" and run.samples["transferred_mib"].is_monotonic_increasing
    assert not run.rounds.empty
    # the guest's write counter went on from where the source left it
    assert "written=" in run.consoles["destination"]
    assert not _our_qemus()


@needs_qemu
def test_a_run_that_cannot_converge_is_cancelled_and_the_source_keeps_running(guest):
    run = rm.migrate(guest=guest, memory_mib=128, wss_mib=48, hot_mib=40, dirty_rate=20000, mode="sleep",
                     max_bandwidth_mibps=8, downtime_limit_ms=10, timeout_s=3)
    assert run["outcome"] == "did not converge" and "cancelled" in run["reason"]
    assert run["pages_differ"] is None
    assert not _our_qemus()


@needs_qemu
def test_ctrl_c_in_the_middle_leaves_no_process_behind(guest):
    def interrupt(samples):
        if len(samples) == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        rm.migrate(guest=guest, on_sample=interrupt, **SMALL)
    time.sleep(0.2)
    assert not _our_qemus()
    assert not list(Path(tempfile.gettempdir()).glob("labkit-migrate-*"))


@needs_qemu
def test_a_qemu_that_cannot_start_gets_a_clear_message(guest, tmp_path):
    broken = Guest(tmp_path / "missing-kernel", guest.initrd, guest.kernel_package, guest.qemu, guest.qemu_version,
                   guest.accel, guest.accel_reason)
    with pytest.raises(LabkitError) as e:
        rm.migrate(guest=broken, **SMALL)
    assert "QEMU" in str(e.value) and "Traceback" not in str(e.value)
    assert not _our_qemus()


def test_a_kill_ends_a_migration_as_ctrl_c_does(monkeypatch, capsys):
    """SIGTERM (a kill, a kernel restart) once ended `labkit qemu migrate` alone, without its clean-up; it now
    raises KeyboardInterrupt in the migration, whose clean-up runs (the SIGHUP run below does it with QEMU)."""
    import signal as signals

    from labkit import cli

    cleaned = []

    def migrate(**settings):
        try:
            os.kill(os.getpid(), signals.SIGTERM)
            time.sleep(10)
        finally:
            cleaned.append(True)

    handlers = {s: signals.getsignal(s) for s in (signals.SIGTERM, signals.SIGHUP)}
    monkeypatch.setattr(rm, "migrate", migrate)
    assert cli.main(["qemu", "migrate", "--quiet"]) == 128 + signals.SIGTERM  # 143, as a shell reports a kill
    assert cleaned == [True]
    err = capsys.readouterr().err.strip()   # said in one line: a kill once ended it without a word
    assert err == ("labkit qemu migrate: stopped by SIGTERM; both QEMU guests were stopped and the work folder "
                   "removed"), err
    assert {s: signals.getsignal(s) for s in handlers} == handlers  # put back as they were


@needs_qemu
@pytest.mark.parametrize("sig", ["SIGHUP"])
def test_a_closed_terminal_or_a_kill_stops_both_guests(guest, sig):
    """`labkit qemu migrate` whose terminal closes (SIGHUP) once died alone: both QEMU guests kept running (about
    470 MB) and the work folder stayed. Now it ends as Ctrl-C does (SIGTERM takes the same path, above)."""
    import signal as signals
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "labkit.cli", "qemu", "migrate", "--memory", "128", "--wss", "32",
                             "--hot", "8", "--bandwidth", "4", "--timeout", "60", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": tempfile.gettempdir()})  # its work folder where we look
    deadline = time.monotonic() + 60
    while len(_our_qemus()) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    if len(_our_qemus()) < 2:
        proc.kill()
        pytest.fail(f"both guests should be running by now; labkit said: {proc.communicate()}")
    assert proc.poll() is None
    proc.send_signal(getattr(signals, sig))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signals, sig) and "Traceback" not in err, err
    assert err.strip() == f"labkit qemu migrate: stopped by {sig}; both QEMU guests were stopped and the work folder " \
                          "removed", err
    time.sleep(0.2)
    assert not _our_qemus()
    assert not list(Path(tempfile.gettempdir()).glob("labkit-migrate-*"))
