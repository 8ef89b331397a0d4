"""Troubleshooting: the fault guide against the faults the lab really raises, diagnose against the
migration, the fixes of lesson 06 (vmconfig.disconnect, hostconfig.add_dvs_host) and its exercises."""
import math

import pandas as pd
import pytest
import conformance
from helpers import lab_world, pool_for

import labkit
from labkit import continuity, exercises, hostconfig, inventory, scenarios, troubleshoot, vmconfig
from labkit.errors import ChangeRefused, InvalidInput, TaskFailed
from labkit.lessons import troubleshooting

#: scenario, VM, destination, the fault the move is refused with, what the fault's fields say
CASES = [
    ("no-vmotion-vmk", "stuck-03", "esx-01", "VMotionNotConfigured", "source host esx-03"),
    ("no-vmotion-vmk", "web-01", "esx-03", "VMotionNotConfigured", "destination host esx-03"),
    ("host-states", "web-02", "esx-03", "InvalidHostConnectionState", ""),
    ("host-states", "web-02", "esx-02", "InvalidState", ""),
    ("blocking-devices", "cd-host", "esx-02", "CannotAccessVmDevice", "CD/DVD drive 1 on"),
    ("blocking-devices", "cd-client", "esx-02", "DisallowedMigrationDeviceAttached", "RemoteDeviceNotSupported"),
    ("blocking-devices", "gpu-passthrough", "esx-02", "DisallowedMigrationDeviceAttached",
     "DeviceBackingNotSupported: PCI device 1"),
    ("low-memory", "analytics", "small-02", "InsufficientMemoryResourcesFault",
     "requested 16,528 MiB, unreserved 7,987 MiB"),
    ("network-mismatch", "app-dv", "esx-04", "CannotAccessNetwork", "Network adapter 1 on App-DV, connected"),
    ("old-esxi", "modern-vm", "legacy-01", "VirtualHardwareVersionNotSupported", "host legacy-01"),
    ("mixed-intel-evc", "avx512-app", "old-01", "FeatureRequirementsNotMet", "missing CPU features: "),
    ("partial-storage", "app-ab", "esx-03", "DatastoreNotWritableOnHost", "datastore shared-ab"),
]


@pytest.fixture(autouse=True)
def _clean_attempts():
    exercises._attempts.clear()


def _check(id, answer, session=None):
    return exercises.check(id, answer, session)


def _says(id, answer, session, text) -> bool:
    """The check fails, and its line says ``text`` (the first letter of a reason is capitalised)."""
    result = _check(id, answer, session)
    return not result.passed and text.lower() in str(result).lower()


# -- the guide ------------------------------------------------------------------------------
def test_the_guide_has_every_column_filled_and_a_source_per_row():
    guide = troubleshoot.guide()
    assert list(guide.columns) == ["fault", "check", "means", "look_at", "fix", "fixable_live", "lesson", "lab",
                                   "source"]
    assert guide["fault"].is_unique
    for col in ("fault", "check", "means", "fix", "fixable_live", "lesson", "lab", "source"):
        assert (guide[col].str.len() > 0).all(), col
    assert set(guide["lab"]) <= {"yes", "no"}


def test_the_guide_covers_every_fault_the_lab_raises_and_claims_no_more(binary):
    """Across every small scenario and every row of the conformance table, each fault vCenter reports is in the
    guide with lab=yes, and each lab=yes row is raised by one of them: the column cannot drift from the simulator."""
    seen = set()
    for name in scenarios.names():
        if name == "large-datacenter":
            continue
        with lab_world(name) as s:
            board = troubleshoot.board(s)
        seen |= {f for faults in board["errors"] for f in faults} | {f for faults in board["warnings"] for f in faults}
    # the faults the conformance table's rows make the lab raise (tests/test_conformance.py runs them)
    for row in conformance.rows():
        if row.modelled:
            exp = row.data["expect"]
            seen |= {f.partition("@")[0] for f in [*exp.get("errors", []), *exp.get("warnings", [])]}
            seen |= {exp["fault"]} if "fault" in exp else set()
    guide = troubleshoot.guide().set_index("fault")
    assert seen - set(guide.index) == set()
    assert set(guide.index[guide["lab"] == "yes"]) == seen


