"""Host configuration for vMotion in the lab world: VMkernel adapters, the vMotion service, cluster EVC.

For each call: the state change is visible through pyVmomi, the vMotion check it
feeds flips from fail to pass (and back on undo), and a bad request fails with
vCenter's fault type.
"""
import pytest
from helpers import lab_world
from pyVmomi import vim

from labkit import continuity, hostconfig, inventory
from labkit.errors import TaskFailed


def _vmotion_check(session, vm, host):
    """The failing vMotion checks' fault types for moving vm to host, as vCenter reports them."""
    run = continuity.migrate(session, vm, host=host)
    return run.fault_type


@pytest.fixture()
def world():
    with lab_world("no-vmotion-vmk") as s:
        yield s


def test_the_vmotion_network_is_configured_by_api_calls(world):
    s = world
    esx = hostconfig.host(s, "esx-03")
    assert hostconfig.vmkernel_adapters(s, esx)["device"].tolist() == ["vmk0"]
    assert _vmotion_check(s, "web-01", "esx-03") == "VMotionNotConfigured"

    hostconfig.add_port_group(s, esx, "vMotion")
    vmk = hostconfig.add_vmkernel_adapter(s, esx, "vMotion", ip="10.10.0.13", mtu=9000)
    assert vmk == "vmk1"
    table = hostconfig.vmkernel_adapters(s, esx).set_index("device")
    assert table.loc["vmk1", "portgroup"] == "vMotion" and table.loc["vmk1", "mtu"] == 9000
    assert table.loc["vmk1", "ip"] == "10.10.0.13" and table.loc["vmk1", "services"] == []
    assert _vmotion_check(s, "web-01", "esx-03") == "VMotionNotConfigured"   # an adapter alone is not enough

    hostconfig.enable_service(s, esx, vmk, "vmotion")
    # vCenter reports the selection in every place it keeps it
    mgr = esx.configManager.virtualNicManager
    assert mgr.QueryNetConfig("vmotion").selectedVnic == ["vmotion.key-vim.host.VirtualNic-vmk1"]
    assert [nc.selectedVnic for nc in mgr.info.netConfig if nc.nicType == "vmotion"] == [
        ["vmotion.key-vim.host.VirtualNic-vmk1"]]
    assert esx.config.vmotion.netConfig.selectedVnic.endswith("VirtualNic-vmk1")
    assert esx.config.vmotion.ipConfig.ipAddress == "10.10.0.13"
    assert esx.summary.config.vmotionEnabled
    assert [v.device for v in esx.configManager.networkSystem.networkInfo.vnic] == ["vmk0", "vmk1"]
    assert hostconfig.vmkernel_adapters(s, esx).set_index("device").loc["vmk1", "services"] == ["vmotion"]
    run = continuity.migrate(s, "web-01", host="esx-03")
    assert run.succeeded and run.holds

    # undo: the service off again, then the check fails again, for the VM now on esx-03 too
    hostconfig.disable_service(s, esx, vmk, "vmotion")
    assert not esx.summary.config.vmotionEnabled
    assert _vmotion_check(s, "web-01", "esx-01") == "VMotionNotConfigured"


def test_the_older_vmotion_system_calls_work_too(world):
    s = world
    esx = hostconfig.host(s, "esx-03")
    hostconfig.add_port_group(s, esx, "vMotion")
    vmk = hostconfig.add_vmkernel_adapter(s, esx, "vMotion")
    s.change(esx.configManager.vmotionSystem, "SelectVnic", device=vmk)
    assert esx.config.vmotion.netConfig.selectedVnic.endswith(vmk)
    assert continuity.migrate(s, "stuck-03", host="esx-01").succeeded
    s.change(esx.configManager.vmotionSystem, "DeselectVnic")
    assert _vmotion_check(s, "web-01", "esx-03") == "VMotionNotConfigured"


def test_removing_the_adapter_removes_its_services(world):
    s = world
    esx = hostconfig.host(s, "esx-01")       # esx-01 has vmk1 for vMotion from the scenario
    assert hostconfig.vmkernel_adapters(s, esx).set_index("device").loc["vmk1", "services"] == ["vmotion"]
    assert continuity.migrate(s, "web-01", host="esx-02").succeeded
    hostconfig.remove_vmkernel_adapter(s, esx, "vmk1")
    assert hostconfig.vmkernel_adapters(s, esx)["device"].tolist() == ["vmk0"]
    assert esx.configManager.virtualNicManager.QueryNetConfig("vmotion").selectedVnic == []
    assert _vmotion_check(s, "web-01", "esx-01") == "VMotionNotConfigured"


