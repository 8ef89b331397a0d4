"""What a successful migration changes, what a refused one leaves alone, and the events of both."""
import pytest
from helpers import by_name, lab_world
from pyVmomi import vim, vmodl

import labkit
from labkit.errors import TaskFailed
from labkit.tasks import wait_for_task


def _events(session, vm):
    spec = vim.event.EventFilterSpec(maxCount=1000, entity=vim.event.EventFilterSpec.ByEntity(entity=vm, recursion="self"))
    return sorted(session.content.eventManager.QueryEvents(spec), key=lambda e: e.key)


def _kinds(events):
    return [type(e).__name__.split(".")[-1] for e in events]


def _macs(vm):
    return sorted(d.macAddress for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard))


def _disk_files(vm):
    return [(d.backing.fileName, d.backing.datastore.name) for d in vm.config.hardware.device
            if isinstance(d, vim.vm.device.VirtualDisk)]


def _files_on(session, ds, folder):
    browser = ds.browser
    task = browser.SearchDatastore_Task(datastorePath=f"[{ds.name}] {folder}",
                                        searchSpec=vim.host.DatastoreBrowser.SearchSpec(matchPattern=["*"]))
    try:
        result = wait_for_task(session, task, progress=False)
    except TaskFailed:
        return []
    return sorted(f.path for f in result.file)


def test_shared_nothing_vmotion_moves_host_storage_files_and_bookkeeping():
    with lab_world("partial-storage") as s:
        vm = by_name(s, vim.VirtualMachine)["app-ab"]
        hosts, ds = by_name(s, vim.HostSystem), by_name(s, vim.Datastore)
        macs, uuid, power = _macs(vm), vm.config.instanceUuid, vm.runtime.powerState
        assert _files_on(s, ds["shared-ab"], "app-ab")
        s.change(vm, "RelocateVM_Task", spec=vim.vm.RelocateSpec(host=hosts["esx-03"], datastore=ds["local-03"]))

        assert vm.runtime.host == hosts["esx-03"] and vm.summary.runtime.host == hosts["esx-03"]
        assert vm in hosts["esx-03"].vm and vm not in hosts["esx-01"].vm
        assert vm in ds["local-03"].vm and vm not in ds["shared-ab"].vm
        assert vm.datastore == [ds["local-03"]]
        assert vm.config.files.vmPathName == "[local-03] app-ab/app-ab.vmx"
        assert vm.summary.config.vmPathName == "[local-03] app-ab/app-ab.vmx"
        assert _disk_files(vm) == [("[local-03] app-ab/app-ab.vmdk", "local-03")]
        assert all(f.name.startswith("[local-03]") for f in vm.layoutEx.file)
        # the files really moved
        assert _files_on(s, ds["local-03"], "app-ab") and not _files_on(s, ds["shared-ab"], "app-ab")
        # what must not change
        assert _macs(vm) == macs and vm.config.instanceUuid == uuid and vm.runtime.powerState == power
        assert vm.resourcePool == hosts["esx-03"].parent.resourcePool

        being, done = _events(s, vm)[-2:]
        assert _kinds([being, done]) == ["VmBeingHotMigratedEvent", "VmMigratedEvent"]
        assert done.chainId == being.key
        assert (being.host.name, being.destHost.name, being.destDatastore.name) == ("esx-01", "esx-03", "local-03")
        assert (done.sourceHost.name, done.host.name, done.sourceDatastore.name) == ("esx-01", "esx-03", "shared-ab")
        assert done.fullFormattedMessage == "Migration of virtual machine app-ab from esx-01, shared-ab to esx-03 completed"


def test_storage_vmotion_keeps_the_host():
    with lab_world("partial-storage") as s:
        vm = by_name(s, vim.VirtualMachine)["app-ab"]
        hosts, ds = by_name(s, vim.HostSystem), by_name(s, vim.Datastore)
        s.change(vm, "RelocateVM_Task", spec=vim.vm.RelocateSpec(datastore=ds["shared-all"]))
        assert vm.runtime.host == hosts["esx-01"] and vm.datastore == [ds["shared-all"]]
        assert _disk_files(vm) == [("[shared-all] app-ab/app-ab.vmdk", "shared-all")]
        # now compute vMotion to esx-03 is possible
        s.change(vm, "MigrateVM_Task", host=hosts["esx-03"], priority="defaultPriority")
        assert vm.runtime.host == hosts["esx-03"]


