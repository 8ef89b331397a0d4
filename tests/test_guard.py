"""The change guard: the lab simulator may change; anything else needs explicit opt-in and a lab area."""
import pytest
from helpers import find_vm

import labkit
from labkit.errors import ChangeRefused


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
