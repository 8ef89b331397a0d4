"""The simulator: build cache, launcher flags, lifecycle, alternative programs."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
from helpers import run_cli

import labkit
from labkit import sim
from labkit.errors import BuildError, SimulatorError, SimulatorNotBuilt
from labkit.sim import builder, paths, process


# -- build ------------------------------------------------------------------
def test_build_is_cached_by_source_hash(binary):
    again, built_now = sim.build()
    assert again == binary and not built_now
    assert binary.name == f"labsim-{builder.source_hash(builder.go_version(builder.go_binary()))}"


def test_source_hash_follows_the_source(tmp_path, monkeypatch):
    copy = tmp_path / "launcher"
    shutil.copytree(paths.launcher_source(), copy)
    monkeypatch.setattr(paths, "launcher_source", lambda: copy)
    before = builder.source_hash("go1")
    (copy / "main.go").write_text((copy / "main.go").read_text() + "\n// changed\n")
    assert builder.source_hash("go1") != before
    assert builder.source_hash("go2") != builder.source_hash("go1")


def test_engine_patches_apply_to_a_private_copy_and_key_the_build(binary, tmp_path, monkeypatch):
    """The course's engine fixes (labkit/sim/patches) are applied to a copy of Debian's govmomi sources, never to
    Debian's tree; a changed patch is a new build; a patch that does not apply says which one."""
    key = binary.name.removeprefix("labsim-")
    overlay = builder._patched_govmomi(key)
    fixed = "simulator/property_collector.go"
    assert "vMotion Labs" in (overlay / "src" / builder.GOVMOMI / fixed).read_text()
    assert "vMotion Labs" not in (builder.gopath() / "src" / builder.GOVMOMI / fixed).read_text()

    source = tmp_path / "sim"
    shutil.copytree(paths.launcher_source(), source / "launcher")
    shutil.copytree(paths.launcher_source().parent / "patches", source / "patches")
    monkeypatch.setattr(paths, "launcher_source", lambda: source / "launcher")
    before = builder.source_hash("go1")
    first = builder.patch_files()[0]
    first.write_text(first.read_text().replace("vMotion Labs:", "vMotion Labs (changed):", 1))
    assert builder.source_hash("go1") != before

    (source / "patches" / "0099-stale.patch").write_text(
        "--- a/simulator/task.go\n+++ b/simulator/task.go\n@@ -1,2 +1,2 @@\n-no such line\n+a new line\n nor this\n")
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache" / "sim").mkdir(parents=True)
    with pytest.raises(BuildError, match="The engine patch 0099-stale.patch does not apply"):
        builder._patched_govmomi("stale")
    assert not list((tmp_path / "cache" / "sim").iterdir()), "a failed patch left a half-patched copy"


def test_a_build_keeps_the_newest_builds_of_other_sources(tmp_path):
    """Two checkouts of the course on one machine share the cache: a build keeps the newest others (with their
    patched sources), and deletes only older ones and markers of deleted builds."""
    d = tmp_path
    for i in range(7):
        build = d / f"labsim-{i:016x}"
        build.write_text("binary")
        os.utime(build, (1000 + i, 1000 + i))
        (d / f"gopath-{i:016x}").mkdir()
        (d / f"labsim-src{i}.source").write_text(build.name + "\n")
    current = d / f"labsim-{0:016x}"  # the oldest file, but the one just asked for
    builder._prune(d, current)
    kept = sorted(p.name for p in d.glob("labsim-*") if p.suffix != ".source")
    assert kept == [f"labsim-{i:016x}" for i in (0, 3, 4, 5, 6)]
    assert sorted(p.name.removeprefix("gopath-") for p in d.glob("gopath-*")) == [n.removeprefix("labsim-") for n in kept]
    assert sorted(p.name for p in d.glob("*.source")) == [f"labsim-src{i}.source" for i in (0, 3, 4, 5, 6)]


