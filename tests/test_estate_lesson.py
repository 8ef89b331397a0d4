"""Lesson 08 (your own estate): the captured estate holds the problems the lesson ranks, each check accepts the right
answer and rejects wrong ones with one line, and the fixes proven in the lab are the ones the plan chose."""
import pytest
from helpers import lab_world

from labkit import exercises, hostconfig, inventory, labapi, readonly, scenarios, vmconfig
from labkit.lessons import estate


@pytest.fixture(autouse=True)
def _clean_attempts():
    exercises._attempts.clear()


def _says(exercise, answer, session, words):
    result = exercises.check(exercise, answer, session)
    assert not result.passed and words.lower() in result.line.lower(), result.line
    assert len(result.line.splitlines()) == 1
    return result


def _passes(exercise, answer, session):
    result = exercises.check(exercise, answer, session)
    assert result.passed, result.line


def _vmotion_adapter(s, host="host-03", ip="10.0.0.13", mtu=1500, service=True):
    esx = hostconfig.host(s, host)
    hostconfig.add_port_group(s, esx, "vMotion")
    device = hostconfig.add_vmkernel_adapter(s, esx, "vMotion", ip=ip, mtu=mtu)
    if service:
        hostconfig.enable_service(s, esx, device, "vmotion")


def _mount(s, host="host-04", name="ds-04"):
    nas = inventory.find(s, name, "Datastore").info.nas
    hostconfig.mount_nfs(s, hostconfig.host(s, host), name, nas.remoteHost, nas.remotePath)


def _port_group(s, host="host-08", name="net-02", vlan=120):
    hostconfig.add_port_group(s, hostconfig.host(s, host), name, vlan=vlan)


def test_the_shipped_estate_is_a_capture_and_compiles():
    text = scenarios.path_of("captured-estate").read_text()
    assert "Names and addresses are pseudonyms" in text and "nwtraders" not in text and "172.20." not in text
    assert not (scenarios.directory() / "captured-estate.mapping.json").exists()
    doc = scenarios.compile("captured-estate")
    assert len(doc["hosts"]) == 9 and len(doc["vms"]) == 46


def test_the_estate_has_problems_of_every_cost_and_the_plan_ranks_them():
    with lab_world("captured-estate") as s:
        _, mark = labapi.served_methods(s)
        v = estate.read(s)
        assert readonly.violations(labapi.served_methods(s, since=mark)[0]) == []  # the lesson's reads only read
    faults = estate.by_fault(v)
    assert faults.iloc[0]["fault"] == "VMotionNotConfigured"  # most refused moves inside a cluster
    assert faults.sort_values("refused moves").iloc[-1]["fault"] == "DatastoreNotWritableOnHost"  # most of all
    table = estate.fixes(v).set_index("fix")
    assert set(table.index) == {"vmotion:host-03", "mount:ds-04", "portgroup:net-02", "host-devices", "images:ds-01",
                                "evc:cluster-02", "upgrade:cluster-02"}
    assert not table.loc["evc:cluster-02", "live"] and not table.loc["upgrade:cluster-02", "live"]
    assert table.loc["images:ds-01", "changes"] == 3 and table.loc["evc:cluster-02", "changes"] == 12
    p = estate.plan(v)
    assert estate.cheapest(v) == ["vmotion:host-03", "mount:ds-04", "portgroup:net-02"]
    assert p["frees"].tolist()[:3] == [11, 6, 5] and p["frees alone"].tolist()[:3] == [11, 2, 5]
    assert p["movable after"].iloc[-1] == 43 and len(estate.movable(v)) == 5
    assert list(p["live"]) == [True] * 5 + [False] * 2
    assert estate.describe_plan(p).splitlines()[0] == "1. vmotion:host-03 (live, 1 change): frees 11 VMs, 16 movable after"
    fig = estate.plan_figure(p, 43)
    assert list(fig.data[0].y) == p["frees"].tolist()
    e = estate.FixExplorer(v)
    assert e.outcome()["movable"] == 5
    for fix in estate.cheapest(v):
        e.controls[fix].value = True
    assert e.outcome() == {"fixes": sorted(estate.cheapest(v)), "changes": 3, "downtime": [], "movable": 27, "of": 43}
    e.controls["evc:cluster-02"].value = True
    assert e.outcome()["downtime"] == ["evc:cluster-02"] and "1 fixes with downtime" in repr(e)


def test_top_fault_counts_the_moves_inside_a_cluster():
    with lab_world("captured-estate") as s:
        _passes("08.top-fault", "VMotionNotConfigured", s)
        _passes("08.top-fault", " vim.fault.VMotionNotConfigured", s)
        _says("08.top-fault", "DatastoreNotWritableOnHost", s, "most of them leave a cluster")
        _says("08.top-fault", "CannotAccessNetwork", s, "another fault refuses more")
        _says("08.top-fault", "InvalidState", s, "reports no InvalidState")
        _says("08.top-fault", ["VMotionNotConfigured"], s, "as text")