def test_cold_migration_and_relocation_events():
    with lab_world("no-vmotion-vmk") as s:
        vm, hosts = by_name(s, vim.VirtualMachine)["cold-01"], by_name(s, vim.HostSystem)
        s.change(vm, "MigrateVM_Task", host=hosts["esx-03"], priority="defaultPriority")
        s.change(vm, "RelocateVM_Task", spec=vim.vm.RelocateSpec(host=hosts["esx-02"]))
        assert _kinds(_events(s, vm)[-4:]) == ["VmBeingMigratedEvent", "VmMigratedEvent",
                                               "VmBeingRelocatedEvent", "VmRelocatedEvent"]
        assert vm.runtime.powerState == "poweredOff" and vm.runtime.host == hosts["esx-02"]


def test_a_move_to_another_compute_resource_needs_its_pool_and_changes_the_vms():
    """MigrateVM_Task without a pool uses the VM's current pool, which is not esx-04's: InvalidArgument, and
    the VM stays; with esx-04's own pool it moves into it (API reference, MigrateVM_Task)."""
    with lab_world("network-mismatch") as s:
        vm, hosts = by_name(s, vim.VirtualMachine)["tools-01"], by_name(s, vim.HostSystem)
        before, home = vm.resourcePool, vm.runtime.host
        with pytest.raises(TaskFailed) as err:
            s.change(vm, "MigrateVM_Task", host=hosts["esx-04"], priority="defaultPriority")
        assert err.value.fault_type == "InvalidArgument" and err.value.fault.invalidProperty == "pool"
        assert (vm.runtime.host, vm.resourcePool) == (home, before)
        s.change(vm, "MigrateVM_Task", host=hosts["esx-04"], pool=hosts["esx-04"].parent.resourcePool,
                 priority="defaultPriority")
        assert vm.resourcePool == hosts["esx-04"].parent.resourcePool != before
        assert vm in vm.resourcePool.vm and vm not in before.vm


def test_a_refused_migration_changes_nothing_and_is_logged():
    with lab_world("network-mismatch") as s:
        vm, hosts = by_name(s, vim.VirtualMachine)["web-prod"], by_name(s, vim.HostSystem)
        before = (vm.runtime.host, vm.resourcePool, list(vm.datastore), _macs(vm))
        with pytest.raises(TaskFailed) as err:
            s.change(vm, "MigrateVM_Task", host=hosts["esx-03"], priority="defaultPriority")
        assert err.value.fault_type == "CannotAccessNetwork"
        assert "Network adapter 1" in str(err.value) and "'Prod'" in str(err.value)
        assert (vm.runtime.host, vm.resourcePool, list(vm.datastore), _macs(vm)) == before
        last = _events(s, vm)[-1]
        assert _kinds([last]) == ["VmFailedMigrateEvent"] and last.destHost.name == "esx-03"
        assert isinstance(last.reason, vim.fault.CannotAccessNetwork)


def test_migration_progress_moves_over_the_simulated_time():
    with lab_world("healthy-cluster", "-time-scale", "2.5") as s:  # 3.7 simulated s in about 1.5 s
        vm, hosts = by_name(s, vim.VirtualMachine)["web-01"], by_name(s, vim.HostSystem)
        task = vm.MigrateVM_Task(host=hosts["esx-02"], priority="defaultPriority")
        PC = vmodl.query.PropertyCollector
        pc = s.content.propertyCollector.CreatePropertyCollector()
        pc.CreateFilter(PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=task)],
                                      propSet=[PC.PropertySpec(type=vim.Task, pathSet=["info"])]),
                        partialUpdates=False)
        seen, version, state = [], "", None
        while state not in ("success", "error"):
            update = pc.WaitForUpdatesEx(version, PC.WaitOptions(maxWaitSeconds=5))
            assert update is not None, "no task update within 5 s"
            version = update.version
            for change in update.filterSet[0].objectSet[0].changeSet:
                if change.val.progress is not None:
                    seen.append(change.val.progress)
                state = change.val.state
        pc.DestroyPropertyCollector()
        assert state == "success"
        assert len(set(seen)) >= 5 and seen == sorted(seen) and seen[-1] == 100


def test_maintenance_mode_evacuates_with_drs():
    with lab_world("host-states") as s:
        hosts, vms = by_name(s, vim.HostSystem), by_name(s, vim.VirtualMachine)
        s.change(hosts["esx-01"], "EnterMaintenanceMode_Task", timeout=30)
        assert hosts["esx-01"].runtime.inMaintenanceMode
        assert vms["web-01"].runtime.host == vms["web-02"].runtime.host == hosts["esx-04"]
        assert vms["off-01"].runtime.host == hosts["esx-01"]  # powered off: it may stay
        kinds = _kinds(_events(s, vms["web-01"]))
        assert kinds[-2:] == ["VmBeingHotMigratedEvent", "DrsVmMigratedEvent"]
        # and now the host refuses VMs
        (r,) = wait_for_task(s, s.content.vmProvisioningChecker.CheckMigrate_Task(vm=vms["web-01"], host=hosts["esx-01"]),
                             progress=False)
        assert [type(f).__name__.split(".")[-1] for f in r.error] == ["InvalidState"]


