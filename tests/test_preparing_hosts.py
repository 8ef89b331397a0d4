"""Lesson 01b's exercises: each verdict follows the lab world (or the model), wrong tries get a reason."""
import pytest
from helpers import lab_world

from labkit import continuity, exercises, hostconfig, inventory, precopy
from labkit.errors import TaskFailed
from labkit.lessons import preparing_hosts


@pytest.fixture(autouse=True)
def _clean_attempts():
    exercises._attempts.clear()


@pytest.fixture()
def world():
    with lab_world("nothing-ready") as s:
        yield s


def _check(id, answer, session=None):
    return exercises.check(id, answer, session)


def _prepare(session, name, ip, *, mount=(), networks=()):
    esx = hostconfig.host(session, name)
    for net in networks:
        hostconfig.add_port_group(session, esx, net)
    hostconfig.add_port_group(session, esx, "vMotion")
    vmk = hostconfig.add_vmkernel_adapter(session, esx, "vMotion", ip=ip)
    hostconfig.enable_service(session, esx, vmk, "vmotion")
    for ds in mount:
        nas = inventory.find(session, ds, "Datastore").info.nas
        hostconfig.mount_nfs(session, esx, ds, nas.remoteHost, nas.remotePath)
    return esx


def test_checklist_needs_exactly_the_requirements():
    assert _check("01b.checklist", {"a", "c", "e", "f"}).passed
    assert _check("01b.checklist", ["A", "c", "e", "f"]).passed
    r = _check("01b.checklist", {"a", "b", "c", "e", "f"})   # DRS is no requirement
    assert not r.passed and "not something a vMotion needs" in r.line
    r = _check("01b.checklist", {"a", "c", "e"})
    assert not r.passed and "1 requirement(s) missing" in r.line
    assert "There is no statement z" in _check("01b.checklist", {"z"}).line
    assert "set of letters" in _check("01b.checklist", "acef").line


def test_evc_exercise_wants_the_highest_mode_applied_and_proven(world):
    s = world
    for name, ip in [("esx-01", "10.10.0.11"), ("esx-02", "10.10.0.12")]:
        _prepare(s, name, ip)
    refused = continuity.migrate(s, "web-01", host="esx-02")
    assert "was refused (FeatureRequirementsNotMet)" in _check("01b.evc", refused, s).line
    assert "Answer with the MigrationRun" in _check("01b.evc", "intel-cascadelake", s).line

    # the running VM that has seen Ice Lake blocks the mode until it is power-cycled
    with pytest.raises(TaskFailed) as blocked:
        hostconfig.configure_evc(s, "Cluster-A", "intel-cascadelake")
    assert blocked.value.fault_type == "ActiveVMsBlockingEVC"
    web01 = inventory.find(s, "web-01")
    s.change(web01, "PowerOffVM_Task", progress=False)
    cold = continuity.migrate(s, "web-01", host="esx-02")        # a cold migration is no vMotion
    assert cold.succeeded and "was not running" in _check("01b.evc", cold, s).line
    continuity.migrate(s, "web-01", host="esx-01")
    for vm in ("app-02", "db-02"):                                # they have seen Cascade Lake's features
        s.change(inventory.find(s, vm), "PowerOffVM_Task", progress=False)
    hostconfig.configure_evc(s, "Cluster-A", "intel-skylake")    # allowed, but not the highest
    s.change(web01, "PowerOnVM_Task", progress=False)
    low = continuity.migrate(s, "web-01", host="esx-02")
    assert low.succeeded and "there is a higher mode" in _check("01b.evc", low, s).line

    hostconfig.configure_evc(s, "Cluster-A", "intel-cascadelake")  # raising a mode leaves running VMs alone
    run = continuity.migrate(s, "web-01", host="esx-01")
    assert "not a compute migration of web-01 to esx-02" in _check("01b.evc", run, s).line
    run = continuity.migrate(s, "web-01", host="esx-02")
    assert _check("01b.evc", run, s).passed


def test_esx03_exercise_follows_the_host(world):
    s = world
    refused = continuity.migrate(s, "app-02", host="esx-03")
    assert "was refused (InvalidState)" in _check("01b.esx-03", refused, s).line
    assert "Answer with the MigrationRun" in _check("01b.esx-03", "esx-03", s).line

    _prepare(s, "esx-02", "10.10.0.12")
    esx03 = hostconfig.host(s, "esx-03")
    hostconfig.exit_maintenance(s, esx03)
    _prepare(s, "esx-03", "10.10.0.13", mount=["shared-nfs"], networks=["Prod"])
    run = continuity.migrate(s, "app-02", host="esx-03")
    assert run.succeeded
    assert _check("01b.esx-03", run, s).passed
    other = continuity.migrate(s, "app-02", host="esx-02")   # moved away again: the lab no longer agrees
    assert "that run migrated" not in _check("01b.esx-03", run, s).line
    assert other.succeeded and "does not run on esx-03" in _check("01b.esx-03", run, s).line


def test_jumbo_exercise_reads_every_adapter_and_switch(world):
    s = world
    esx = {n: _prepare(s, n, ip) for n, ip in [("esx-01", "10.10.0.11"), ("esx-02", "10.10.0.12")]}
    assert "path carries 1500" in _check("01b.jumbo", 9000, s).line
    for host in esx.values():
        hostconfig.set_mtu(s, host, "vmk1", 9000)
    assert "path carries 1500" in _check("01b.jumbo", 9000, s).line   # the switches still say 1500
    for host in esx.values():
        hostconfig.set_switch_mtu(s, host, "vSwitch0", 9000)
    assert not _check("01b.jumbo", 1500, s).passed
    assert _check("01b.jumbo", 9000, s).passed


def test_two_links_is_the_models_answer():
    oltp = precopy.workload("oltp-database", 16384)
    one = precopy.simulate(**oltp, link_gbps=10, nics=1)["total_s"]
    two = precopy.simulate(**oltp, link_gbps=10, nics=2)["total_s"]
    assert preparing_hosts.model_saving_s() == pytest.approx(one - two)
    assert 0 < one - two < one
    assert _check("01b.two-links", one - two).passed
    assert not _check("01b.two-links", one).passed
    assert "number of seconds" in _check("01b.two-links", "9 s").line
