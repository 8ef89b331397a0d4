"""labkit.continuity: migrations run in the lab world, their invariants, and the network and storage models."""
import dataclasses

import pytest
from helpers import by_name, lab_world
from pyVmomi import vim

import labkit
from labkit import continuity
from labkit.continuity import invariants, network, storage
from labkit.errors import ChangeRefused, InvalidInput, LabkitError


def _failed(table):
    return sorted(table.loc[~table["holds"], "invariant"])


def _events(run):
    return list(zip(run.events["type"], run.events["chainId"]))


# -- every invariant holds after a good migration, of each kind -----------------------------------------
@pytest.fixture(scope="module")
def storage_runs():
    with lab_world("partial-storage") as s:
        yield {
            "compute": continuity.migrate(s, "app-all", host="esx-01"),
            "refused": continuity.migrate(s, "app-ab", host="esx-03"),
            "storage": continuity.migrate(s, "app-ab", datastore="shared-all"),
            "both": continuity.migrate(s, "app-local", host="esx-01", datastore="shared-ab"),
        }


@pytest.mark.parametrize("kind", ["compute", "refused", "storage", "both"])
def test_every_invariant_holds_after_a_good_migration(storage_runs, kind):
    run = storage_runs[kind]
    assert run.holds, run.invariants[~run.invariants["holds"]]
    assert run.succeeded is (kind != "refused")


def test_the_invariants_cover_what_the_issue_names(storage_runs):
    names = set(storage_runs["both"].invariants["invariant"])
    assert {"runs on esx-01", "power state kept", "same identity (instance UUID, BIOS UUID)", "same MAC addresses",
            "same network on every adapter", "same disks", "same disk sizes", "same disk UUIDs",
            "all files on shared-ab", "files found on shared-ab", "nothing left on local-03",
            "start and end events, one chain"} == names
    assert "failure event" in set(storage_runs["refused"].invariants["invariant"])


def test_runs_record_kind_fault_and_timeline(storage_runs):
    both, refused = storage_runs["both"], storage_runs["refused"]
    assert both.kind == "compute + storage" and storage_runs["storage"].kind == "storage"
    assert refused.fault_type == "DatastoreNotWritableOnHost" and "shared-ab" in refused.message
    task = both.timeline[both.timeline["source"] == "task"]
    assert list(dict.fromkeys(task["what"])) == ["queued", "running", "success"]
    assert task["t_s"].is_monotonic_increasing and task["t_s"].iloc[0] == 0
    assert list(both.events["type"]) == ["VmBeingHotMigratedEvent", "VmMigratedEvent"]
    assert both.events["chainId"].nunique() == 1
    assert list(refused.events["type"]) == ["VmFailedMigrateEvent"]
    assert both.before.disks[0].uuid == both.after.disks[0].uuid and both.after.disks[0].uuid.startswith("6000c29")
    changed = both.properties.set_index("property")["changed"]
    assert changed["host"] and changed["Hard disk 1: fileName"] and not changed["Hard disk 1: uuid"]
    assert not changed["Network adapter 1: macAddress"]


def test_the_timeline_chart_and_its_description(storage_runs):
    runs = list(storage_runs.values())
    fig = continuity.charts.timeline_figure(*runs)
    assert len(fig.data) == 2 * len(runs)
    text = continuity.charts.describe_timeline(*runs)
    assert "app-ab → esx-03 (compute): queued -> running -> VmFailedMigrateEvent -> error" in text


def test_a_distributed_port_moves_with_the_vm():
    with lab_world("network-mismatch") as s:
        run = continuity.migrate(s, "app-dv", host="esx-03")
        assert run.holds and "same distributed port" in set(run.invariants["invariant"])
        assert run.before.nics[0].port is not None and run.after.nics[0].port == run.before.nics[0].port


# -- the checks catch a broken migration ------------------------------------------------------------------
def _checked(run, after):
    return invariants.check(run.before, after, host=run.host, datastore=run.datastore, succeeded=run.succeeded,
                            events=_events(run))


