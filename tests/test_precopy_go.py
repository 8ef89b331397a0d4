"""One pre-copy model: the lab simulator's Go copy (labkit/sim/launcher/precopy.go) gives the same rounds, times
and outcomes as labkit.precopy on 1,200 input sets drawn across the model's whole range."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from labkit import precopy

ROOT = Path(__file__).resolve().parent.parent
GO = shutil.which("go") or "/usr/lib/go/bin/go"
SETS = 1200

pytestmark = pytest.mark.skipif(not Path(GO).exists(), reason="no Go toolchain")


@pytest.fixture(scope="module")
def go_model(tmp_path_factory):
    """The Go model with a JSON-lines driver, built from the launcher's own source file."""
    d = tmp_path_factory.mktemp("precopy-go")
    shutil.copy(ROOT / "labkit" / "sim" / "launcher" / "precopy.go", d)
    shutil.copy(ROOT / "labkit" / "sim" / "launcher" / "costs.go", d)
    shutil.copy(ROOT / "tests" / "data" / "precopy_go" / "driver.go", d)
    env = {**os.environ, "GO111MODULE": "off", "GOCACHE": str(d / "cache"), "GOFLAGS": ""}
    subprocess.run([GO, "build", "-o", str(d / "model"), "."], cwd=d, env=env, check=True, capture_output=True)

    def run(inputs: list[dict]) -> list[dict]:
        lines = "".join(json.dumps(i) + "\n" for i in inputs)
        out = subprocess.run([str(d / "model")], input=lines, capture_output=True, text=True, check=True)
        return [json.loads(line) for line in out.stdout.splitlines()]
    return run


def _input_sets(n: int) -> list[dict]:
    """Seeded draws over every input: memory 256 MiB-4 TiB, dirty rates 0-40 GiB/s, hot sets from none to all
    of memory, zero pages, 1-100 GbE links, 1-4 NICs, budgets, limits and SDPS on and off."""
    rng = np.random.default_rng(20261130)
    sets = []
    for _ in range(n):
        memory = float(2 ** rng.uniform(8, 22))
        hot = None if rng.random() < 0.3 else float(memory * rng.uniform(0.001, 1.0))
        sets.append({
            "memory_mib": memory,
            "dirty_rate_mibps": float(0 if rng.random() < 0.05 else 2 ** rng.uniform(0, 15.3)),
            "hot_set_mib": hot,
            "hot_share": float(rng.uniform(0.3, 1.0)),
            "zero_mib": float(memory * rng.uniform(0, 0.6)) if rng.random() < 0.3 else 0.0,
            "link_gbps": float(rng.choice([1, 10, 25, 40, 100])),
            "nics": int(rng.integers(1, 5)),
            "switchover_s": float(rng.choice([0.1, 0.5, 1.0, 2.0])),
            "max_switchover_s": float(rng.choice([10.0, 100.0])),
            "max_rounds": int(rng.choice([5, 29, 60])),
            "max_data_factor": float(rng.choice([2.0, 3.0, 5.0])),
            "sdps": bool(rng.random() < 0.6),
        })
    return sets


def test_go_and_python_give_the_same_rounds_times_and_outcomes(go_model):
    sets = _input_sets(SETS)
    got = go_model(sets)
    assert len(got) == SETS
    seen = set()
    for inputs, go in zip(sets, got, strict=True):
        py = precopy.simulate(**inputs)
        where = json.dumps(inputs)
        assert go["outcome"] == py["outcome"] and go["stop_reason"] == py["stop_reason"], where
        assert go["rounds"] == py["rounds"] == len(py.rounds) - (py["outcome"] != "failed"), where
        for key in ("precopy_s", "downtime_s", "total_s", "sent_gib", "max_throttle_pct", "bandwidth_gbps"):
            assert go[key] == pytest.approx(py[key], rel=1e-9, abs=1e-12), (key, where)
        rows = py.rounds
        assert len(go["history"]) == len(rows), where
        for g, (_, p) in zip(go["history"], rows.iterrows(), strict=True):
            assert g["phase"] == p["phase"] and g["round"] == p["round"], where
            for key in ("start_s", "duration_s", "sent_pages", "throttle_pct"):
                assert g[key] == pytest.approx(p[key], rel=1e-9, abs=1e-9), (key, where)
        seen.add((go["outcome"], go["stop_reason"], go["max_throttle_pct"] > 0))
    # the draws reach every outcome and stop reason, with and without the SDPS throttle
    assert {o for o, _, _ in seen} == {"converged", "long switchover", "failed"}
    assert {r for _, r, _ in seen} == {"fits the switchover budget", "round limit", "data limit"}
    assert {t for _, _, t in seen} == {True, False}


def test_the_lab_queues_migrations_by_the_same_cost_tables_as_lesson_01a(go_model):
    """The simulator's admission (costs.go) and labkit.migration_limits are one cost model: same costs per kind
    and resource, same maxima."""
    from labkit import migration_limits as ML

    (tables,) = go_model(["limits"])
    assert tables["costs"] == ML.COSTS
    assert tables["network"] == ML.NETWORK_MAX_COST
    assert (tables["host"], tables["datastore"]) == (ML.HOST_MAX_COST, ML.DATASTORE_MAX_COST)
