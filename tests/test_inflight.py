"""Migrations that take time and fail in flight (issue 25): the lab runs the pre-copy model, queues what vCenter's
limits do not let start, fails what the network or the switchover limit stops partway, and each host's vmkernel log
says why. Every failure kind: the pre-check passes, the task fails partway with its fault, the VM runs on the source
afterwards, and the host log explains it."""
import textwrap
import time

import pytest
from pyVmomi import vim

from helpers import by_name, lab_world
from labkit import evacuation, hostlog, labapi
from labkit.errors import InvalidInput, TaskFailed
from labkit.precopy import model, workloads
from labkit.tasks import wait_for_task
from labkit.vmkping import vmkping


def _check(s, vm, host):
    """CheckMigrate_Task's errors for a running VM (an empty list when the pre-check passes)."""
    checker = s.content.vmProvisioningChecker
    results = wait_for_task(s, checker.CheckMigrate_Task(vm=vm, host=host), progress=False)
    return [type(e.fault).__name__ for r in results for e in (r.error or [])]


def _failed_partway(s, vm, dest):
    """Migrate vm to dest; the fault, the highest progress seen, and the task."""
    seen = []
    with pytest.raises(TaskFailed) as err:
        s.change(vm, "MigrateVM_Task", host=dest, priority="defaultPriority", progress=False,
                 on_update=lambda info: seen.append(info.progress or 0))
    return err.value, max(seen or [0])


def _events(s, vm):
    f = vim.event.EventFilterSpec(entity=vim.event.EventFilterSpec.ByEntity(entity=vm, recursion="self"))
    return {type(e).__name__.rsplit(".", 1)[-1] for e in s.content.eventManager.QueryEvents(f)}


def _failure_line(s, host, vm):
    t = hostlog.read(s, host)
    failed = t[(t["vm"] == vm) & (t["event"] == "failed")]
    assert len(failed) == 1, t
    return failed.iloc[0]


def test_jumbo_frames_the_path_drops_fail_the_migration_after_the_precheck_passed():
    with lab_world("inflight-jumbo", "-time-scale", "200") as s:
        vm, hosts = by_name(s, vim.VirtualMachine)["app-01"], by_name(s, vim.HostSystem)
        assert _check(s, vm, hosts["esx-02"]) == []
        err, progress = _failed_partway(s, vm, hosts["esx-02"])
        assert err.fault_type == "SystemError" and "received no data on the vMotion network" in str(err)
        assert 0 < progress < 100
        assert vm.runtime.host == hosts["esx-01"] and vm.runtime.powerState == "poweredOn"
        assert {"VmBeingHotMigratedEvent", "VmFailedMigrateEvent"} <= _events(s, vm)
        for host, role in (("esx-01", "S"), ("esx-02", "D")):
            line = _failure_line(s, host, "app-01")
            assert line["role"] == role and line["stage"] == "precopy" and "no data crossed" in line["reason"]
        # vmkping proves it: small frames cross, full jumbo frames do not (fragmented or not: the adapter sends
        # 9,000-byte frames either way)
        dest_ip = hosts["esx-02"].config.network.vnic[1].spec.ip.ipAddress
        assert vmkping(s, "esx-01", dest_ip, size=1472, df=True).ok
        assert not vmkping(s, "esx-01", dest_ip, size=8972).ok
        big = vmkping(s, "esx-01", dest_ip, size=8972, df=True)
        assert not big.ok and big.received == 0 and "100% packet loss" in str(big)
        # the fix: 1500-byte MTUs on both adapters, then the migration succeeds
        for h in hosts.values():
            spec = h.config.network.vnic[1].spec
            spec.mtu = 1500
            h.configManager.networkSystem.UpdateVirtualNic("vmk1", spec)
        assert not vmkping(s, "esx-01", dest_ip, size=8972, df=True).ok  # larger than the adapter's MTU now
        assert vmkping(s, "esx-01", dest_ip, size=8972).ok  # without -d: fragments of 1,500 bytes cross
        s.change(vm, "MigrateVM_Task", host=hosts["esx-02"], priority="defaultPriority", progress=False)
        assert vm.runtime.host == hosts["esx-02"]


