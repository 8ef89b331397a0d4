"""Ansible's community.vmware modules against the lab world: VMs, hosts, vMotion and the refusals
(tests/ansible_cases.py). vmware_vmotion is also checked against the lab's own checks: on the network-mismatch
scenario it moves exactly the VMs labkit.compat says may move, and is refused, naming what the checks name,
otherwise.
"""
import re

import pytest
from ansible_cases import GROUPS
from ansible_suite import run_group, run_playbook
from helpers import by_name, lab_world
from pyVmomi import vim

from labkit import compat

REST = [g for g in GROUPS if g.name not in ("reads", "inventory and cluster changes")]


@pytest.mark.parametrize("group", REST, ids=[g.name for g in REST])
def test_community_vmware_modules(group, tmp_path):
    problems = run_group(group, tmp_path)
    assert not problems, "\n".join(problems)


def test_vmware_vmotion_moves_and_is_refused_as_the_checks_say(tmp_path):
    """Each VM of network-mismatch is sent to one other host with vmware_vmotion: the module succeeds exactly
    when labkit.compat's checks find no error, and otherwise fails with the checks' reason."""
    with lab_world("network-mismatch") as s:
        verdicts = compat.matrix(s)
        home = {v.name: v.runtime.host.name for v in by_name(s, vim.VirtualMachine).values()}
        verdicts = verdicts[verdicts["host"] != verdicts["vm"].map(home)]
        plan = []
        for vm, rows in verdicts.groupby("vm", sort=True):
            refused_rows = rows[rows["errors"].map(bool)]
            allowed_rows = rows[~rows["errors"].map(bool)]
            row = (refused_rows if len(plan) % 2 == 0 and len(refused_rows) else allowed_rows if len(allowed_rows)
                   else refused_rows).iloc[0]
            plan.append(row)
        assert {bool(r["errors"]) for r in plan} == {True, False}, "the scenario must both allow and refuse"
        tasks = [{"name": f"{r['vm']}|{r['host']}", "community.vmware.vmware_vmotion":
                  {"vm_name": r["vm"], "destination_host": r["host"]}, "ignore_errors": True} for r in plan]
        results = run_playbook(s, tasks, tmp_path)
        hosts = {v.name: v.runtime.host.name for v in by_name(s, vim.VirtualMachine).values()}
    problems = []
    for r in plan:
        got = results[f"{r['vm']}|{r['host']}"]
        if r["errors"]:
            said = str(got.get("msg", ""))
            named = set(re.findall(r"'([^']+)'", r["reasons"]))  # the adapters, networks, datastores the checks name
            if not got.get("failed") or not named or not all(n in said for n in named):
                problems.append(f"{r['vm']} -> {r['host']}: the checks refuse ({r['errors']}), the module said {got}")
        elif got.get("failed") or hosts[r["vm"]] != r["host"]:
            problems.append(f"{r['vm']} -> {r['host']}: the checks allow it, the module said {got.get('msg')}")
    assert not problems, "\n".join(problems)
