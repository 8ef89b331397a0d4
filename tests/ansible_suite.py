"""Running Ansible's community.vmware modules against a lab world: the playbook, its results, and what each
change case must show afterwards. The cases are in tests/ansible_cases.py; the tests in tests/test_ansible_*.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from ansible_cases import Case
from helpers import by_name, lab_world
from pyVmomi import vim

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def collection_modules() -> set[str]:
    """The module names of the installed community.vmware collection."""
    import ansible_collections.community.vmware as pkg

    folder = Path(next(iter(pkg.__path__))) / "plugins" / "modules"
    return {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}


def _env(tmp: Path) -> dict:
    return dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                ANSIBLE_HOME=str(tmp / "home"), ANSIBLE_LOCAL_TEMP=str(tmp / "tmp"),
                ANSIBLE_REMOTE_TEMP=str(tmp / "tmp"), ANSIBLE_DEPRECATION_WARNINGS="False",
                ANSIBLE_SYSTEM_WARNINGS="False", ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False",
                ANSIBLE_NOCOLOR="1", ANSIBLE_CALLBACK_RESULT_FORMAT="json")


def _fill(value, facts: dict):
    if isinstance(value, str):
        return value.format(**facts) if "{" in value and "{{" not in value else value
    if isinstance(value, list):
        return [_fill(v, facts) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, facts) for k, v in value.items()}
    return value


def tasks_for(cases: list[Case], facts: dict) -> list[dict]:
    tasks = []
    for c in cases:
        runs = 2 if c.kind == "change" else 1
        for n in range(1, runs + 1):
            tasks.append({"name": f"{c.id}|{n}", f"community.vmware.{c.module}": _fill(c.args, facts),
                          "ignore_errors": True})
    return tasks


def run_playbook(session, tasks: list[dict], tmp: Path) -> dict[str, dict]:
    """Run ``tasks`` in one play against the session's lab world; returns each task's result by task name."""
    return run_lanes(session, [tasks], tmp)


def run_lanes(session, lanes: list[list[dict]], tmp: Path) -> dict[str, dict]:
    """Run each list of tasks in a playbook of its own, all at once, against the session's lab world; returns
    every task's result by task name."""
    procs = [_start(session, tasks, tmp / f"lane{i}") for i, tasks in enumerate(lanes) if tasks]
    results = {}
    for proc in procs:
        results.update(_finish(proc))
    return results


