"""Every row of the migration conformance table (datasets/conformance/) holds in the lab world.

For each row: the check gives the row's errors and warnings (or fails with its fault); the enforcing
migration fails with the first error, or succeeds and moves the VM; ``labkit.compat`` gives the same verdict
for the VM and host that the simulator's QueryVMotionCompatibilityEx_Task gives. See tests/conformance.py.

Rows without setup steps share one world per world file: a check changes nothing, a refused migration
changes nothing, and a migration that succeeds is moved back. A row with setup steps gets a pristine world.
"""
import pytest
from conformance import CHECKS, ENFORCING, PAIRS, World, apply_setup, call, parse_expected, rows, same, world_path
from helpers import lab_world
from pyVmomi import vim

from labkit import compat

ROWS = rows()
_shared: dict[str, tuple] = {}  # world -> (session, World, compat's verdicts on every VM x host pair)


@pytest.fixture(scope="module", autouse=True)
def _close_shared_worlds():
    yield
    for s, _, _ in _shared.values():
        s.close()
    _shared.clear()


def test_the_table_covers_the_issue_and_every_row_has_a_source():
    assert len(ROWS) >= 60
    cases = {r.data.get("case") for r in ROWS}
    assert set("abcdefghijklmn") <= cases
    assert all(r.data["source"].strip() for r in ROWS)


def _agree_with_compat(w: World, d: dict, facts, hosts: list[str]) -> None:
    """labkit.compat's verdict on the VM and each host equals the simulator's own VM x host verdict
    (QueryVMotionCompatibilityEx_Task): compat answers that question, with no pool or datastore, so a row whose
    call fails on its arguments is still judged on the move it names."""
    for host in hosts:
        (_, errs, warns), = call(w, "QueryVMotionCompatibilityEx_Task", {**d, "host": host}).results
        if facts is None:
            mine = compat.matrix(w.s, vms=[d["vm"]], hosts=[host]).iloc[0]
        else:  # a shared world's verdicts, every pair at once
            mine = facts.loc[(d["vm"], host)]
        assert (sorted(mine["errors"]), sorted(mine["warnings"])) == ([e for e, _ in errs], [x for x, _ in warns]), \
            f"compat says {mine['errors']} / {mine['warnings']} for {d['vm']} -> {host}; the lab {errs} / {warns}"


def _world(d: dict):
    """(session, World, compat verdicts or None, shared): a pristine world for a row with setup steps, else the
    shared one."""
    if d["setup"]:
        old = _shared.pop(d["world"], None)  # a pristine start of the same world replaces the shared one
        if old:
            old[0].close()
        s = lab_world(world_path(d["world"]))
        w = World(s)
        apply_setup(w, d["setup"])
        return s, w, None, False
    if d["world"] not in _shared:
        s = lab_world(world_path(d["world"]))
        _shared[d["world"]] = (s, World(s), compat.matrix(s).set_index(["vm", "host"]))
    return (*_shared[d["world"]], True)


def _put_back(w: World, d: dict, host: str, pool, datastores) -> bool:
    """Move the VM of a shared world back where it was; False when that is refused."""
    vm = w.vm(d["vm"])
    spec = vim.vm.RelocateSpec(host=w.host(host), pool=pool)
    if d.get("datastore"):
        spec.datastore = datastores[0]
    try:
        w.s.change(vm, "RelocateVM_Task", spec=spec, progress=False)
    except Exception:
        return False
    return vm.runtime.host.name == host and vm.resourcePool == pool


# rows that share a world first, world by world; then the rows that change theirs
ORDER = sorted((r for r in ROWS if r.modelled), key=lambda r: (bool(r.data["setup"]), r.data["world"]))


@pytest.mark.parametrize("row", ORDER, ids=lambda r: r.id)
def test_row(row):
    d = row.data
    exp = d["expect"]
    check_method = d["call"] if d["call"] in CHECKS else PAIRS[d["call"]]
    enforce = d["call"] if d["call"] in ENFORCING else PAIRS[d["call"]]
    errors, warnings = parse_expected(exp.get("errors")), parse_expected(exp.get("warnings"))
    s, w, facts, shared = _world(d)
    try:
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
        _agree_with_compat(w, d, facts, [d["host"]] if d.get("host") else sorted(h for h, _, _ in got.results))
        vm = w.vm(d["vm"])
        before, pool, datastores = vm.runtime.host.name, vm.resourcePool, list(vm.datastore)
        done = call(w, enforce, d)
        if "fault" in exp:
            assert done.fault == exp["fault"], f"{enforce}: {done}"
        elif errors:
            assert done.fault in {e for e, _ in errors}, f"{enforce} gave {done.fault}, expected one of {errors}"
            assert w.vm(d["vm"]).runtime.host.name == before
        else:
            assert done.fault is None, f"{enforce} failed with {done.fault} although the check passes"
            assert done.host_after == exp.get("moves_to", d.get("host") or before)
            if shared and not _put_back(w, d, before, pool, datastores):
                raise AssertionError(f"{d['vm']} could not be moved back to {before}")
    except BaseException:
        if shared:  # a shared world in an unknown state is not reused
            _shared.pop(d["world"], (s, None, None))[0].close()
        raise
    finally:
        if not shared:
            s.close()
