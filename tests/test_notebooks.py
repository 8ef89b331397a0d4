"""Checks over the curriculum's notebooks, separate from running them under nbval."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def _load(path):
    return json.loads(path.read_text())


def _text(cell):
    return "".join(cell["source"])


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb(request):
    return request.param, _load(request.param)


def test_there_is_a_curriculum():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00-getting-started.ipynb"
    assert all(re.match(r"\d\d[a-z]?-[a-z0-9-]+\.ipynb$", p.name) for p in NOTEBOOKS)


def test_opens_with_objectives_prerequisites_and_time(nb):
    _, book = nb
    first = _text(book["cells"][0])
    assert first.startswith("# ")
    for word in ("learn", "Prerequisites", "Time"):
        assert word in first


def test_alternates_explanation_and_code(nb):
    _, book = nb
    kinds = [c["cell_type"] for c in book["cells"]]
    runs = "".join("m" if k == "markdown" else "c" for k in kinds)
    assert "mmmm" not in runs and "cccccc" not in runs


def test_uses_the_simulator_plotly_widgets_and_exercises(nb):
    _, book = nb
    code = "\n".join(_text(c) for c in book["cells"] if c["cell_type"] == "code")
    # every lesson works in a lab: the vCenter simulator, or real QEMU guests (lesson 03b)
    assert "labkit.connect(" in code or "rm.migrate(" in code
    outputs = json.dumps([c.get("outputs", []) for c in book["cells"]])
    assert "application/vnd.plotly.v1+json" in outputs  # a plotly chart was drawn
    assert "application/vnd.jupyter.widget-view+json" in outputs  # and a widget shown
    checks = re.findall(r'labkit\.exercises\.check\("([^"]+)"', code)
    assert len(checks) >= 2


def test_every_exercise_is_a_tagged_solution_and_test_pair(nb):
    from labkit import authoring, exercises

    path, book = nb
    import nbformat

    ids = authoring.validate(nbformat.reads(json.dumps(book), as_version=4), path.name)
    for ex in ids:
        exercises.get(ex)  # registered, with points and hints
        roles = [authoring.roles(c) for c in book["cells"] if authoring.exercise_of(c) == ex]
        assert {"solution"} in roles and {"test"} in roles, ex
    for cell in book["cells"]:
        if cell["cell_type"] == "code" and "labkit.exercises.check(" in _text(cell):
            assert "test" in cell["metadata"].get("tags", []), _text(cell)


def test_ends_with_summary_and_sources(nb):
    _, book = nb
    md = [_text(c) for c in book["cells"] if c["cell_type"] == "markdown"]
    assert any(t.startswith("## Summary") and "Sources" in t for t in md[-2:])


def test_outputs_are_committed_in_order_and_clean(nb):
    path, book = nb
    code = [c for c in book["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: run all cells top to bottom before committing"
    blob = json.dumps([c["outputs"] for c in code])
    assert "Traceback (most recent call last)" not in blob
    assert "VMware1!" not in blob
    for c in code:
        for out in c["outputs"]:
            if out["output_type"] == "error":
                assert "raises-exception" in c["metadata"].get("tags", [])
                assert len(out["traceback"]) == 1  # labkit's one-line errors
    assert "execution" not in json.dumps([c["metadata"] for c in book["cells"]])


def test_kernel_is_python3(nb):
    _, book = nb
    assert book["metadata"]["kernelspec"]["name"] == "python3"