def test_details_read_the_fields_of_every_vmotion_interface_fault():
    from pyVmomi import vim

    details = troubleshoot.details
    assert details(vim.fault.VMotionLinkDown(atSourceHost=True, failedHost="esx-9")) == "source host esx-9"
    assert details(vim.fault.VMotionNotConfigured(atSourceHost=False, failedHost="esx-2")) == \
        "destination host esx-2"
    assert details(vim.fault.InsufficientMemoryResourcesFault(requested=3 << 30, unreserved=1 << 30)) == \
        "requested 3,072 MiB, unreserved 1,024 MiB"
    assert details(vim.fault.InvalidState()) == ""


def test_describe_shows_vcenters_message_for_a_fault_the_guide_lacks():
    findings = pd.DataFrame([{"severity": "error", "fault": "NoSuchFault", "details": "", "check": "", "fix": "",
                              "fixable_live": "", "message": "vCenter's own words"}])
    d = troubleshoot.Diagnosis("vm-1", "esx-1", None, findings, pd.DataFrame(columns=["type", "message"]))
    assert "message: vCenter's own words" in d.describe() and d.verdict == "blocked"


def test_explain_an_unknown_fault_says_where_to_read_more():
    row = troubleshoot.explain("NoSuchFault")
    assert row["fault"] == "NoSuchFault" and "API reference" in row["means"] and row["fix"] == ""


# -- diagnose --------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario, vm, host, fault, details", CASES, ids=[f"{c[0]}:{c[1]}->{c[2]}" for c in CASES])
def test_diagnose_names_the_fault_the_migration_fails_with(binary, scenario, vm, host, fault, details):
    with lab_world(scenario) as s:
        d = troubleshoot.diagnose(s, vm, host)
        assert d.verdict == "blocked" and d.faults[0] == fault
        assert d.findings.loc[0, "details"].startswith(details)
        assert d.findings.loc[0, "fix"] == troubleshoot.explain(fault)["fix"] != ""
        assert inventory.vms(s).set_index("name").loc[vm, "host"] != host  # the check moved nothing
        run = continuity.migrate(s, vm, host=host, pool=pool_for(s, vm, host))
        assert not run.succeeded and run.fault_type == fault
        after = troubleshoot.diagnose(s, vm, host, events=1)
        assert after.events["type"].tolist() == ["VmFailedMigrateEvent"]
        assert f"Cannot migrate {vm}" in after.events.loc[0, "message"]
        assert fault in after.describe() and after.describe().startswith(f"{vm} -> {host}: blocked")


def test_diagnose_says_ok_and_warning_and_needs_a_target(binary):
    with lab_world("blocking-devices") as s:
        assert troubleshoot.diagnose(s, "cd-iso", "esx-02").verdict == "ok"
        warn = troubleshoot.diagnose(s, "cd-host-unplugged", "esx-02")
        assert warn.verdict == "warning" and warn.faults == []
        assert warn.findings["fault"].tolist() == ["CannotAccessVmDevice"]
        assert "not connected" in warn.findings.loc[0, "details"]
        with pytest.raises(InvalidInput):
            troubleshoot.diagnose(s, "cd-host")
        html = warn._repr_html_()
        assert "cd-host-unplugged" in html and "CannotAccessVmDevice" in html


def test_diagnose_reads_only_so_it_runs_without_opt_in(binary):
    # the simulator treated as a real vCenter, without opt-in
    with lab_world("network-mismatch"), labkit.connect(lab=False) as vc:
        assert troubleshoot.diagnose(vc, "app-dv", "esx-04").faults == ["CannotAccessNetwork"]
        assert len(troubleshoot.board(vc)) > 0
        with pytest.raises(ChangeRefused):
            hostconfig.add_dvs_host(vc, "DSwitch", hostconfig.host(vc, "esx-04"))