def test_a_changed_mac_is_reported(storage_runs):
    run = storage_runs["both"]
    nic = run.after.nics[0]
    after = dataclasses.replace(run.after, nics=(dataclasses.replace(nic, mac="00:50:56:aa:bb:cc"),))
    assert _failed(_checked(run, after)) == ["same MAC addresses"]


def test_a_migration_that_really_changes_the_mac_is_reported():
    """Not a doctored snapshot: the lab really changes the adapter's MAC between the two reads."""
    with lab_world("partial-storage") as s:
        vm = by_name(s, vim.VirtualMachine)["app-all"]
        before = continuity.read(s, vm)
        nic = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard))
        nic.addressType, nic.macAddress = "manual", "00:50:56:01:02:03"
        change = vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)
        s.change(vm, "ReconfigVM_Task", spec=vim.vm.ConfigSpec(deviceChange=[change]))
        s.change(vm, "RelocateVM_Task", spec=vim.vm.RelocateSpec(host=by_name(s, vim.HostSystem)["esx-01"]))
        after = continuity.read(s, vm)
        table = invariants.check(before, after, host="esx-01",
                                 events=[("VmBeingHotMigratedEvent", 1), ("VmMigratedEvent", 1)])
        assert _failed(table) == ["same MAC addresses"]


def test_a_disk_left_behind_is_reported(storage_runs):
    run = storage_runs["both"]
    disk = run.after.disks[0]
    stay = dataclasses.replace(disk, file=disk.file.replace("[shared-ab]", "[local-03]"), datastore="local-03")
    after = dataclasses.replace(run.after, disks=(stay,), datastores=("local-03", "shared-ab"))
    assert _failed(_checked(run, after)) == ["all files on shared-ab"]


def test_the_lessons_changed_copy_breaks_a_state_as_it_says(storage_runs):
    """Lesson 04 builds its broken state with continuity.state.changed and checks it with run.event_pairs."""
    run = storage_runs["both"]
    disk, nic = run.after.disks[0], run.after.nics[0]
    stray = continuity.state.changed(disk, file="[local-03] app-local/app-local.vmdk", datastore="local-03")
    other = continuity.state.changed(nic, mac="00:50:56:00:00:01")
    broken = continuity.state.changed(run.after, disks=[stray], nics=[other])
    assert broken.disks == (stray,) and broken.nics == (other,)  # lists are stored as tuples
    assert run.after.disks == (disk,) and run.after.nics[0].mac == nic.mac  # the originals are untouched
    assert run.event_pairs == _events(run)
    table = invariants.check(run.before, broken, host=run.host, datastore=run.datastore, events=run.event_pairs)
    assert _failed(table) == ["all files on shared-ab", "same MAC addresses"]
    with pytest.raises(TypeError, match="has no field colour"):
        continuity.state.changed(nic, colour="red")


def test_files_left_on_the_old_datastore_are_reported(storage_runs):
    run = storage_runs["storage"]
    after = dataclasses.replace(run.after, browsed=run.before.browsed)  # the old folder was never emptied
    assert _failed(_checked(run, after)) == ["files found on shared-all", "nothing left on shared-ab"]


@pytest.mark.parametrize("field,value,broken", [
    ("host", "esx-02", "runs on esx-01"),
    ("power_state", "poweredOff", "power state kept"),
    ("instance_uuid", "00000000-0000-0000-0000-000000000000", "same identity (instance UUID, BIOS UUID)"),
])
def test_host_power_and_identity_changes_are_reported(storage_runs, field, value, broken):
    run = storage_runs["compute"]
    assert _failed(_checked(run, dataclasses.replace(run.after, **{field: value}))) == [broken]


def test_disk_size_uuid_network_and_disk_set_changes_are_reported(storage_runs):
    run = storage_runs["compute"]
    disk, nic = run.after.disks[0], run.after.nics[0]
    cases = {
        "same disk sizes": dataclasses.replace(run.after, disks=(dataclasses.replace(disk, capacity_bytes=1),)),
        "same disk UUIDs": dataclasses.replace(run.after, disks=(dataclasses.replace(disk, uuid="6000c29-other"),)),
        "same network on every adapter": dataclasses.replace(run.after, nics=(dataclasses.replace(nic, network="X"),)),
    }
    for name, after in cases.items():
        assert _failed(_checked(run, after)) == [name]
    gone = _failed(_checked(run, dataclasses.replace(run.after, disks=())))
    assert {"same disks", "same disk sizes", "same disk UUIDs", "files where they were"} == set(gone)