def test_mtu_changes_are_visible(world):
    s = world
    esx = hostconfig.host(s, "esx-02")
    hostconfig.set_mtu(s, esx, "vmk1", 9000)
    assert hostconfig.vmkernel_adapters(s, esx).set_index("device").loc["vmk1", "mtu"] == 9000
    assert esx.config.vmotion.netConfig.candidateVnic[1].spec.mtu == 9000


def test_switch_mtu_is_visible_next_to_the_adapters(world):
    s = world
    esx = hostconfig.host(s, "esx-02")
    assert [vs.mtu for vs in esx.config.network.vswitch] == [1500]     # ESXi's default
    hostconfig.set_switch_mtu(s, esx, "vSwitch0", 9000)
    hostconfig.set_mtu(s, esx, "vmk1", 9000)
    assert [vs.mtu for vs in esx.config.network.vswitch] == [9000]
    assert [vs.spec.mtu for vs in esx.configManager.networkSystem.networkInfo.vswitch] == [9000]
    row = hostconfig.vmkernel_adapters(s, esx).set_index("device").loc["vmk1"]
    assert (row["switch"], row["switch_mtu"], row["mtu"]) == ("vSwitch0", 9000, 9000)
    with pytest.raises(TaskFailed) as e:
        hostconfig.set_switch_mtu(s, esx, "vSwitch9", 9000)
    assert e.value.fault_type == "NotFound"
    with pytest.raises(TaskFailed) as e:
        hostconfig.set_switch_mtu(s, esx, "vSwitch0", 9216)
    assert e.value.fault_type == "InvalidArgument"


def test_host_config_network_follows_every_change(world):
    """ESXi reports the network twice: networkSystem.networkInfo and host.config.network. Both must agree."""
    s = world
    esx = hostconfig.host(s, "esx-03")

    def both():
        info, net = esx.configManager.networkSystem.networkInfo, esx.config.network
        a = ([p.spec.name for p in info.portgroup], [v.device for v in info.vnic])
        b = ([p.spec.name for p in net.portgroup], [v.device for v in net.vnic])
        assert a == b
        return b

    assert both() == (["VM Network", "Management Network"], ["vmk0"])
    hostconfig.add_port_group(s, esx, "vMotion")
    vmk = hostconfig.add_vmkernel_adapter(s, esx, "vMotion")
    assert both() == (["VM Network", "Management Network", "vMotion"], ["vmk0", vmk])
    with pytest.raises(TaskFailed) as e:  # a port group with an adapter on it stays
        hostconfig.remove_port_group(s, esx, "vMotion")
    assert e.value.fault_type == "ResourceInUse" and f"VMkernel adapter {vmk}" in str(e.value)
    hostconfig.remove_vmkernel_adapter(s, esx, vmk)
    hostconfig.remove_port_group(s, esx, "vMotion")
    assert both() == (["VM Network", "Management Network"], ["vmk0"])


def test_several_vmotion_adapters_on_one_host(world):
    s = world
    esx = hostconfig.host(s, "esx-01")
    hostconfig.add_port_group(s, esx, "vMotion-2")
    vmk = hostconfig.add_vmkernel_adapter(s, esx, "vMotion-2", ip="10.10.1.11")
    hostconfig.enable_service(s, esx, vmk, "vmotion")
    selected = esx.configManager.virtualNicManager.QueryNetConfig("vmotion").selectedVnic
    assert [k.rsplit("-", 1)[-1] for k in selected] == ["vmk1", vmk]
    assert esx.configManager.virtualNicManager.QueryNetConfig("vmotion").multiSelectAllowed