def _start(session, tasks: list[dict], tmp: Path) -> subprocess.Popen:
    tmp.mkdir(parents=True, exist_ok=True)
    st = session.world.state
    host, port = st.host_port
    play = [{"hosts": "localhost", "gather_facts": False, "module_defaults": {"group/community.vmware.vmware": {
        "hostname": host, "port": port, "username": st.username, "password": st.password, "validate_certs": False}},
        "tasks": tasks}]
    book = tmp / "play.yml"
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    return subprocess.Popen([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(book)], env=_env(tmp),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> dict[str, dict]:
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("ansible-playbook did not finish within 10 minutes") from None
    try:
        out = json.loads(stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"ansible-playbook gave no JSON (exit {proc.returncode}):\n{stdout[-2000:]}\n"
                             f"{stderr[-2000:]}") from None
    return {t["task"]["name"]: t["hosts"]["localhost"] for play in out["plays"] for t in play["tasks"]}


def judge(cases: list[Case], results: dict[str, dict]) -> list[str]:
    """What went wrong, one line per case; empty when every case did what it must."""
    problems = []
    for c in cases:
        first = results.get(f"{c.id}|1")
        if first is None:
            problems.append(f"{c.id}: did not run")
            continue
        msg = str(first.get("msg", ""))[:300]
        if c.kind == "refused":
            if not first.get("failed") or c.refusal not in msg:
                problems.append(f"{c.id}: expected a refusal saying {c.refusal!r}, got failed={first.get('failed')}: {msg}")
            continue
        if first.get("failed"):
            problems.append(f"{c.id}: failed: {msg}")
            continue
        if c.kind == "change":
            second = results[f"{c.id}|2"]
            if second.get("failed"):
                problems.append(f"{c.id}: second run failed: {str(second.get('msg', ''))[:300]}")
            elif second.get("changed"):
                problems.append(f"{c.id}: not idempotent: the second run changed something again")
    return problems


def facts(session) -> dict:
    vms = by_name(session, vim.VirtualMachine)
    return {"vm_uuid": vms["web-01"].config.uuid} if "web-01" in vms else {}


# What each change case said it changed, read back with pyVmomi: (group, case id) -> check(session).
def _cluster(s, name="Cluster-A"):
    return by_name(s, vim.ClusterComputeResource)[name]


def _vm(s, name):
    return by_name(s, vim.VirtualMachine)[name]


def _host(s, name):
    return by_name(s, vim.HostSystem)[name]


def _all(s, kind):
    return by_name(s, kind).values()


def _dvs(s, name="DSwitch"):
    return by_name(s, vim.DistributedVirtualSwitch)[name]


READ_BACK = {
    "vcenter_folder": lambda s: "lab-folder" in [f.name for f in s.content.rootFolder.childEntity[0].vmFolder.childEntity],
    "vmware_datacenter": lambda s: "Lab-DC2" in [d.name for d in s.content.rootFolder.childEntity],
    "vmware_cluster": lambda s: "Cluster-B" in by_name(s, vim.ClusterComputeResource),
    "vmware_cluster_ha": lambda s: _cluster(s).configurationEx.dasConfig.enabled is True,
    "vmware_cluster_dpm": lambda s: _cluster(s).configurationEx.dpmConfigInfo.enabled is True,
    "vmware_evc_mode": lambda s: _cluster(s).summary.currentEVCModeKey == "intel-cascadelake",
    "vmware_drs_group_manager": lambda s: {v.name for g in _cluster(s).configurationEx.group if g.name == "web-vms"
                                           for v in g.vm} == {"web-01", "web-02"},
    "vmware_vm_vm_drs_rule": lambda s: "web-apart" in [r.name for r in _cluster(s).configurationEx.rule],
    "vmware_vm_host_drs_rule": lambda s: "web-on-rack-a" in [r.name for r in _cluster(s).configurationEx.rule],
    "vmware_drs_override": lambda s: [o.behavior for o in _cluster(s).configurationEx.drsVmConfig
                                      if o.key.name == "db-01"] == ["manual"],
    "vmware_cluster_drs": lambda s: (_cluster(s).configurationEx.drsConfig.defaultVmBehavior,
                                     _cluster(s).configurationEx.drsConfig.vmotionRate) == ("partiallyAutomated", 4),  # the module maps its 2 to 4
    "vmware_resource_pool": lambda s: "rp-gold" in [p.name for p in _cluster(s).resourcePool.resourcePool],
    "vmware_custom_attribute_manager": lambda s: any(v.value == "alice" for v in _vm(s, "web-01").customValue),
    "vmware_guest_custom_attributes": lambda s: any(v.value == "cc-42" for v in _vm(s, "web-02").customValue),
    "vmware_host_custom_attributes": lambda s: any(v.value == "r1" for v in _host(s, "esx-01").customValue),
    "vmware_guest#reconfigure": lambda s: (_vm(s, "test-01").config.hardware.memoryMB,
                                           _vm(s, "test-01").config.hardware.numCPU) == (8192, 4),
    "vmware_guest_boot_manager": lambda s: _vm(s, "test-01").config.bootOptions.bootDelay == 2000,
    "vmware_guest_network": lambda s: "App-DV" in [n.name for n in _vm(s, "test-01").network],
    "vmware_guest_video": lambda s: any(isinstance(d, vim.vm.device.VirtualVideoCard) and d.numDisplays == 2
                                        for d in _vm(s, "test-01").config.hardware.device),
    "vmware_guest_powerstate": lambda s: _vm(s, "test-01").runtime.powerState == "poweredOn",
    "vmware_guest_powerstate#off": lambda s: _vm(s, "web-02").runtime.powerState == "poweredOff",
    "vmware_guest_snapshot#absent": lambda s: _vm(s, "web-01").snapshot is None,
    "vmware_vm_vss_dvs_migrate": lambda s: [n.name for n in _vm(s, "web-01").network] == ["App-DV"],
    "vmware_guest_register_operation": lambda s: "new-01" not in by_name(s, vim.VirtualMachine),
    "vmware_guest#absent": lambda s: "app-02" not in by_name(s, vim.VirtualMachine),
    "vmware_dvswitch": lambda s: [(d.config.maxMtu, len(d.config.uplinkPortPolicy.uplinkPortName))
                                  for d in _all(s, vim.DistributedVirtualSwitch) if d.name == "DSwitch-vMotion"] == [(9000, 2)],
    "vmware_dvs_portgroup": lambda s: [(p.config.defaultPortConfig.vlan.vlanId, p.config.numPorts)
                                       for p in _all(s, vim.dvs.DistributedVirtualPortgroup) if p.name == "Web-DV"] == [(20, 16)],
    "vmware_dvswitch_uplink_pg": lambda s: [(p.name, p.config.description) for p in _dvs(s).config.uplinkPortgroup]
    == [("DSwitch-Uplinks", "uplinks")],
    "vmware_dvs_host": lambda s: [[n.pnicDevice for n in m.config.backing.pnicSpec] for m in _dvs(s).config.host
                                  if m.config.host.name == "esx-01"] == [["vmnic1"]],
    "vmware_vswitch#mtu": lambda s: [v.mtu for v in _host(s, "esx-01").config.network.vswitch
                                     if v.name == "vSwitch0"] == [9000],
    "vmware_vswitch": lambda s: [(list(v.spec.bridge.nicDevice), v.spec.policy.nicTeaming.policy)
                                 for v in _host(s, "esx-02").config.network.vswitch if v.name == "vSwitch1"]
    == [(["vmnic1"], "loadbalance_srcid")],
    "vmware_host_dns": lambda s: (list(_host(s, "esx-01").config.network.dnsConfig.address),
                                  _host(s, "esx-01").config.network.dnsConfig.domainName)
    == (["10.0.0.53", "10.0.0.54"], "lab.local"),
    "vmware_migrate_vmk": lambda s: [(v.portgroup or None, v.spec.distributedVirtualPort.portgroupKey)
                                     for v in _host(s, "esx-02").config.network.vnic if v.device == "vmk1"]
    == [(None, [p.key for p in _dvs(s).portgroup if p.name == "App-DV"][0])],
    "vmware_host_service_manager": lambda s: [(v.running, v.policy) for v in
                                              _host(s, "esx-01").configManager.serviceSystem.serviceInfo.service
                                              if v.key == "TSM-SSH"] == [(True, "on")],
    "vmware_host_ntp": lambda s: list(_host(s, "esx-01").config.dateTimeInfo.ntpConfig.server)
    == ["0.pool.ntp.org", "1.pool.ntp.org"],
    "vmware_vmkernel#mtu": lambda s: [v.spec.mtu for v in _host(s, "esx-01").config.network.vnic
                                      if v.device == "vmk1"] == [9000],
    "vmware_host_datastore": lambda s: [(m.volume.remoteHost, m.mountInfo.accessMode) for m in
                                        _host(s, "esx-01").configManager.storageSystem.fileSystemVolumeInfo.mountInfo
                                        if m.volume.name == "nfs-iso"] == [("10.0.0.5", "readOnly")],
    "vmware_vmotion": lambda s: _vm(s, "web-01").runtime.host.name == "esx-02",
    "vmware_vmotion#cluster": lambda s: _vm(s, "db-01").runtime.host.parent.name == "Cluster-A",
    "vmware_maintenancemode": lambda s: _host(s, "esx-03").runtime.inMaintenanceMode
    and not [v for v in _host(s, "esx-03").vm if v.runtime.powerState == "poweredOn"],
    "vmware_vmotion#storage": lambda s: [d.name for d in _vm(s, "app-ab").datastore] == ["shared-all"],
    "vmware_vmotion#shared-nothing": lambda s: (_vm(s, "app-all").runtime.host.name,
                                                [d.name for d in _vm(s, "app-all").datastore]) == ("esx-03", ["local-03"]),
    "vmware_maintenancemode#exit": lambda s: not _host(s, "esx-02").runtime.inMaintenanceMode,
    "vmware_vmkernel": lambda s: len(_host(s, "esx-03").configManager.virtualNicManager.QueryNetConfig("vmotion")
                                     .selectedVnic) == 1,
    "vmware_vmotion#after-vmk": lambda s: _vm(s, "web-01").runtime.host.name == "esx-03",
}



def run_group(group, tmp: Path) -> list[str]:
    """Run one group on a fresh world of its scenario; what went wrong, one line per case (empty: all well)."""
    with lab_world(group.scenario) as s:
        known = facts(s)
        lanes = [tasks_for([c for c in group.cases if c.lane == n], known) for n in range(group.lanes)]
        results = run_lanes(s, lanes, tmp)
        problems = judge(group.cases, results)
        for c in group.cases:
            check = READ_BACK.get(c.id)
            if check and f"{c.id}: " not in "\n".join(problems) and not check(s):
                problems.append(f"{c.id}: reported success, but the lab does not show the change")
    return problems