def test_a_refused_migration_that_moved_anything_is_reported(storage_runs):
    run = storage_runs["refused"]
    moved = dataclasses.replace(run.after, host="esx-03")
    assert _failed(_checked(run, moved)) == ["runs on esx-01"]


def test_missing_events_are_reported(storage_runs):
    run = storage_runs["compute"]
    table = invariants.check(run.before, run.after, host="esx-01", events=[("VmBeingHotMigratedEvent", 7)])
    assert _failed(table) == ["start and end events, one chain"]
    table = invariants.check(run.before, run.after, host="esx-01",
                             events=[("VmBeingHotMigratedEvent", 7), ("VmMigratedEvent", 8)])
    assert _failed(table) == ["start and end events, one chain"]


# -- the change guard and bad input ---------------------------------------------------------------------------
def test_a_read_only_session_changes_nothing():
    with lab_world("partial-storage"):
        with labkit.connect(lab=False) as s:
            with pytest.raises(ChangeRefused):
                continuity.migrate(s, "app-all", host="esx-01")
            assert labkit.inventory.vms(s).set_index("name").loc["app-all", "host"] == "esx-02"


def test_inside_a_lab_area_on_a_non_lab_session():
    with lab_world("partial-storage"):
        with labkit.connect(lab=False, allow_changes=True, lab_area=["/Lab-DC/vm"]) as s:
            run = continuity.migrate(s, "app-all", host="esx-01")
            assert run.succeeded and run.holds


def test_bad_requests_get_one_line():
    with lab_world("partial-storage") as s:
        with pytest.raises(InvalidInput, match="host=, datastore="):
            continuity.migrate(s, "app-all")
        with pytest.raises(LabkitError, match="No VirtualMachine named 'nope'"):
            continuity.migrate(s, "nope", host="esx-01")
        with pytest.raises(LabkitError, match="No HostSystem named 'esx-09'"):
            continuity.migrate(s, "app-all", host="esx-09")