@pytest.mark.parametrize("call, fault", [
    (lambda s, esx: hostconfig.add_vmkernel_adapter(s, esx, "No-Such-PG"), "InvalidArgument"),
    # esx-01's vmk1 is on the port group vMotion already: one VMkernel adapter per port group
    (lambda s, esx: (hostconfig.add_port_group(s, esx, "vMotion"), hostconfig.add_vmkernel_adapter(s, esx, "vMotion")),
     "AlreadyExists"),
    (lambda s, esx: hostconfig.remove_vmkernel_adapter(s, esx, "vmk7"), "NotFound"),
    (lambda s, esx: hostconfig.set_mtu(s, esx, "vmk7", 9000), "NotFound"),
    (lambda s, esx: hostconfig.set_mtu(s, esx, "vmk1", 100), "InvalidArgument"),
    (lambda s, esx: hostconfig.enable_service(s, esx, "vmk7", "vmotion"), "InvalidArgument"),
    (lambda s, esx: hostconfig.enable_service(s, esx, "vmk1", "teleport"), "InvalidArgument"),
    (lambda s, esx: hostconfig.disable_service(s, esx, "vmk0", "vmotion"), "InvalidArgument"),
    (lambda s, esx: hostconfig.add_port_group(s, esx, "VM Network"), "AlreadyExists"),
])
def test_bad_requests_fail_with_vcenters_fault(world, call, fault):
    s = world
    esx = hostconfig.host(s, "esx-01")
    with pytest.raises(TaskFailed) as e:
        call(s, esx)
    assert e.value.fault_type == fault
    assert "\n" not in str(e.value)


# -- cluster EVC ------------------------------------------------------------------------------------
@pytest.fixture()
def mixed():
    with lab_world("mixed-intel-evc") as s:
        yield s


def test_evc_check_names_each_problem_with_vcenters_fault(mixed):
    s = mixed
    table = hostconfig.check_evc(s, "Cluster-NoEVC", "intel-cascadelake")
    assert table[["fault", "hosts"]].values.tolist() == [["EVCModeUnsupportedByHosts", ["old-01"]]]
    table = hostconfig.check_evc(s, "Cluster-NoEVC", "amd-zen2")
    assert table["fault"].tolist() == ["EVCModeIllegalByVendor"]
    table = hostconfig.check_evc(s, "Cluster-NoEVC", "intel-haswell")   # avx512-app runs on new-01
    assert table[["fault", "hosts"]].values.tolist() == [["ActiveVMsBlockingEVC", ["new-01"]]]
    assert "avx512-app" in table["message"].iloc[0]
    assert hostconfig.check_evc(s, "Cluster-NoEVC", "intel-sandybridge")["fault"].tolist() == ["ActiveVMsBlockingEVC"]
    assert hostconfig.check_evc(s, "Cluster-EVC", "intel-haswell").empty


def test_evc_state_lists_the_supported_modes(mixed):
    s = mixed
    m = hostconfig.evc_manager(s, "Cluster-EVC")
    assert m.evcState.currentEVCModeKey == "intel-haswell"
    keys = [mode.key for mode in m.evcState.supportedEVCMode]
    intel = [k for k in keys if k.startswith("intel-")]
    assert intel.index("intel-haswell") < intel.index("intel-cascadelake")     # oldest baseline first
    assert hostconfig.evc_manager(s, "Cluster-NoEVC").evcState.currentEVCModeKey in (None, "")


def test_configuring_evc_flips_the_cpu_check_and_disabling_flips_it_back(mixed):
    s = mixed
    assert continuity.migrate(s, "avx512-app", host="old-01").fault_type == "FeatureRequirementsNotMet"
    with pytest.raises(TaskFailed) as e:
        hostconfig.configure_evc(s, "Cluster-NoEVC", "intel-haswell")     # a powered-on VM uses AVX-512
    assert e.value.fault_type == "ActiveVMsBlockingEVC"
    with pytest.raises(TaskFailed) as e:
        hostconfig.configure_evc(s, "Cluster-NoEVC", "intel-cascadelake")  # old-01 cannot offer it
    assert e.value.fault_type == "EVCModeUnsupportedByHosts"

    vm = inventory.find(s, "avx512-app")
    s.change(vm, "PowerOffVM_Task", progress=False)
    hostconfig.configure_evc(s, "Cluster-NoEVC", "intel-haswell")
    cluster = hostconfig.evc_manager(s, "Cluster-NoEVC")
    assert cluster.evcState.currentEVCModeKey == "intel-haswell"
    hosts = {h.name: h for h in s.content.viewManager.CreateContainerView(
        s.content.rootFolder, [vim.HostSystem], True).view}
    assert hosts["new-01"].summary.currentEVCModeKey == "intel-haswell"
    masked = {c.key for c in hosts["new-01"].config.maskedFeatureCapability}
    assert "cpuid.avx512f" not in masked and "cpuid.avx2" in masked
    s.change(vm, "PowerOnVM_Task", progress=False)                     # it now sees Haswell's features only
    assert vm.runtime.minRequiredEVCModeKey == "intel-haswell"
    assert continuity.migrate(s, "avx512-app", host="old-01").succeeded

    hostconfig.disable_evc(s, "Cluster-NoEVC")
    assert hosts["new-01"].summary.currentEVCModeKey in (None, "")
    continuity.migrate(s, "avx512-app", host="new-01")
    s.change(vm, "PowerOffVM_Task", progress=False)
    s.change(vm, "PowerOnVM_Task", progress=False)                     # a power cycle picks up AVX-512 again
    assert continuity.migrate(s, "avx512-app", host="old-01").fault_type == "FeatureRequirementsNotMet"