def test_missing_govmomi_sources_name_the_apt_command(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_GOPATH", str(tmp_path))
    with pytest.raises(BuildError) as e:
        sim.build()
    assert "apt-get install golang-go golang-github-vmware-govmomi-dev" in str(e.value)


def test_missing_go_names_the_apt_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(builder.Path, "exists", lambda self: False)
    with pytest.raises(BuildError) as e:
        builder.go_binary()
    assert "apt-get install golang-go" in str(e.value)


def test_not_built_says_the_one_command(private_state, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("LABKIT_VCSIM", raising=False)
    monkeypatch.setenv("PATH", os.path.dirname(shutil.which("go")) + ":/usr/bin:/bin")
    with pytest.raises(SimulatorNotBuilt) as e:
        labkit.connect(scenario="healthy-cluster")
    assert str(e.value) == "The lab simulator is not built yet. Fix: labkit sim build"
    r = run_cli("sim", "start")
    assert r.returncode == 1
    assert r.stderr.strip() == "labkit: The lab simulator is not built yet. Fix: labkit sim build"
    assert "Traceback" not in r.stderr


# -- the launcher itself -----------------------------------------------------
def test_launcher_requires_explicit_credentials(binary):
    r = subprocess.run([str(binary), "-l", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "-username and -password are both required" in r.stderr


def test_launcher_rejects_a_missing_load_dir(binary, tmp_path):
    r = subprocess.run([str(binary), "-l", "127.0.0.1:0", "-username", "u", "-password", "p",
                        "-load", str(tmp_path / "nope")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "not a directory" in r.stderr


def test_launcher_announces_like_vcsim(extra_sim):
    e = extra_sim()
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/sdk", e.url)
    assert not e.url.endswith(":0/sdk")  # port 0 picked a free port


def test_counts_flags_shape_the_inventory(private_state):
    flags = ["-dc", "2", "-cluster", "2", "-host", "2", "-standalone-host", "1", "-vm", "3", "-pool", "1"]
    with labkit.connect(sim_flags=flags) as s:
        hosts = labkit.inventory.hosts(s)
        clusters = labkit.inventory.clusters(s)
        vms = labkit.inventory.vms(s)
    assert len(clusters) == 2 * 2
    assert len(hosts) == 2 * (2 * 2 + 1)
    assert hosts["cluster"].isna().sum() == 2
    # vcsim's layout: -vm VMs per standalone host and per cluster resource pool
    assert len(vms) == 2 * (1 * 3 + 2 * 1 * 3)


# -- lifecycle ---------------------------------------------------------------
def test_start_status_kill_recover_stop(private_state, binary):
    """The documented cycle, through the labkit command."""
    r = run_cli("sim", "start")
    assert r.returncode == 0, r.stderr
    first = process._read_state()
    assert r.stdout.startswith("started: pid ")

    r = run_cli("sim", "status")
    assert r.returncode == 0 and r.stdout.startswith("running: pid")

    r = run_cli("sim", "start")  # reuse, not a second simulator
    assert r.stdout.startswith("already running") and process._read_state().pid == first.pid

    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process._alive(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    r = run_cli("sim", "status")
    assert r.returncode == 4
    assert r.stdout.startswith(f"dead: pid {first.pid} is gone")

    r = run_cli("sim", "start")
    assert r.returncode == 0 and r.stdout.startswith("started: pid ")
    second = process._read_state()
    assert second.pid != first.pid and sim.status().running

    r = run_cli("sim", "stop")
    assert r.stdout.strip() == f"stopped: pid {second.pid}"
    assert not process._alive(second)
    r = run_cli("sim", "status")
    assert r.returncode == 3 and r.stdout.startswith("stopped")


def test_state_file_is_private_and_repr_hides_the_password(private_state):
    s = sim.start()
    f = paths.state_dir() / "sim.json"
    assert oct(f.stat().st_mode & 0o777) == "0o600"
    assert s.password not in repr(s)


def test_a_recycled_pid_is_not_taken_for_the_simulator(private_state):
    s = sim.start()
    fake = process.SimState(**{**process.dataclasses.asdict(s), "proc_start": "1"})
    process._write_state(fake)
    assert sim.status().state == "dead"
    os.kill(s.pid, signal.SIGTERM)


def test_stop_of_a_dead_simulator_cleans_up(private_state):
    s = sim.start()
    os.kill(s.pid, signal.SIGKILL)
    time.sleep(0.3)
    r = run_cli("sim", "stop")
    assert r.stdout.strip() == f"cleaned up: pid {s.pid} had already died"
    assert sim.status().state == "stopped"


def test_url_and_env_commands(private_state):
    s = sim.start()
    r = run_cli("sim", "url")
    assert r.stdout.strip() == s.url and s.password not in r.stdout
    r = run_cli("sim", "url", "--with-credentials")
    assert "student%40vsphere.local:VMware1%21@" in r.stdout
    r = run_cli("sim", "env")
    assert r.stdout.startswith("export GOVC_URL='https://student%40vsphere.local:") and "GOVC_INSECURE=1" in r.stdout


def test_status_and_url_when_stopped(private_state):
    r = run_cli("sim", "url")
    assert r.returncode == 1 and "labkit sim start" in r.stderr


def _zombie_children(pid: int) -> list[str]:
    """Command names of the <defunct> children of a process."""
    out = subprocess.run(["ps", "-o", "stat=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [line.split(None, 1)[1] for line in out.splitlines() if line.strip().startswith("Z")]


def _gone_or_zombie(pid: int, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return "gone"
        if state == "Z":
            time.sleep(0.5)  # a reaper may be about to collect it
            return "gone" if not os.path.exists(f"/proc/{pid}") else "zombie"
        time.sleep(0.05)
    return "running"


def test_a_simulator_stopped_from_outside_is_reaped_by_its_parent(private_state):
    s = sim.start()
    os.kill(s.pid, signal.SIGTERM)  # as another kernel's reset or `labkit sim stop` would
    assert _gone_or_zombie(s.pid) == "gone"
    assert sim.status().state == "dead"


def test_a_reset_from_another_process_leaves_no_defunct_child(private_state):
    """One kernel starts the lab, a second one resets it: the first keeps no <defunct> simulator."""
    owner = subprocess.Popen([os.sys.executable, "-c", "from labkit import sim; s = sim.start(); "
                              "print(s.pid, flush=True); input()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        first = int(owner.stdout.readline())
        second = sim.reset([])  # this process: stops the owner's simulator, starts its own
        assert second.pid != first
        assert _gone_or_zombie(first) == "gone"
        assert _zombie_children(owner.pid) == []
    finally:
        owner.stdin.close()
        owner.wait(10)


# -- another simulator program -----------------------------------------------
def test_labkit_vcsim_points_at_another_program(private_state, binary, tmp_path, monkeypatch):
    other = tmp_path / "bin" / "vcsim"
    other.parent.mkdir()
    shutil.copy(binary, other)
    monkeypatch.setenv("LABKIT_VCSIM", str(other))
    s = sim.start()
    assert s.binary == str(other)
    with labkit.connect(s.url, user=s.username, password=s.password) as session:
        assert session.is_lab and len(labkit.inventory.hosts(session)) == 4
    with labkit.connect(sim_flags=[]) as session:  # a notebook's own world runs it too
        assert session.world.state.binary == str(other)


def test_vcsim_on_path_serves_when_labkit_has_no_build(private_state, binary, tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy(binary, bindir / "vcsim")
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("LABKIT_VCSIM", raising=False)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    assert sim.start().binary == str(bindir / "vcsim")


def test_a_wrong_labkit_vcsim_is_reported(private_state, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_VCSIM", str(tmp_path / "missing-vcsim"))
    with pytest.raises(SimulatorError, match="does not exist or is not executable"):
        sim.start()


def test_a_simulator_that_dies_at_start_up_is_reported(private_state, binary):
    with pytest.raises(SimulatorError, match="exited during start-up"):
        sim.start(["-dc", "-1"])


def test_reset_restarts_from_the_initial_inventory(private_state):
    first = sim.start(["-host", "1"])
    again = sim.reset()
    assert again.pid != first.pid and again.args == ["-host", "1"]


def test_start_with_other_flags_says_they_were_not_applied(private_state):
    sim.start(["-host", "1"])
    first = sim.status().sim.pid
    r = run_cli("sim", "start", "--", "-host", "2")
    assert r.returncode == 1 and r.stdout == "", r   # not a success: a script would go on against the wrong world
    assert r.stderr == (f"labkit: The lab simulator already runs with ['-host', '1'] (pid {first}), not ['-host', '2']; "
                        "it was left running. Fix: labkit sim stop, then labkit sim start -- -host 2\n")
    assert sim.status().sim.pid == first
    assert oct((paths.state_dir() / "sim.log").stat().st_mode & 0o777) == "0o600"


def test_sim_start_sets_the_time_scale_and_a_session_on_it_plans_and_pings(private_state, binary):
    """`labkit sim start --time-scale N` (a terminal's lab, for govc or a script): lab time runs N times faster, and
    labkit's lab endpoints work on a session that connected to it by URL."""
    from labkit import evacuation, labapi
    from labkit.vmkping import vmkping

    r = run_cli("sim", "start", "--scenario", "inflight-routed", "--time-scale", "80")
    assert r.returncode == 0, r.stderr
    st = sim.status().sim
    with labkit.connect(st.url, user=st.username, password=st.password) as s:
        assert labapi.time_scale(s) == 80
        assert "Network is unreachable" in str(vmkping(s, "esx-01", "10.10.2.12"))
        vmotions, links = evacuation.from_lab(s, "esx-01")
        assert [v.name for v in vmotions] == ["app-01"] and vmotions[0].workload == "web"
    r = run_cli("sim", "start", "--scenario", "inflight-routed", "--time-scale", "60")
    assert r.returncode == 1
    assert "Fix: labkit sim stop, then labkit sim start --scenario inflight-routed --time-scale 60" in r.stderr


def test_the_lab_lists_the_methods_it_served_in_order():
    """/labkit/methods: what a client called, to prove (for instance) that a read-only tool changed nothing."""
    from pyVmomi import vim

    from helpers import lab_world
    from labkit import labapi

    with lab_world("healthy-cluster") as s:
        _, mark = labapi.served_methods(s)
        labkit.inventory.vms(s)
        reads, after_reads = labapi.served_methods(s, since=mark)
        assert reads and set(reads) <= {"RetrievePropertiesEx", "ContinueRetrievePropertiesEx", "CreateContainerView",
                                        "DestroyView", "RetrieveProperties"}, reads
        vm = next(v for v in s.content.viewManager.CreateContainerView(s.content.rootFolder, [vim.VirtualMachine],
                                                                       True).view if v.name == "test-01")
        s.change(vm, "PowerOnVM_Task", progress=False)
        later, _ = labapi.served_methods(s, since=after_reads)
        assert "PowerOnVM_Task" in later and "PowerOnVM_Task" not in reads
        assert labapi.served_methods(s, since=10**9)[0] == []