def test_a_host_of_another_compute_resource_gets_its_own_root_pool(binary):
    from labkit.troubleshoot import _pool_for

    with lab_world("network-mismatch") as s:
        vm = inventory.find(s, "app-dv")
        esx04, esx01 = hostconfig.host(s, "esx-04"), hostconfig.host(s, "esx-01")
        assert _pool_for(s, vm, esx01) is None
        assert _pool_for(s, vm, esx04) == esx04.parent.resourcePool
        assert troubleshoot.diagnose(s, vm, esx04, pool=esx04.parent.resourcePool).faults == ["CannotAccessNetwork"]


def test_board_leaves_out_each_vms_own_host_and_draws_it_blank(binary):
    with lab_world("no-vmotion-vmk") as s:
        board = troubleshoot.board(s)
        where = inventory.vms(s).set_index("name")["host"]
        assert len(board) == len(where) * (len(inventory.hosts(s)) - 1)
        assert not any(where[v] == h for v, h in zip(board["vm"], board["host"]))
        fig = troubleshoot.board_figure(board)
        z = fig.data[0].z
        assert sum(math.isnan(v) for row in z for v in row) == len(where)
        assert sum(v == 2 for row in z for v in row) == 3  # stuck-03 to two hosts, web-01 to esx-03


# -- the fixes -------------------------------------------------------------------------------
def test_devices_carry_the_vsphere_client_labels(binary):
    with lab_world("blocking-devices") as s:
        t = vmconfig.devices(s, "cd-host").set_index("label")
        assert t.loc["CD/DVD drive 1", "backing"] == "AtapiBackingInfo" and t.loc["CD/DVD drive 1", "connected"]
        assert vmconfig.devices(s, "serial-host")["label"].tolist() == ["Network adapter 1", "Serial port 1"]
        assert "PCI device 1" in vmconfig.devices(s, "gpu-passthrough")["label"].tolist()


def test_disconnect_turns_the_error_into_a_warning_and_the_vm_moves(binary):
    with lab_world("blocking-devices") as s:
        with pytest.raises(InvalidInput, match="CD/DVD drive 1"):
            vmconfig.disconnect(s, "cd-host", "CD/DVD drive 9")
        vmconfig.disconnect(s, "cd-host", "CD/DVD drive 1")
        t = vmconfig.devices(s, "cd-host").set_index("label")
        assert not t.loc["CD/DVD drive 1", "connected"] and t.loc["CD/DVD drive 1", "startConnected"]
        assert troubleshoot.diagnose(s, "cd-host", "esx-02").verdict == "warning"
        assert continuity.migrate(s, "cd-host", host="esx-02").succeeded
        vmconfig.disconnect(s, "serial-host", "Serial port 1", at_power_on=True)
        t = vmconfig.devices(s, "serial-host").set_index("label")
        assert not t.loc["Serial port 1", "connected"] and not t.loc["Serial port 1", "startConnected"]


def test_add_dvs_host_gives_the_host_the_distributed_port_groups(binary):
    with lab_world("network-mismatch") as s:
        esx04 = hostconfig.host(s, "esx-04")
        assert hostconfig.dvs_members(s, "DSwitch") == ["esx-01", "esx-02", "esx-03"]
        hostconfig.add_dvs_host(s, "DSwitch", esx04)
        assert hostconfig.dvs_members(s, "DSwitch") == ["esx-01", "esx-02", "esx-03", "esx-04"]
        nets = inventory.networks(s).set_index("name")
        assert "esx-04" in nets.loc["App-DV", "hosts"]
        assert "App-DV" in hostconfig.readiness(s).set_index("host").loc["esx-04", "networks"]
        assert troubleshoot.diagnose(s, "app-dv", "esx-04").verdict == "ok"
        with pytest.raises(TaskFailed):  # a member already
            hostconfig.add_dvs_host(s, "DSwitch", esx04)