def test_an_unknown_evc_mode_is_an_invalid_argument(mixed):
    with pytest.raises(TaskFailed) as e:
        hostconfig.configure_evc(mixed, "Cluster-NoEVC", "intel-warp")
    assert e.value.fault_type == "InvalidArgument"


# -- NFS mounts -------------------------------------------------------------------------------------
@pytest.fixture()
def storage():
    with lab_world("partial-storage") as s:
        yield s


def _mounts(session, name):
    ds = inventory.find(session, name, "Datastore")
    return sorted(m.key.name for m in ds.host)


def test_one_nfs_export_is_one_datastore_on_every_host_that_mounts_it(storage):
    s = storage
    esx03 = hostconfig.host(s, "esx-03")
    ds = inventory.find(s, "shared-all", "Datastore")
    assert (ds.info.nas.remoteHost, ds.info.nas.remotePath) == ("nfs.lab.local", "/exports/shared-all")

    hostconfig.unmount_datastore(s, esx03, "shared-all")
    assert _mounts(s, "shared-all") == ["esx-01", "esx-02"]
    assert [d.name for d in esx03.datastore] == ["local-03"]
    assert continuity.migrate(s, "app-all", host="esx-03").fault_type == "DatastoreNotWritableOnHost"

    again = hostconfig.mount_nfs(s, esx03, "shared-all", "nfs.lab.local", "/exports/shared-all")
    assert again == ds                                   # the same Datastore object, not a second one
    assert _mounts(s, "shared-all") == ["esx-01", "esx-02", "esx-03"] and ds.summary.multipleHostAccess
    assert sorted(d.name for d in esx03.datastore) == ["local-03", "shared-all"]
    assert continuity.migrate(s, "app-all", host="esx-03").succeeded


def test_a_new_export_mounted_on_two_hosts_takes_a_storage_vmotion(storage):
    s = storage
    first = hostconfig.mount_nfs(s, hostconfig.host(s, "esx-01"), "nfs-new", "nfs.lab.local", "/exports/nfs-new")
    second = hostconfig.mount_nfs(s, hostconfig.host(s, "esx-02"), "nfs-new", "nfs.lab.local", "/exports/nfs-new")
    assert first == second and first.summary.type == "NFS"
    assert _mounts(s, "nfs-new") == ["esx-01", "esx-02"]
    run = continuity.migrate(s, "app-ab", datastore="nfs-new")
    assert run.succeeded and run.holds


@pytest.mark.parametrize("call, fault", [
    (lambda s: hostconfig.unmount_datastore(s, hostconfig.host(s, "esx-02"), "shared-all"), "ResourceInUse"),
    (lambda s: hostconfig.unmount_datastore(s, hostconfig.host(s, "esx-03"), "shared-ab"), "NotFound"),
    (lambda s: hostconfig.mount_nfs(s, hostconfig.host(s, "esx-01"), "shared-all", "nfs.lab.local",
                                    "/exports/shared-all"), "AlreadyExists"),
    (lambda s: hostconfig.mount_nfs(s, hostconfig.host(s, "esx-03"), "other-name", "nfs.lab.local",
                                    "/exports/shared-ab-not"), None),
    (lambda s: hostconfig.mount_nfs(s, hostconfig.host(s, "esx-03"), "shared-ab", "nfs.lab.local",
                                    "/exports/elsewhere"), "DuplicateName"),
])
def test_bad_mounts_fail_with_vcenters_fault(storage, call, fault):
    if fault is None:                                    # a new export under a new name is fine
        call(storage)
        return
    with pytest.raises(TaskFailed) as e:
        call(storage)
    assert e.value.fault_type == fault


