"""The change guard: the lab simulator may change; anything else needs explicit opt-in and a lab area."""
import pytest
from helpers import find_vm

import labkit
from labkit.errors import ChangeRefused, TaskFailed


def _power(session, name):
    vms = labkit.inventory.vms(session)
    return vms.set_index("name").loc[name, "powerState"]


def test_the_lab_simulator_may_change(fresh_lab):
    with labkit.connect() as s:
        s.change(find_vm(s, "DC0_H0_VM0"), "PowerOffVM_Task")
        assert _power(s, "DC0_H0_VM0") == "poweredOff"


def test_another_endpoint_is_read_only_by_default(extra_sim):
    e = extra_sim()
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True) as s:
        assert not s.is_lab
        assert len(labkit.inventory.vms(s)) == 4  # reading is fine
        with pytest.raises(ChangeRefused) as err:
            s.change(find_vm(s, "DC0_H0_VM0"), "PowerOffVM_Task")
        assert _power(s, "DC0_H0_VM0") == "poweredOn"
    msg = str(err.value)
    assert msg.startswith("Refused: PowerOffVM_Task on VirtualMachine 'DC0_H0_VM0'.")
    assert f"{e.url} is not the lab simulator, and this session is read-only." in msg
    assert "allow_changes=True" in msg and "lab_area=" in msg


def test_rehearsing_against_the_simulator_as_if_real(lab):
    with labkit.connect(lab=False) as s:
        assert not s.is_lab
        with pytest.raises(ChangeRefused):
            s.change(find_vm(s, "DC0_H0_VM1"), "PowerOffVM_Task")


def test_allow_changes_alone_is_not_enough(extra_sim):
    e = extra_sim()
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True, allow_changes=True) as s:
        with pytest.raises(ChangeRefused, match="no lab area was named"):
            s.change(find_vm(s, "DC0_H0_VM0"), "PowerOffVM_Task")
        assert _power(s, "DC0_H0_VM0") == "poweredOn"


@pytest.mark.parametrize("area, inside, outside", [
    ("/DC0/host/DC0_C0/Resources", "DC0_C0_RP0_VM0", "DC0_H0_VM0"),   # a resource pool, by path
    ("DC0/host/DC0_H0", "DC0_H0_VM1", "DC0_C0_RP0_VM1"),             # a compute resource, path without leading /
])
def test_inside_the_lab_area_only(extra_sim, area, inside, outside):
    e = extra_sim()
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True, allow_changes=True,
                        lab_area=[area]) as s:
        s.change(find_vm(s, inside), "PowerOffVM_Task")
        assert _power(s, inside) == "poweredOff"
        with pytest.raises(ChangeRefused, match="outside the lab area"):
            s.change(find_vm(s, outside), "PowerOffVM_Task")
        assert _power(s, outside) == "poweredOn"


def test_lab_area_by_managed_object_id(extra_sim):
    e = extra_sim()
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True) as probe:
        folder = probe.content.rootFolder.childEntity[0].vmFolder._moId
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True, allow_changes=True,
                        lab_area=[folder]) as s:
        s.change(find_vm(s, "DC0_H0_VM0"), "PowerOffVM_Task")
        assert _power(s, "DC0_H0_VM0") == "poweredOff"


def test_host_configuration_is_judged_by_its_host(extra_sim):
    """A host's networkSystem has no parent: the guard places it by the host (or cluster) that owns it."""
    from pyVmomi import vim

    from labkit import hostconfig

    e = extra_sim()
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True, allow_changes=True,
                        lab_area=["/DC0/host/DC0_C0"]) as s:
        inside, outside = hostconfig.host(s, "DC0_C0_H0"), hostconfig.host(s, "DC0_H0")
        hostconfig.add_port_group(s, inside, "vMotion-lab")
        assert "vMotion-lab" in [pg.spec.name for pg in inside.config.network.portgroup]
        with pytest.raises(ChangeRefused, match="outside the lab area"):
            hostconfig.add_port_group(s, outside, "vMotion-lab")
        assert "vMotion-lab" not in [pg.spec.name for pg in outside.config.network.portgroup]
        with pytest.raises(ChangeRefused, match="outside the lab area"):
            hostconfig.enable_service(s, outside, "vmk0")
        hostconfig.disable_evc(s, "DC0_C0")  # the EVC manager belongs to its cluster, inside the area
        assert isinstance(hostconfig.evc_manager(s, "DC0_C0"), vim.cluster.EVCManager)


def test_host_configuration_needs_opt_in(extra_sim):
    from labkit import hostconfig

    e = extra_sim()
    with labkit.connect(e.url, user="alice", password="s3cret", insecure=True) as s:
        esx = hostconfig.host(s, "DC0_C0_H0")
        with pytest.raises(ChangeRefused, match="read-only"):
            hostconfig.add_vmkernel_adapter(s, esx, "VM Network")
        with pytest.raises(ChangeRefused, match="read-only"):
            hostconfig.configure_evc(s, "DC0_C0", "intel-merom")
        with pytest.raises(TaskFailed) as err:  # the check changes nothing, so it is allowed; vCenter answers
            hostconfig.check_evc(s, "DC0_C0", "no-such-mode")
        assert err.value.fault_type == "InvalidArgument"
