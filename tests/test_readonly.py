"""labkit's readers call only methods that read: proven on the lab's log of the SOAP methods it served."""
import pytest

import labkit
from helpers import lab_world
from labkit import compat, hostconfig, hostlog, labapi, readonly


@pytest.mark.parametrize("method, reads", [
    ("RetrievePropertiesEx", True), ("QueryVMotionCompatibilityEx_Task", True), ("CheckMigrate_Task", True),
    ("WaitForUpdatesEx", True), ("CreateContainerView", True), ("BrowseDiagnosticLog", True),
    ("MigrateVM_Task", False), ("ReconfigVM_Task", False), ("UpdateVirtualNic", False), ("CreateVM_Task", False),
    ("Destroy_Task", False), ("SetTaskState", False),
])
def test_the_allow_list_names_reading_methods_only(method, reads):
    assert readonly.reads(method) is reads


def test_labkits_readers_change_nothing():
    with lab_world("partial-storage") as s:
        _, mark = labapi.served_methods(s)
        facts = compat.fetch(s)
        compat.matrix(facts)
        compat.vcenter(s)
        labkit.inventory.vms(s)
        labkit.inventory.hosts(s)
        hostconfig.readiness(s)
        hostlog.read(s, "esx-01")
        called, _ = labapi.served_methods(s, since=mark)
        assert {"RetrievePropertiesEx", "QueryVMotionCompatibilityEx_Task", "BrowseDiagnosticLog"} <= set(called)
        assert readonly.violations(called) == []
        s.change(s.content.rootFolder, "CreateFolder", name="audit-must-not-do-this")
        assert readonly.violations(labapi.served_methods(s, since=mark)[0]) == ["CreateFolder"]