# -- host state ---------------------------------------------------------------------------------------
def test_exit_maintenance_and_reconnect_let_hosts_take_vms_again():
    with lab_world("host-states") as s:
        esx02, esx03 = hostconfig.host(s, "esx-02"), hostconfig.host(s, "esx-03")
        assert continuity.migrate(s, "web-01", host="esx-02").fault_type == "InvalidState"
        hostconfig.exit_maintenance(s, esx02)
        assert not esx02.runtime.inMaintenanceMode
        assert continuity.migrate(s, "web-01", host="esx-02").succeeded

        assert continuity.migrate(s, "web-02", host="esx-03").fault_type == "InvalidHostConnectionState"
        hostconfig.reconnect(s, esx03)
        assert esx03.runtime.connectionState == "connected"
        assert continuity.migrate(s, "web-02", host="esx-03").succeeded

        for call in (lambda: hostconfig.exit_maintenance(s, esx02), lambda: hostconfig.reconnect(s, esx03)):
            with pytest.raises(TaskFailed) as e:                # neither is in that state any more
                call()
            assert e.value.fault_type == "InvalidState"


def _errors(session, vm, host):
    """The fault types vCenter's check reports for moving vm to host (QueryVMotionCompatibilityEx_Task)."""
    from labkit import compat

    table = compat.vcenter(session, vms=[vm], hosts=[host])
    return sorted(set(table.iloc[0]["errors"]))


def test_a_port_group_flips_the_network_check_and_back():
    with lab_world("network-mismatch") as s:
        esx03 = hostconfig.host(s, "esx-03")
        assert _errors(s, "web-prod", "esx-03") == ["CannotAccessNetwork"]
        hostconfig.add_port_group(s, esx03, "Prod")
        assert _errors(s, "web-prod", "esx-03") == []
        assert "esx-03" in inventory.networks(s).set_index("name").loc["Prod", "hosts"]
        hostconfig.remove_port_group(s, esx03, "Prod")
        assert _errors(s, "web-prod", "esx-03") == ["CannotAccessNetwork"]
        with pytest.raises(TaskFailed) as e:
            hostconfig.remove_port_group(s, esx03, "Prod")
        assert e.value.fault_type == "NotFound"


def test_maintenance_mode_flips_the_host_state_check_and_back():
    with lab_world("host-states") as s:
        esx02 = hostconfig.host(s, "esx-02")
        assert _errors(s, "web-01", "esx-02") == ["InvalidState"]
        hostconfig.exit_maintenance(s, esx02)
        assert _errors(s, "web-01", "esx-02") == []
        s.change(esx02, "EnterMaintenanceMode_Task", timeout=0, progress=False)
        assert _errors(s, "web-01", "esx-02") == ["InvalidState"]


def test_switch_mtu_keeps_the_rest_of_the_switch_spec():
    """On ESXi a spec without bridge unsets the uplinks: set_switch_mtu must send the whole current spec back."""
    from types import SimpleNamespace

    bridge = vim.host.VirtualSwitch.BondBridge(nicDevice=["vmnic0", "vmnic1"])
    current = vim.host.VirtualSwitch.Specification(numPorts=128, mtu=1500, bridge=bridge)
    switch = SimpleNamespace(name="vSwitch0", spec=current)
    system = SimpleNamespace(networkInfo=SimpleNamespace(vswitch=[switch]))
    esx = SimpleNamespace(configManager=SimpleNamespace(networkSystem=system))
    sent = []
    session = SimpleNamespace(change=lambda obj, method, **kw: sent.append((obj, method, kw)))

    hostconfig.set_switch_mtu(session, esx, "vSwitch0", 9000)
    ((obj, method, kw),) = sent
    assert obj is system and method == "UpdateVirtualSwitch" and kw["vswitchName"] == "vSwitch0"
    assert kw["spec"].mtu == 9000 and kw["spec"].numPorts == 128
    assert list(kw["spec"].bridge.nicDevice) == ["vmnic0", "vmnic1"]
    assert current.mtu == 1500  # the host's own copy is not changed in place