def test_adapters_in_two_subnets_without_a_gateway_cannot_connect():
    with lab_world("inflight-routed", "-time-scale", "200") as s:
        vm, hosts = by_name(s, vim.VirtualMachine)["app-01"], by_name(s, vim.HostSystem)
        assert _check(s, vm, hosts["esx-02"]) == []
        err, progress = _failed_partway(s, vm, hosts["esx-02"])
        assert err.fault_type == "SystemError" and "could not be made" in str(err)
        assert 0 < progress < 100
        assert vm.runtime.host == hosts["esx-01"] and vm.runtime.powerState == "poweredOn"
        line = _failure_line(s, "esx-01", "app-01")
        assert line["stage"] == "connect" and "no route" in line["reason"]
        ping = vmkping(s, "esx-01", "10.10.2.12")
        assert not ping.ok and "Network is unreachable" in str(ping)
        # the fix: a default gateway on each host's vMotion TCP/IP stack (routed vMotion)
        for name, gw in (("esx-01", "10.10.1.1"), ("esx-02", "10.10.2.1")):
            stack = vim.host.NetStackInstance(key="vmotion", ipRouteConfig=vim.host.IpRouteConfig(defaultGateway=gw))
            cfg = vim.host.NetworkConfig(netStackSpec=[vim.host.NetworkConfig.NetStackSpec(operation="edit",
                                                                                            netStackInstance=stack)])
            hosts[name].configManager.networkSystem.UpdateNetworkConfig(cfg, "modify")
        assert vmkping(s, "esx-01", "10.10.2.12").ok
        s.change(vm, "MigrateVM_Task", host=hosts["esx-02"], priority="defaultPriority", progress=False)
        assert vm.runtime.host == hosts["esx-02"]


def test_sdps_slows_a_busy_database_until_it_converges():
    with lab_world("inflight-busy-db", "-time-scale", "5000") as s:
        vm, hosts = by_name(s, vim.VirtualMachine)["db-01"], by_name(s, vim.HostSystem)
        s.change(vm, "MigrateVM_Task", host=hosts["esx-02"], priority="defaultPriority", progress=False)
        t = hostlog.read(s, "esx-01")
        done = t[t["event"] == "completed"].iloc[-1]
        expected = model.simulate(link_gbps=1.0, **workloads.workload("oltp-database", 32768)).summary
        assert done["outcome"] == "converged" and done["max_throttle_pct"] == expected["max_throttle_pct"] > 0
        assert done["total_s"] == pytest.approx(expected["total_s"], rel=1e-5)
        assert (t["event"] == "sdps").sum() >= 2  # each step of the slowdown is logged
        assert len(hostlog.rounds(s, "esx-01", done["mid"])) == expected["rounds"]


def test_a_switchover_over_the_limit_fails_and_the_vm_stays(tmp_path):
    extreme = tmp_path / "switchover-limit.yaml"
    extreme.write_text(textwrap.dedent("""\
        title: A guest that rewrites memory faster than SDPS can slow it
        teaches: The switchover would exceed vmotion.maxSwitchoverSeconds, so the migration fails.
        defaults:
          host: {cpu: intel-icelake, version: 8.0.2, vmotion: [vmk1], uplinkMbps: 1000}
          vm: {datastore: ds, memoryMB: 32768, version: vmx-20}
        clusters:
          C: {hosts: [esx-01, esx-02]}
        datastores:
          ds: {type: NFS, hosts: all}
        vms:
          stream-01: {host: esx-01, workload: {dirtyRateMiBps: 16000, hotSetMiB: 24576, hotShare: 0.95}}
        """))
    expected = model.simulate(32768, 16000, hot_set_mib=24576, hot_share=0.95, link_gbps=1.0).summary
    assert expected["outcome"] == "failed"
    with lab_world(str(extreme), "-time-scale", "20000") as s:
        vm, hosts = by_name(s, vim.VirtualMachine)["stream-01"], by_name(s, vim.HostSystem)
        assert _check(s, vm, hosts["esx-02"]) == []
        err, progress = _failed_partway(s, vm, hosts["esx-02"])
        assert err.fault_type == "SystemError" and "maximum switchover time of 100 second(s)" in str(err)
        assert 0 < progress < 100
        assert vm.runtime.host == hosts["esx-01"] and vm.runtime.powerState == "poweredOn"
        line = _failure_line(s, "esx-01", "stream-01")
        assert line["stage"] == "switchover" and line["sim_s"] == pytest.approx(expected["precopy_s"] + 100, rel=1e-5)
        t = hostlog.read(s, "esx-01")
        assert t[t["event"] == "sdps"]["throttle_pct"].max() == 99


def test_a_destination_lost_mid_migration_fails_it_and_the_vm_stays():
    with lab_world("inflight-host-lost", "-time-scale", "60") as s:  # about 1 s of real time
        vm, hosts = by_name(s, vim.VirtualMachine)["erp-01"], by_name(s, vim.HostSystem)
        task = vm.MigrateVM_Task(host=hosts["esx-02"], priority="defaultPriority")
        deadline = time.time() + 20
        while (task.info.progress or 0) <= 20 and time.time() < deadline:
            time.sleep(0.05)
        assert task.info.state == "running"
        s.change(hosts["esx-02"], "DisconnectHost_Task", progress=False)
        with pytest.raises(TaskFailed) as err:
            wait_for_task(s, task, progress=False)
        assert err.value.fault_type == "HostNotConnected" and "esx-02" in str(err.value)
        assert vm.runtime.host == hosts["esx-01"] and vm.runtime.powerState == "poweredOn"
        assert "esx-02 is disconnected" in _failure_line(s, "esx-01", "erp-01")["reason"]
        s.change(hosts["esx-02"], "ReconnectHost_Task", progress=False)
        s.change(vm, "MigrateVM_Task", host=hosts["esx-02"], priority="defaultPriority", progress=False)
        assert vm.runtime.host == hosts["esx-02"]


