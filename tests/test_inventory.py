"""Inventory tables: right columns, right values (checked against plain pyVmomi), one paged pass."""
import math
from collections import Counter

import pytest
from helpers import all_of
from pyVmomi import vim, vmodl

import labkit
from labkit import inventory, sim
from labkit.sim import worlds


@pytest.fixture(scope="module")
def big(binary, tmp_path_factory):
    """A second lab world with enough objects to need several pages."""
    import os
    old = os.environ["LABKIT_STATE_DIR"]
    os.environ["LABKIT_STATE_DIR"] = str(tmp_path_factory.mktemp("big-state"))
    try:
        with labkit.connect(sim_flags=["-cluster", "2", "-host", "3", "-vm", "60", "-pg", "3", "-ds", "2"]) as s:
            yield s
    finally:
        worlds.open(worlds.GENERATED)  # the next test's connect() gets the usual generated inventory
        os.environ["LABKIT_STATE_DIR"] = old




def _count_calls(session):
    stub = session.si._stub
    calls = Counter()
    original = stub.InvokeMethod

    def counting(mo, info, args, outerStub=None):
        calls[info.wsdlName] += 1
        return original(mo, info, args, outerStub) if outerStub else original(mo, info, args)

    stub.InvokeMethod = counting
    return calls


def test_vm_table_matches_attribute_access(big):
    table = inventory.vms(big).set_index("name")
    vms = all_of(big, vim.VirtualMachine)
    assert len(table) == len(vms) == 2 * 60 + 60
    for vm in vms[::17]:  # the slow way, on a sample
        row = table.loc[vm.name]
        host = vm.runtime.host
        assert row["host"] == host.name
        cluster = host.parent.name if isinstance(host.parent, vim.ClusterComputeResource) else None
        assert row["cluster"] == cluster
        assert row["powerState"] == vm.runtime.powerState
        assert row["memoryMB"] == vm.config.hardware.memoryMB
        assert row["numCPU"] == vm.config.hardware.numCPU
        assert row["datastore"] == sorted(d.name for d in vm.datastore)
        assert row["network"] == sorted(n.name for n in vm.network)
        assert row["version"] == vm.config.version
        assert row["guestFullName"] == vm.config.guestFullName
        assert row["moid"] == vm._moId


def test_host_table_matches_attribute_access(big):
    table = inventory.hosts(big).set_index("name")
    hosts = all_of(big, vim.HostSystem)
    assert len(table) == len(hosts)
    for h in hosts:
        row = table.loc[h.name]
        assert row["cluster"] == (h.parent.name if isinstance(h.parent, vim.ClusterComputeResource) else None)
        assert row["connectionState"] == h.runtime.connectionState
        assert row["inMaintenanceMode"] == h.runtime.inMaintenanceMode
        assert row["cpuVendor"] == h.hardware.cpuPkg[0].vendor
        assert row["cpuModel"] == h.summary.hardware.cpuModel
        assert row["maxEVCModeKey"] == h.summary.maxEVCModeKey
        assert row["currentEVCModeKey"] == h.summary.currentEVCModeKey
        selected = [nc for nc in h.config.virtualNicManagerInfo.netConfig if nc.nicType == "vmotion"]
        assert row["vmotionEnabled"] == (bool(selected and selected[0].selectedVnic) or h.summary.config.vmotionEnabled)


def test_datastore_and_network_tables(big):
    ds = inventory.datastores(big).set_index("name")
    for d in all_of(big, vim.Datastore):
        assert ds.loc[d.name, "hosts"] == sorted(m.key.name for m in d.host)
        assert ds.loc[d.name, "type"] == d.summary.type
        assert ds.loc[d.name, "capacityGB"] == 2048.0  # the lab's fixed datastore size
    nets = inventory.networks(big).set_index("name")
    for n in all_of(big, vim.Network):
        assert nets.loc[n.name, "hosts"] == sorted(h.name for h in n.host)
        expected = "DistributedVirtualPortgroup" if isinstance(n, vim.dvs.DistributedVirtualPortgroup) else "Network"
        assert nets.loc[n.name, "type"] == expected
        if expected != "Network":
            assert nets.loc[n.name, "switch"] == n.config.distributedVirtualSwitch.name
    assert (nets["type"] == "DistributedVirtualPortgroup").sum() >= 3


def test_cluster_table(big):
    cl = inventory.clusters(big).set_index("name")
    for c in all_of(big, vim.ClusterComputeResource):
        assert cl.loc[c.name, "hosts"] == sorted(h.name for h in c.host)
        assert cl.loc[c.name, "drsEnabled"] == bool(c.configuration.drsConfig.enabled)


@pytest.mark.parametrize("page_size", [None, 7, 1000])
def test_one_paged_pass_whatever_the_size(big, page_size):
    calls = _count_calls(big)
    table = inventory.vms(big, page_size=page_size)
    objects = len(table) + len(inventory.hosts(big)) + 3 + 2 + 3 + 3  # VMs, hosts, compute resources, ds, nets
    calls.clear()
    again = inventory.vms(big, page_size=page_size)
    assert again.equals(table)
    assert calls["RetrievePropertiesEx"] == 1
    size = page_size or 100  # the simulator pages like vCenter: 100 objects unless the client asks
    assert calls["ContinueRetrievePropertiesEx"] == math.ceil(objects / size) - 1
    assert set(calls) <= {"CreateContainerView", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx",
                          "DestroyView"}


def test_simulator_pages_retrieve_properties_ex(big):
    PC = vmodl.query.PropertyCollector
    view = big.content.viewManager.CreateContainerView(big.content.rootFolder, [vim.VirtualMachine], True)
    spec = PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
        PC.TraversalSpec(type=vim.view.ContainerView, path="view", skip=False)])],
        propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=["name"])])
    pc = big.content.propertyCollector
    first = pc.RetrievePropertiesEx([spec], PC.RetrieveOptions(maxObjects=50))
    assert len(first.objects) == 50 and first.token
    pc.CancelRetrievePropertiesEx(first.token)
    with pytest.raises(vmodl.fault.InvalidArgument):
        pc.ContinueRetrievePropertiesEx(first.token)
    view.DestroyView()


def test_tables_are_sorted_and_stable(session):
    a, b = inventory.vms(session), inventory.vms(session)
    assert a.equals(b) and list(a["name"]) == sorted(a["name"])
    assert list(inventory.hosts(session).columns) == [
        "name", "cluster", "connectionState", "inMaintenanceMode", "powerState", "cpuVendor", "cpuModel",
        "numCpuCores", "memoryGB", "maxEVCModeKey", "currentEVCModeKey", "vmotionEnabled", "vmotionVnics",
        "version", "moid"]