# -- lesson 06's exercises -------------------------------------------------------------------
def test_vmotion_adapter_needs_the_fix_and_the_vmotion(binary):
    with lab_world("no-vmotion-vmk") as s:
        refused = continuity.migrate(s, "stuck-03", host="esx-01")
        assert _says("06.vmotion-adapter", refused, s, "refused (VMotionNotConfigured)")
        cold = continuity.migrate(s, "cold-01", host="esx-03")
        assert _says("06.vmotion-adapter", cold, s, "that run migrated cold-01, not stuck-03")
        esx03 = hostconfig.host(s, "esx-03")
        hostconfig.add_port_group(s, esx03, "vMotion")
        vmk = hostconfig.add_vmkernel_adapter(s, esx03, "vMotion", ip="10.10.0.13")
        hostconfig.enable_service(s, esx03, vmk)
        run = continuity.migrate(s, "stuck-03", host="esx-01")
        assert _check("06.vmotion-adapter", run, s).passed
        hostconfig.disable_service(s, esx03, vmk)
        assert _says("06.vmotion-adapter", run, s, "no VMkernel adapter with the vMotion service")
    with lab_world("low-memory") as other:
        assert _says("06.vmotion-adapter", run, other, "not on scenario no-vmotion-vmk")


def test_reconnect_case(binary):
    with lab_world("host-states") as s:
        hostconfig.reconnect(s, hostconfig.host(s, "esx-03"))
        run = continuity.migrate(s, "web-02", host="esx-03")
        assert _check("06.reconnect", run, s).passed
        elsewhere = continuity.migrate(s, "web-01", host="esx-03")
        assert _says("06.reconnect", elsewhere, s, "migrated web-01, not web-02")


def test_cd_rom_case_wants_the_drive_disconnected_not_removed(binary):
    from pyVmomi import vim

    with lab_world("blocking-devices") as s:
        vmconfig.disconnect(s, "cd-host", "CD/DVD drive 1")
        run = continuity.migrate(s, "cd-host", host="esx-02")
        assert _check("06.cd-rom", run, s).passed
    with lab_world("blocking-devices") as s:
        vm = inventory.find(s, "cd-host")
        drive = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualCdrom))
        s.change(vm, "ReconfigVM_Task", spec=vim.vm.ConfigSpec(deviceChange=[
            vim.vm.device.VirtualDeviceSpec(operation="remove", device=drive)]), progress=False)
        run = continuity.migrate(s, "cd-host", host="esx-02")
        assert run.succeeded
        assert _says("06.cd-rom", run, s, "no CD/DVD drive any more")


def test_make_room_refuses_a_vm_stopped_on_the_way_or_shrunk(binary):
    with lab_world("low-memory") as s:
        resident = inventory.find(s, "resident-24g")
        s.change(resident, "PowerOffVM_Task", progress=False)
        assert continuity.migrate(s, "analytics", host="small-02").succeeded
        run = continuity.migrate(s, "resident-24g", host="big-01")  # cold, then started again
        assert run.succeeded
        s.change(resident, "PowerOnVM_Task", progress=False)
        again = continuity.migrate(s, "analytics", host="big-01")
        back = continuity.migrate(s, "analytics", host="small-02")
        assert again.succeeded and back.succeeded
        assert _says("06.make-room", back, s, "resident-24g was stopped on the way")
    from pyVmomi import vim

    with lab_world("low-memory") as s:
        s.change(inventory.find(s, "resident-24g"), "ReconfigVM_Task", spec=vim.vm.ConfigSpec(memoryMB=24576),
                 progress=False)
        assert continuity.migrate(s, "resident-24g", host="big-01").succeeded
        run = continuity.migrate(s, "analytics", host="small-02")
        assert _says("06.make-room", run, s, "resident-24g was reconfigured")


def test_make_room_refuses_a_power_off(binary):
    with lab_world("low-memory") as s:
        s.change(inventory.find(s, "resident-24g"), "PowerOffVM_Task", progress=False)
        run = continuity.migrate(s, "analytics", host="small-02")
        assert run.succeeded
        assert _says("06.make-room", run, s, "resident-24g no longer runs")
    with lab_world("low-memory") as s:
        assert continuity.migrate(s, "resident-24g", host="big-01").succeeded
        run = continuity.migrate(s, "analytics", host="small-02")
        assert _check("06.make-room", run, s).passed