@pytest.mark.parametrize("scale", [100, 300])
def test_lab_time_equals_the_model_at_two_time_scales(scale):
    expected = model.simulate(link_gbps=10.0, **workloads.workload("web", 65536)).summary
    with lab_world("inflight-host-lost", "-time-scale", str(scale)) as s:
        assert labapi.time_scale(s) == scale
        vm, hosts = by_name(s, vim.VirtualMachine)["erp-01"], by_name(s, vim.HostSystem)
        task = vm.MigrateVM_Task(host=hosts["esx-02"], priority="defaultPriority")
        wait_for_task(s, task, progress=False)
        lab_s = (task.info.completeTime - task.info.startTime).total_seconds() * scale
        assert lab_s == pytest.approx(expected["total_s"], rel=0.03)
        done = hostlog.migrations(s, "esx-01").iloc[-1]
        assert done["result"] == "completed" and done["total_s"] == pytest.approx(expected["total_s"], rel=1e-5)
        assert done["rounds"] == expected["rounds"]


def test_migrations_beyond_the_hosts_limit_queue_and_start_when_a_slot_frees():
    with lab_world("inflight-evacuation", "-time-scale", "120") as s:  # the shortest, sharing the link: 0.24 s
        vms, hosts = by_name(s, vim.VirtualMachine), by_name(s, vim.HostSystem)
        names = ["web-01", "web-02", "web-03", "web-04", "web-05", "web-06", "app-01", "app-02", "idle-01", "idle-02"]
        tasks = [vms[n].MigrateVM_Task(host=hosts["esx-02"], priority="defaultPriority") for n in names]
        states = [t.info.state for t in tasks]
        assert states.count("running") == 8 and states[8:] == ["queued", "queued"]  # 8 per host on 10 GbE
        for t in tasks:
            wait_for_task(s, t, progress=False)
        assert all(vms[n].runtime.host == hosts["esx-02"] for n in names)
        shares = hostlog.read(s, "esx-01").query("event == 'start'")["share"]
        assert shares.max() == 8


# each scenario's time scale makes its evacuation last about 0.9 s of real time: the lab's own overhead per
# migration (a few ms of real time, scaled like everything else) stays near 1 % of it
SCALES = {"inflight-evacuation": 900, "evacuation-1g": 3000, "evacuation-25g": 75}
EVACUATIONS = {
    "inflight-evacuation": None,
    "evacuation-1g": """\
        title: Six VMs on 1 GbE
        teaches: A 1 GbE vMotion network runs four vMotions at once.
        timeScale: 200
        defaults:
          host: {cpu: intel-icelake, memoryGB: 512, version: 8.0.2, vmotion: [vmk1], uplinkMbps: 1000}
          vm: {datastore: ds, memoryMB: 4096, version: vmx-20, workload: web}
        clusters:
          C: {drs: true, hosts: [esx-01, esx-02, esx-03]}
        datastores:
          ds: {type: NFS, hosts: all}
        vms:
          a: {host: esx-01}
          b: {host: esx-01}
          c: {host: esx-01, memoryMB: 8192}
          d: {host: esx-01, memoryMB: 2048, workload: idle}
          e: {host: esx-01, workload: oltp-database}
          f: {host: esx-01}
        """,
    "evacuation-25g": """\
        title: Ten VMs on two 25 GbE vMotion adapters
        teaches: Two adapters per host, jumbo frames, and a heavy database.
        timeScale: 100
        defaults:
          host: {cpu: intel-icelake, memoryGB: 1024, version: 8.0.2, vmotion: [vmk1, vmk2], mtu: 9000, uplinkMbps: 25000}
          vm: {datastore: ds, memoryMB: 32768, version: vmx-20, workload: oltp-database}
        clusters:
          C: {drs: true, hosts: [esx-01, esx-02]}
        datastores:
          ds: {type: NFS, hosts: all}
        vms: {%s}
        """ % ", ".join(f"vm-{i}: {{host: esx-01}}" for i in range(10)),
}


