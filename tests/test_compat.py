"""labkit.compat agrees with the lab's own CheckMigrate/QueryVMotionCompatibilityEx on every pair (a fifth of
large-datacenter's)."""
import dataclasses

import pytest
from helpers import lab_world

import labkit
from labkit import compat, evc, scenarios
from labkit.compat import rules
from labkit.errors import LabkitError


#: scenarios too big to ask vCenter about every pair within make test's ten minutes: every fifth VM (sorted by
#: name) against every host, 20,000 of large-datacenter's 100,000 pairs
SAMPLED = {"large-datacenter": 5}


@pytest.mark.parametrize("scenario", scenarios.names())
def test_every_pair_of_every_scenario_agrees_with_the_simulator(scenario):
    with lab_world(scenario) as s:
        vms = None
        if scenario in SAMPLED:
            vms = sorted(labkit.inventory.vms(s)["name"])[::SAMPLED[scenario]]
        mine = compat.matrix(s, vms=vms)
        theirs = compat.vcenter(s, vms=vms)
    both = compat.compare(mine, theirs)
    assert len(both) == len(mine) == len(theirs) > 0
    disagree = both[~both["agree"]]
    assert disagree.empty, disagree[["vm", "host", "errors", "errors_vcenter", "warnings", "warnings_vcenter"]]
    if scenario not in ("healthy-cluster", "large-datacenter"):
        assert (mine["verdict"] != "ok").any()  # the scenario breaks something, and both saw it


def test_a_missing_or_wrong_rule_is_caught(monkeypatch):
    with lab_world("partial-storage") as s:
        facts = compat.fetch(s)
        theirs = compat.vcenter(s)
    monkeypatch.setattr(rules, "RULES", tuple(r for r in rules.RULES if r.name != "storage"))
    assert (~compat.compare(compat.matrix(facts), theirs)["agree"]).sum() == 3
    wrong = tuple(dataclasses.replace(r, find=lambda p, f, find=r.find: find(p, f).assign(fault="MigrationFault"))
                  if r.name == "storage" else r for r in rules.RULES)
    monkeypatch.setattr(rules, "RULES", wrong)
    assert (~compat.compare(compat.matrix(facts), theirs)["agree"]).sum() == 3


def test_the_checklist_explains_each_check():
    with lab_world("mixed-intel-evc") as s:
        table = compat.check(s, "avx512-app", "old-01")
        evc_pair = compat.check(s, "evc-app", "old-02")
    assert list(table["check"]) == [r.name for r in rules.RULES]
    cpu = table.set_index("check").loc["CPU"]
    assert cpu["status"] == "fail" and cpu["fault"] == "FeatureRequirementsNotMet"
    assert "avx512f" in cpu["reason"] and cpu["remedy"] and "exposed by old-01" in cpu["facts"]
    assert set(table.loc[table["check"] != "CPU", "status"]) == {"pass"}
    assert set(evc_pair["status"]) == {"pass"}


def test_warnings_and_cold_migrations():
    with lab_world("network-mismatch") as s:
        unplugged = compat.check(s, "web-prod-unplugged", "esx-03").set_index("check")
    assert unplugged.loc["networks", "status"] == "warning" and "not connected" in unplugged.loc["networks", "reason"]
    with lab_world("intel-and-amd") as s:
        cold = compat.check(s, "cold-intel", "amd-01").set_index("check")
        hot = compat.check(s, "on-intel", "amd-01").set_index("check")
    assert cold.loc["CPU", "status"] == "pass" and "not checked" in cold.loc["CPU", "reason"]
    assert hot.loc["CPU", "status"] == "fail" and "another vendor" in hot.loc["CPU", "reason"]


def test_cpu_requirements_are_read_only_where_hosts_differ():
    with lab_world("healthy-cluster") as s:
        same = compat.fetch(s)
    assert same.vms["requirements"].isna().all()  # identical hosts decide every CPU check
    with lab_world("mixed-intel-evc") as s:
        mixed = compat.fetch(s)
    assert mixed.vms["requirements"].map(bool).all()


def test_unknown_names_get_one_line():
    with lab_world("healthy-cluster") as s:
        with pytest.raises(LabkitError, match="No VM named 'nope'"):
            compat.check(s, "nope", "esx-01")
        with pytest.raises(LabkitError, match="No host named 'esx-99'"):
            compat.matrix(s, hosts=["esx-99"])
        sub = compat.matrix(s, vms=["db-01"], hosts=["esx-01", "esx-02"])
    assert sub[["vm", "host"]].values.tolist() == [["db-01", "esx-01"], ["db-01", "esx-02"]]


def test_evc_baselines():
    assert evc.supported("intel-haswell")[-1] == "intel-haswell" and "intel-broadwell" not in evc.supported("intel-haswell")
    assert evc.highest(["intel-cascadelake", "intel-haswell"]) == "intel-haswell"
    assert evc.highest(["intel-skylake", "amd-zen2"]) is None  # EVC never mixes vendors (VMware KB 1005764)
    assert evc.common(["intel-skylake", "intel-icelake"])[-1] == "intel-skylake"
    assert "avx512f" in evc.lost("intel-cascadelake", "intel-haswell") and evc.lost("intel-haswell", "intel-haswell") == []
    assert evc.admits("intel-haswell", "intel-icelake")[0]
    ok, why = evc.admits("intel-skylake", "intel-haswell")
    assert not ok and "avx512f" in why
    assert not evc.admits("intel-haswell", "amd-zen3")[0]


def test_the_lessons_checkers_follow_the_lab_world():
    from labkit import exercises

    exercises._attempts.clear()
    with lab_world("mixed-intel-evc") as s:
        assert exercises.check("02.highest-evc", "intel-haswell", s).passed
        assert not exercises.check("02.highest-evc", "intel-cascadelake", s).passed
    with lab_world("partial-storage") as s:
        assert exercises.check("02.destinations", ["esx-02"], s).passed
        assert not exercises.check("02.destinations", ["esx-02", "esx-03"], s).passed
        assert exercises.check("02.storage-rule", lambda v, d, h: {("app-ab", "esx-03"), ("app-local", "esx-01"),
                                                                    ("app-local", "esx-02")}, s).passed
        assert not exercises.check("02.storage-rule", lambda v, d, h: {("app-ab", "esx-03")}, s).passed
        assert "no answer yet" in exercises.check("02.storage-rule", lambda v, d, h: ..., s).line
    with lab_world("host-states") as s:
        assert not exercises.check("02.fix-and-prove", "esx-02", s).passed  # nothing was done in the lab