def test_cheapest_wants_the_plans_first_three_live_fixes_in_order():
    with lab_world("captured-estate") as s:
        right = ["vmotion:host-03", "mount:ds-04", "portgroup:net-02"]
        _passes("08.cheapest", right, s)
        _passes("08.cheapest", tuple(right), s)
        _says("08.cheapest", ["vmotion:host-03", "portgroup:net-02", "mount:ds-04"], s, "in another order")
        _says("08.cheapest", ["vmotion:host-03", "host-devices", "mount:ds-04"], s, "not among the three cheapest")
        _says("08.cheapest", ["vmotion:host-03", "evc:cluster-02", "mount:ds-04"], s, "needs downtime")
        _says("08.cheapest", ["vmotion:host-03", "mount:ds-04"], s, "three fixes, not 2")
        _says("08.cheapest", ["vmotion:host-03", "mount:ds-99", "portgroup:net-02"], s, "clears no refused move")
        _says("08.cheapest", "vmotion:host-03", s, "list of three fix names")
        _vmotion_adapter(s)  # once made, a fix is no longer among the world's problems
        _says("08.cheapest", right, s, "re-run the connect cell")


def test_prove_accepts_the_three_fixes_and_rejects_half_wrong_and_extra_ones():
    with lab_world("captured-estate") as s:
        before = estate.read(s)
        _says("08.prove", estate.compare(before, estate.read(s)), s, "3 of the 3 cheapest fixes are not made yet")
        _vmotion_adapter(s, service=False)  # an adapter without the vMotion service clears nothing
        _mount(s)
        stale = estate.compare(before, estate.read(s))
        _says("08.prove", stale, s, "VMotionNotConfigured")
        hostconfig.enable_service(s, hostconfig.host(s, "host-03"), "vmk1", "vmotion")
        _port_group(s, vlan=0)  # the name is all vCenter's check looks at
        proof = estate.compare(before, estate.read(s))
        assert proof.fixed == ["mount:ds-04", "portgroup:net-02", "vmotion:host-03"] and len(proof.freed) == 22
        _says("08.prove", proof, s, "has VLAN 0 on vSwitch0, where the other hosts have VLAN 120")
        hostconfig.remove_port_group(s, hostconfig.host(s, "host-08"), "net-02")
        _port_group(s)
        _says("08.prove", stale, s, "not what vCenter says now")
        proof = estate.compare(before, estate.read(s))
        _passes("08.prove", proof, s)
        assert "movable VMs 5 -> 27 (+22)" in proof.describe()
        _says("08.prove", estate.compare(estate.read(s), estate.read(s)), s, "not the world as it started")
        _says("08.prove", proof.describe(), s, "estate.compare(before, after)")
        # more than asked: one of three CD-ROMs with an image on ds-01 disconnected (the fix made in part)
        vmconfig.disconnect(s, "vm-19", "CD/DVD drive 1")
        _says("08.prove", estate.compare(before, estate.read(s)), s, "the fix images:ds-01 was made too (for vm-19)")


def test_a_before_read_in_a_later_session_after_a_fix_is_not_the_world_as_it_started():
    """A fix, the session closed, a new one opened on the same world: its 'before' is not pristine."""
    import labkit

    with lab_world("captured-estate") as s:
        _mount(s)
    with labkit.connect() as again:
        before = estate.read(again)
        assert before.changed_by_then
        _says("08.prove", estate.compare(before, estate.read(again)), again, "not the world as it started")


def test_prove_rejects_a_vmotion_adapter_outside_the_subnet_and_a_vm_powered_off():
    with lab_world("captured-estate") as s:
        before = estate.read(s)
        _vmotion_adapter(s, ip="10.0.1.13")
        _mount(s)
        _port_group(s)
        _says("08.prove", estate.compare(before, estate.read(s)), s, "outside the other hosts' vMotion subnet")
    with lab_world("captured-estate") as s:
        before = estate.read(s)
        _vmotion_adapter(s, ip="10.0.0.12")
        _mount(s)
        _port_group(s)
        _says("08.prove", estate.compare(before, estate.read(s)), s, "the address of host-02's")
    with lab_world("captured-estate") as s:
        before = estate.read(s)
        _vmotion_adapter(s)
        _mount(s)
        _port_group(s)
        hostconfig.disable_service(s, hostconfig.host(s, "host-09"), "vmk1", "vmotion")  # breaks what worked
        _says("08.prove", estate.compare(before, estate.read(s)), s, "now refuses vm-01 -> host-09 (VMotionNotConfigured)")
        s.change(inventory.find(s, "vm-35", "VirtualMachine"), "PowerOffVM_Task", progress=False)
        _says("08.prove", estate.compare(before, estate.read(s)), s, "VM vm-35 is poweredOff now")
