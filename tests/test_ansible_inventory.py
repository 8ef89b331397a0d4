"""Ansible's community.vmware modules against the lab world, as an admin runs them against vCenter: the
classification of every module, the reads, and the inventory and cluster changes (tests/ansible_cases.py).

Each group is one ansible-playbook run (connection local, the collection's module_defaults) on a fresh world;
its results come back through the ansible.posix.json callback, and what each change case said it changed is
read back with pyVmomi afterwards (tests/ansible_suite.py).
"""
import pytest
from ansible_cases import DEFECTS, GROUPS, LEFT_OUT, VARIANT_DEFECTS
from ansible_suite import collection_modules, run_group

FIRST = [g for g in GROUPS if g.name in ("reads", "inventory and cluster changes")]


def test_every_module_is_run_left_out_or_a_known_defect():
    """Not a hand-picked few: each module of the installed community.vmware is run, left out with a reason, or a
    named lab defect, and in one place only."""
    run = {c.module for g in GROUPS for c in g.cases}
    assert not run & set(LEFT_OUT), run & set(LEFT_OUT)
    assert not run & set(DEFECTS), run & set(DEFECTS)
    assert not set(LEFT_OUT) & set(DEFECTS)
    assert set(VARIANT_DEFECTS) <= run
    modules = collection_modules()
    assert modules == run | set(LEFT_OUT) | set(DEFECTS), {
        "not classified": sorted(modules - run - set(LEFT_OUT) - set(DEFECTS)),
        "not in the collection": sorted((run | set(LEFT_OUT) | set(DEFECTS)) - modules)}
    assert all(LEFT_OUT.values()) and all(DEFECTS.values())
    ids = [(g.name, c.id) for g in GROUPS for c in g.cases]
    assert len(ids) == len(set(ids))



@pytest.mark.parametrize("group", FIRST, ids=[g.name for g in FIRST])
def test_community_vmware_modules(group, tmp_path):
    problems = run_group(group, tmp_path)
    assert not problems, "\n".join(problems)


def test_the_clients_page_counts_what_the_suite_runs():
    """docs/clients.md states how many modules are run, left out and open defects; it must match this suite."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "clients.md").read_text()
    run = {c.module for g in GROUPS for c in g.cases}
    runs = sum(2 if c.kind == "change" else 1 for g in GROUPS for c in g.cases)
    said = re.search(r"\*\*Run\*\* \((\d+) modules, in (\w+) groups of (\d+) module runs", page)
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    assert said and (int(said[1]), said[2], int(said[3])) == (len(run), words[len(GROUPS) - 1], runs), said and said.groups()
    assert f"**Left out** ({len(LEFT_OUT)} modules)" in page
    if DEFECTS or VARIANT_DEFECTS:
        assert f"**Open lab defects** ({len(DEFECTS)} modules not run, and one use each of {len(VARIANT_DEFECTS)} run" in page
    else:
        assert "**Open lab defects**: none." in page