# -- the network switchover model, against hand-worked cases --------------------------------------------------
def test_pings_lost_in_the_window():
    # window = 0.9 + 0.3 = 1.2 s; requests at 0, 0.2, ... 1.0 are lost, the one at 1.2 gets through
    assert network.lost_pings(0.9, interval_s=0.2, rarp_delay_s=0.3) == 6
    # one-second pings starting 0.5 s before the stun: only 0.5 s falls in a 1.0 s window
    assert network.lost_pings(1.0, interval_s=1.0, phase_s=0.5) == 1
    assert network.lost_pings(0.0) == 0
    # window [0, 0.5) stunned, [0.5, 0.65) switches still learning: 0.6 is lost to the old port
    table = network.pings(0.5, interval_s=0.2, rarp_delay_s=0.15, before_s=0.4, after_s=0.4)
    assert table["sent_s"].tolist() == [-0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
    assert table["why"].tolist() == ["", "", "VM stunned", "VM stunned", "VM stunned",
                                     "switches still use the old port", "", "", ""]
    # a request at exactly the end of the window gets through
    assert not network.pings(0.5, interval_s=0.2, rarp_delay_s=0.1).set_index("sent_s").loc[0.6, "lost"]


def test_tcp_backoff_by_hand():
    r = network.tcp(1.0, rarp_delay_s=0.05, app_timeout_s=2)
    assert r["retransmit_at_s"] == [0.2, 0.6, 1.4] and r["stall_s"] == 1.4 and r["app_survives"]
    r = network.tcp(1.9, rarp_delay_s=0.05, app_timeout_s=2)
    assert r["retransmit_at_s"] == [0.2, 0.6, 1.4, 3.0] and r["stall_s"] == 3.0
    assert r["session_survives"] and not r["app_survives"]
    # RFC 6298's 1 s minimum RTO: resends at 1, 3, 7 s
    assert network.tcp(3.5, rto_s=1.0)["retransmit_at_s"] == [1.0, 3.0, 7.0]


def test_tcp_gives_up_after_its_retries_and_caps_the_rto():
    r = network.tcp(10_000, retries=15)
    assert not r["session_survives"] and r["retransmissions"] == 15 and r["recovered_at_s"] is None
    # 0.2 * (2^10 - 1) = 204.6 s for the first ten, then five more waits capped at 120 s: 804.6 s
    assert r["retransmit_at_s"][-1] == pytest.approx(0.2 * (2**10 - 1) + 5 * 120)
    assert network.tcp(0.0, rarp_delay_s=0.0)["stall_s"] == 0.0


def test_sessions_table():
    t = network.sessions(0.9, [0.5, 1, 2, 5], rarp_delay_s=0.05)
    assert t["stall_s"].tolist() == [1.4] * 4 and t["app_survives"].tolist() == [False, False, True, True]


@pytest.mark.parametrize("call", [
    lambda: network.tcp(-1), lambda: network.tcp("soon"), lambda: network.pings(1, interval_s=0),
    lambda: network.pings(1, interval_s=0.2, phase_s=0.3), lambda: network.tcp(1, retries=1.5),
    lambda: network.pings(1e9, interval_s=0.001),
])
def test_network_model_bad_input(call):
    with pytest.raises(InvalidInput) as e:
        call()
    assert "\n" not in str(e.value)


# -- the storage copy model, against hand-worked cases -----------------------------------------------------------
def test_mirror_copies_once_whatever_the_write_rate():
    for writes in (0, 20, 400, 5000):
        c = storage.copy(100, 400, writes, method="mirror")
        assert c.summary["passes"] == 1 and c.summary["converged"] and c.summary["recopied_mib"] == 0
        assert c.summary["copy_s"] == 256.0  # 102,400 MiB at 400 MiB/s
        assert c.summary["mirrored_mib"] == pytest.approx(writes * 256.0 / 2)


def test_iterative_copy_by_hand():
    # 100 GiB at 200 MiB/s, writes 20 MiB/s: passes copy 102400, 10240, 1024, 102.4 MiB (0.512 s > 0.5 s budget),
    # then 10.24 MiB during a 0.0512 s switchover
    c = storage.copy(100, 200, 20, method="iterative")
    passes = c.passes[c.passes["phase"] == "copy"]
    assert passes["copied_mib"].tolist() == pytest.approx([102400, 10240, 1024, 102.4])
    assert c.summary["switchover_s"] == pytest.approx(0.0512) and c.summary["outcome"] == "converged"
    assert c.summary["copy_s"] == pytest.approx(512 + 51.2 + 5.12 + 0.512)
    assert c.summary["recopied_mib"] == pytest.approx(10240 + 1024 + 102.4 + 10.24)


def test_iterative_copy_fails_when_writes_outpace_the_copier():
    c = storage.copy(100, 400, 500, method="iterative")
    assert c.summary["outcome"] == "failed" and c.summary["passes"] == 29
    assert c.summary["switchover_s"] == 256.0  # the whole disk is dirty again: 102,400 MiB at 400 MiB/s > 100 s
    assert storage.copy(1, 400, 500, method="iterative").summary["outcome"] == "long switchover"


def test_compare_and_remaining_curve():
    t = storage.compare(100, 400, 40)
    assert t["method"].tolist() == ["mirror", "iterative"]
    curve = storage.remaining(storage.copy(100, 400, 40))
    assert curve["remaining_mib"].iloc[0] == 102400 and curve["remaining_mib"].iloc[-1] == 0
    assert curve["remaining_mib"].is_monotonic_decreasing


@pytest.mark.parametrize("call", [
    lambda: storage.copy(0, 400, 40), lambda: storage.copy(100, 400, -1), lambda: storage.copy(100, 400, 40, method="x"),
    lambda: storage.copy(100, 400, 40, passes=3), lambda: storage.copy(100, True, 40),
])
def test_storage_model_bad_input(call):
    with pytest.raises(InvalidInput) as e:
        call()
    assert "\n" not in str(e.value)


# -- explorers follow their sliders ---------------------------------------------------------------------------------
def test_ping_explorer_follows_its_sliders():
    ex = continuity.PingExplorer(downtime_s=1.0, rarp_delay_s=0.05, interval_s=0.2, app_timeout_s=2)
    assert ex.result()["stall_s"] == 1.4 and ex.result()["app_survives"]
    first = ex.output.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    ex.controls["downtime_s"].value = 1.9
    assert ex.result()["stall_s"] == 3.0 and not ex.result()["app_survives"] and "times out" in ex.summary.value
    assert ex.output.outputs[0]["data"]["application/vnd.plotly.v1+json"] != first


def test_copy_explorer_follows_its_sliders():
    ex = continuity.CopyExplorer(disk_gib=64, copy_mibps=400, write_mibps=40)
    assert [c.summary["outcome"] for c in ex.copies()] == ["converged", "converged"]
    ex.controls["write_mibps"].value = 600
    assert [c.summary["outcome"] for c in ex.copies()] == ["converged", "failed"]
    assert "failed" in ex.summary.value


# -- standard port groups at run time (what exercise 05.port-group relies on) -----------------------------------------
def _pg(name, vswitch="vSwitch0"):
    return vim.host.PortGroup.Specification(name=name, vlanId=0, vswitchName=vswitch, policy=vim.host.NetworkPolicy())


def test_a_same_named_port_group_joins_the_network_and_unblocks_the_migration():
    with lab_world("network-mismatch") as s:
        hosts = by_name(s, vim.HostSystem)
        ns = hosts["esx-03"].configManager.networkSystem
        assert not continuity.migrate(s, "web-prod", host="esx-03").succeeded
        s.change(ns, "AddPortGroup", portgrp=_pg("Prod"))
        prod = by_name(s, vim.Network)["Prod"]
        assert sorted(h.name for h in prod.host) == ["esx-01", "esx-02", "esx-03"]
        assert prod in hosts["esx-03"].network and "Prod" in [p.spec.name for p in ns.networkInfo.portgroup]
        assert continuity.migrate(s, "web-prod", host="esx-03").holds
        with pytest.raises(vim.fault.AlreadyExists):
            ns.AddPortGroup(portgrp=_pg("Prod"))
        with pytest.raises(vim.fault.NotFound):
            ns.AddPortGroup(portgrp=_pg("Other", vswitch="vSwitch9"))
        with pytest.raises(vim.fault.ResourceInUse):
            ns.RemovePortGroup(pgName="Prod")  # web-prod uses it on esx-03 now
        hosts["esx-02"].configManager.networkSystem.RemovePortGroup(pgName="Prod")
        assert sorted(h.name for h in by_name(s, vim.Network)["Prod"].host) == ["esx-01", "esx-03"]


def test_a_new_port_group_on_one_host_is_a_new_network_until_removed():
    with lab_world("network-mismatch") as s:
        esx03 = by_name(s, vim.HostSystem)["esx-03"]
        esx03.configManager.networkSystem.AddPortGroup(portgrp=_pg("Backup"))
        assert [h.name for h in by_name(s, vim.Network)["Backup"].host] == ["esx-03"]
        esx03.configManager.networkSystem.RemovePortGroup(pgName="Backup")
        assert "Backup" not in by_name(s, vim.Network)
        assert "Backup" not in [n.name for n in esx03.network]


# -- the lesson checkers refuse wrong answers ---------------------------------------------------------------------------
def test_lesson_checkers_refuse_wrong_answers(storage_runs):
    from labkit.exercises import check

    with lab_world("partial-storage") as s:
        refused = continuity.migrate(s, "app-local", host="esx-01")
        assert not check("04.not-shared", refused, s).passed
        assert "refused" in check("04.not-shared", refused, s).line
        assert not check("04.not-shared", storage_runs["compute"], s).passed  # another VM's run
        assert not check("04.mirrored", 60 * 200 * 1024 / 500, s).passed  # forgot the half
        assert not check("04.left-behind", (lambda run: [], storage_runs["storage"]), s).passed
        assert not check("05.survives-2s", True, s).passed
        assert not check("05.lost-pings", 7, s).passed
        assert check("05.lost-pings", 6, s).passed