def test_distributed_case(binary):
    with lab_world("network-mismatch") as s:
        hostconfig.add_dvs_host(s, "DSwitch", hostconfig.host(s, "esx-04"))
        run = continuity.migrate(s, "app-dv", host="esx-04", pool=pool_for(s, "app-dv", "esx-04"))
        assert _check("06.distributed", run, s).passed
        assert _says("06.distributed", "app-dv", s, "answer with the MigrationRun")
    from pyVmomi import vim

    with lab_world("network-mismatch") as s:  # the adapter moved to a network esx-04 has, then back
        vm = inventory.find(s, "app-dv")
        nic = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard))
        original = nic.backing
        mgmt = inventory.find(s, "Mgmt-VMs", "Network")
        nic.backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="Mgmt-VMs", network=mgmt)
        edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)
        s.change(vm, "ReconfigVM_Task", spec=vim.vm.ConfigSpec(deviceChange=[edit]), progress=False)
        assert continuity.migrate(s, "app-dv", host="esx-04", pool=pool_for(s, "app-dv", "esx-04")).succeeded
        hostconfig.add_dvs_host(s, "DSwitch", hostconfig.host(s, "esx-04"))
        nic.backing = original
        s.change(vm, "ReconfigVM_Task", spec=vim.vm.ConfigSpec(deviceChange=[edit]), progress=False)
        run = continuity.migrate(s, "app-dv", host="esx-02", pool=pool_for(s, "app-dv", "esx-02"))
        run = continuity.migrate(s, "app-dv", host="esx-04", pool=pool_for(s, "app-dv", "esx-04"))
        assert run.succeeded
        assert _says("06.distributed", run, s, "app-dv's adapter was changed")


def test_hardware_version_case_follows_the_lab_and_the_dataset(binary):
    truth = troubleshooting.first_release_for(19)
    assert (truth["version"], truth["release"]) == ("7.0.2", "ESXi 7.0 U2")
    assert troubleshooting.first_release_for(15)["version"] == "7.0.0"  # 6.7 U2 has no row of its own
    with pytest.raises(ValueError):
        troubleshooting.first_release_for(99)
    with lab_world("old-esxi") as s:
        assert _check("06.hardware-version", "7.0.2", s).passed
        assert _check("06.hardware-version", " ESXi 7.0 U2 ", s).passed
        assert _says("06.hardware-version", "7.0.3", s, "not the first")
        assert _says("06.hardware-version", "6.7.0", s, "not the first")
        assert _says("06.hardware-version", "7.2", s, "not a release")
        assert _says("06.hardware-version", 7.0, s, "version string")


# -- the explorer ----------------------------------------------------------------------------
def test_explorer_follows_the_lab_and_says_when_its_lab_is_gone(binary):
    with lab_world("no-vmotion-vmk") as s:
        ex = troubleshoot.Explorer(s, "stuck-03", "esx-01")
        assert "stuck-03 -> esx-01: blocked" in repr(ex)
        ex.host.value = "esx-02"
        assert "stuck-03 -> esx-02: blocked" in ex.output.outputs[0]["data"]["text/plain"]
        ex.vm.value = "cold-01"
        assert "cold-01 -> esx-02: ok" in ex.output.outputs[0]["data"]["text/plain"]
        with pytest.raises(InvalidInput, match="no VM 'web-99'"):
            troubleshoot.Explorer(s, "web-99")
        with lab_world("no-vmotion-vmk"):  # its world started again: the explorer's session has gone with it
            ex.again.click()
            assert "run its cell again" in ex.output.outputs[0]["data"]["text/plain"]



def test_the_lesson_the_guide_names_for_a_fault_names_the_fault():
    """The guide's `lesson` column is where a learner meets the fault: that notebook's text must name it."""
    import json
    import pathlib

    notebooks = {p.name[:3].rstrip("-"): p for p in pathlib.Path(__file__).parent.parent.joinpath("notebooks").glob("*.ipynb")}
    for row in troubleshoot.guide().itertuples():
        cells = json.loads(notebooks[row.lesson].read_text())["cells"]
        text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert row.fault in text, f"{row.fault}: lesson {row.lesson} never names it"