def test_maintenance_mode_times_out_when_vms_cannot_leave():
    with lab_world("host-states") as s:
        hosts = by_name(s, vim.HostSystem)
        with pytest.raises(TaskFailed) as err:
            s.change(hosts["esx-10"], "EnterMaintenanceMode_Task", timeout=1)  # standalone: nowhere to go
        assert err.value.fault_type == "Timedout"
        assert not hosts["esx-10"].runtime.inMaintenanceMode


def test_maintenance_mode_without_drs_waits_for_the_admin():
    with lab_world("no-vmotion-vmk") as s:  # a cluster without DRS
        hosts, vms = by_name(s, vim.HostSystem), by_name(s, vim.VirtualMachine)
        task = hosts["esx-01"].EnterMaintenanceMode_Task(timeout=0)
        with pytest.raises(labkit.errors.TaskTimeout):
            wait_for_task(s, task, timeout=1, progress=False)
        assert task.info.state == "running" and not hosts["esx-01"].runtime.inMaintenanceMode
        s.change(vms["web-01"], "MigrateVM_Task", host=hosts["esx-02"], priority="defaultPriority")
        wait_for_task(s, task, timeout=10, progress=False)
        assert hosts["esx-01"].runtime.inMaintenanceMode
        assert vms["cold-01"].runtime.host == hosts["esx-01"]


def test_maintenance_mode_can_be_cancelled():
    with lab_world("host-states") as s:
        hosts = by_name(s, vim.HostSystem)
        task = hosts["esx-10"].EnterMaintenanceMode_Task(timeout=0)
        task.CancelTask()
        with pytest.raises(TaskFailed) as err:
            wait_for_task(s, task, timeout=10, progress=False)
        assert err.value.fault_type == "RequestCanceled"


def test_power_operations_follow_the_host_state_and_admission_control():
    """PowerOnVM_Task: InvalidState "if the host is in maintenance mode", and InsufficientResourcesFault "if this
    operation would violate a resource usage policy" (admission control: reservation plus overhead); SuspendVM_Task:
    InvalidPowerState "if the power state is not poweredOn" (API reference, VirtualMachine)."""
    with lab_world("low-memory") as s:
        vms, hosts = by_name(s, vim.VirtualMachine), by_name(s, vim.HostSystem)
        s.change(vms["resident-24g"], "PowerOffVM_Task")
        with pytest.raises(TaskFailed, match="InvalidPowerState"):
            s.change(vms["resident-24g"], "SuspendVM_Task")
        assert vms["resident-24g"].runtime.powerState == "poweredOff"
        # analytics reserves 16 GB and takes small-02's room; resident-24g, which reserves 24 GB, cannot power on
        s.change(vms["analytics"], "MigrateVM_Task", host=hosts["small-02"], priority="defaultPriority")
        with pytest.raises(TaskFailed) as err:
            s.change(vms["resident-24g"], "PowerOnVM_Task")
        assert err.value.fault_type == "InsufficientMemoryResourcesFault"
        assert vms["resident-24g"].runtime.powerState == "poweredOff"
        s.change(vms["tiny"], "PowerOffVM_Task")
        s.change(hosts["big-01"], "EnterMaintenanceMode_Task", timeout=10)
        with pytest.raises(TaskFailed, match="InvalidState"):
            s.change(vms["tiny"], "PowerOnVM_Task")


def test_a_destination_that_stops_taking_vms_during_the_migration_fails_it():
    """The destination enters maintenance mode while a migration runs: the switchover finds it refusing VMs."""
    with lab_world("healthy-cluster", "-time-scale", "7") as s:  # about 0.5 s
        vms, hosts = by_name(s, vim.VirtualMachine), by_name(s, vim.HostSystem)
        task = vms["web-01"].MigrateVM_Task(host=hosts["esx-03"], priority="defaultPriority")
        s.change(hosts["esx-03"], "EnterMaintenanceMode_Task", timeout=10)  # db-01 leaves by DRS first
        with pytest.raises(TaskFailed, match="InvalidState"):
            wait_for_task(s, task, progress=False)
        assert vms["web-01"].runtime.host == hosts["esx-01"]