@pytest.mark.parametrize("name", list(EVACUATIONS))
def test_the_evacuation_planner_predicts_the_labs_evacuation_within_5_percent(name, tmp_path):
    scenario = name
    if EVACUATIONS[name]:
        scenario = str(tmp_path / f"{name}.yaml")
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(EVACUATIONS[name]))
    scale = SCALES[name]
    with lab_world(scenario, "-time-scale", str(scale)) as s:
        host = by_name(s, vim.HostSystem)["esx-01"]
        vmotions, links = evacuation.from_lab(s, host)
        predicted = evacuation.plan(vmotions, links)
        task = host.EnterMaintenanceMode_Task(timeout=0)
        wait_for_task(s, task, progress=False)
        lab_s = (task.info.completeTime - task.info.startTime).total_seconds() * scale
        print(f"{name}: lab {lab_s:.1f} s, planned {predicted['total_s']:.1f} s")
        assert lab_s == pytest.approx(predicted["total_s"], rel=0.05), predicted["schedule"]
        assert not [vm for vm in host.vm if vm.runtime.powerState == "poweredOn"]


def test_the_vmkernel_log_is_read_as_esxi_logs_are():
    with lab_world("inflight-host-lost") as s:
        dm, host = s.content.diagnosticManager, by_name(s, vim.HostSystem)["esx-01"]
        assert [d.key for d in dm.QueryDescriptions(host=host)] == ["vmkernel"]
        with pytest.raises(vmodl_fault("InvalidArgument")):
            dm.BrowseDiagnosticLog(host=host, key="hostd")
        with pytest.raises(vmodl_fault("NotSupported")):
            dm.BrowseDiagnosticLog(key="vmkernel")  # vCenter's own logs
        empty = dm.BrowseDiagnosticLog(host=host, key="vmkernel", start=2**31 - 1)
        assert not empty.lineText
        with pytest.raises(vmodl_fault("InvalidArgument")):
            dm.BrowseDiagnosticLog(host=host, key="vmkernel", lines=-1)
        vm = by_name(s, vim.VirtualMachine)["erp-01"]
        s.change(vm, "MigrateVM_Task", host=by_name(s, vim.HostSystem)["esx-02"], priority="defaultPriority",
                 progress=False)
        header = dm.BrowseDiagnosticLog(host=host, key="vmkernel")
        assert header.lineStart == 1 and header.lineEnd == len(header.lineText) >= 4
        assert hostlog.lines(s, host) == list(header.lineText)
        two = dm.BrowseDiagnosticLog(host=host, key="vmkernel", start=2, lines=2)
        assert (two.lineStart, two.lineEnd, list(two.lineText)) == (2, 3, list(header.lineText[1:3]))
        # govc asks for the last 25 lines of a shorter log with a start below 1: from the top
        assert list(dm.BrowseDiagnosticLog(host=host, key="vmkernel", start=-20, lines=25).lineText) == list(header.lineText)
        with pytest.raises(InvalidInput, match="has no readable log 'hostd'.*Fix: read one of: vmkernel"):
            hostlog.lines(s, host, key="hostd")
        s.change(host, "DisconnectHost_Task", progress=False)
        with pytest.raises(vmodl_fault("HostNotConnected")):
            dm.BrowseDiagnosticLog(host=host, key="vmkernel")


def vmodl_fault(name):
    from pyVmomi import vmodl

    return getattr(vim.fault, name, None) or getattr(vmodl.fault, name)


def test_a_vm_being_migrated_takes_no_other_operation_and_a_waiting_task_has_not_started():
    with lab_world("inflight-evacuation", "-time-scale", "100") as s:  # db-01's vMotion: about 5 s
        vms, hosts = by_name(s, vim.VirtualMachine), by_name(s, vim.HostSystem)
        db = vms["db-01"]
        first = db.MigrateVM_Task(host=hosts["esx-02"], priority="defaultPriority")
        for call in (lambda: db.MigrateVM_Task(host=hosts["esx-03"], priority="defaultPriority"),
                     lambda: db.PowerOffVM_Task(), lambda: db.SuspendVM_Task()):
            with pytest.raises(TaskFailed) as err:
                wait_for_task(s, call(), progress=False)
            assert err.value.fault_type == "TaskInProgress"
        assert db.runtime.powerState == "poweredOn"
        names = ["web-01", "web-02", "web-03", "web-04", "web-05", "web-06", "app-01", "app-02"]
        tasks = [vms[n].MigrateVM_Task(host=hosts["esx-03"], priority="defaultPriority") for n in names]
        waiting = tasks[-1].info
        assert waiting.state == "queued" and waiting.startTime is None  # db-01 holds one of esx-01's eight slots
        for t in tasks + [first]:
            wait_for_task(s, t, progress=False)
        assert tasks[-1].info.startTime > waiting.queueTime and db.runtime.host == hosts["esx-02"]
