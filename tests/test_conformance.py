"""Every row of the migration conformance table (datasets/conformance/) holds in the lab world.

For each row: the check gives the row's errors and warnings (or fails with its fault); the enforcing
migration fails with the first error, or succeeds and moves the VM; ``labkit.compat`` gives the same verdict
for a plain VM x host question. See tests/conformance.py.
"""
import pytest
from conformance import CHECKS, ENFORCING, PAIRS, World, apply_setup, call, parse_expected, rows, same, world_path
from helpers import lab_world

from labkit import compat

ROWS = rows()


def test_the_table_covers_the_issue_and_every_row_has_a_source():
    assert len(ROWS) >= 60
    cases = {r.data.get("case") for r in ROWS}
    assert set("abcdefghijklmn") <= cases
    assert all(r.data["source"].strip() for r in ROWS)


def _compat_applies(d: dict) -> bool:
    """compat answers "can this VM move to this host" (the pool only places it): no datastore, no method fault."""
    return d.get("compat", True) and d.get("host") and not d.get("datastore") and "fault" not in d["expect"]


@pytest.mark.parametrize("row", [r for r in ROWS if r.modelled], ids=lambda r: r.id)
def test_row(row):
    d = row.data
    exp = d["expect"]
    check_method = d["call"] if d["call"] in CHECKS else PAIRS[d["call"]]
    enforce = d["call"] if d["call"] in ENFORCING else PAIRS[d["call"]]
    errors, warnings = parse_expected(exp.get("errors")), parse_expected(exp.get("warnings"))
    with lab_world(world_path(d["world"])) as s:
        w = World(s)
        apply_setup(w, d["setup"])
        got = call(w, check_method, d)
        if "fault" in exp:
            assert (got.fault, got.prop) == (exp["fault"], exp.get("property", got.prop)), f"{check_method}: {got}"
        else:
            assert got.fault is None, f"{check_method} failed with {got.fault}"
            tested = sorted(h for h, _, _ in got.results)
            assert tested == sorted(exp.get("tested", [d["host"]] if d.get("host") else tested)), tested
            for host, errs, warns in got.results:
                assert same(errs, errors), f"{check_method} -> {host}: errors {errs}, expected {errors}"
                assert same(warns, warnings), f"{check_method} -> {host}: warnings {warns}, expected {warnings}"
        if _compat_applies(d):
            mine = compat.matrix(s, vms=[d["vm"]], hosts=[d["host"]]).iloc[0]
            assert sorted(mine["errors"]) == sorted(e for e, _ in errors), f"compat errors {mine['errors']}"
            assert sorted(mine["warnings"]) == sorted(x for x, _ in warnings), f"compat warnings {mine['warnings']}"
        before = w.vm(d["vm"]).runtime.host.name
        done = call(w, enforce, d)
        if "fault" in exp:
            assert done.fault == exp["fault"], f"{enforce}: {done}"
        elif errors:
            assert done.fault in {e for e, _ in errors}, f"{enforce} gave {done.fault}, expected one of {errors}"
            assert w.vm(d["vm"]).runtime.host.name == before
        else:
            assert done.fault is None, f"{enforce} failed with {done.fault} although the check passes"
            assert done.host_after == exp.get("moves_to", d.get("host") or before)
