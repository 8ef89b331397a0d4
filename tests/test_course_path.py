"""The learning path: every exercise is judged alike everywhere, every lesson ends with a link to the next."""
import re
import sys
from pathlib import Path

import nbformat
import pytest

from labkit import authoring, exercises

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(Path(__file__).parent))
import agreement  # noqa: E402


def test_every_exercise_has_a_wrong_and_a_wrong_type_answer_to_judge():
    exercises.get("00.guard")  # loads every lesson's exercises
    assert set(agreement.WRONG) == set(exercises.REGISTRY)


def _path_order():
    """Lesson file names in the order notebooks/README.md lists them."""
    text = (ROOT / "notebooks" / "README.md").read_text()
    return re.findall(r"\]\((\d\d[a-z]?-[a-z-]+\.ipynb)\)", text)


def test_the_readme_lists_every_lesson_once():
    assert sorted(_path_order()) == [p.name for p in LESSONS]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_next_is_a_link_to_the_next_lesson_of_the_path(lesson):
    nb = nbformat.read(str(lesson), as_version=4)
    nexts = [c.source for c in nb.cells if c.cell_type == "markdown" and "**Next:**" in c.source]
    assert len(nexts) == 1, "one **Next:** line per lesson"
    targets = re.findall(r"\]\(([^)]+)\)", nexts[0].split("**Next:**", 1)[1])
    assert targets, "the Next line links somewhere"
    for t in targets:
        assert (lesson.parent / t).exists(), t
    order = _path_order()
    i = order.index(lesson.name)
    assert targets[0] == (order[i + 1] if i + 1 < len(order) else "README.md")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_each_exercise_is_set_in_the_world_its_lesson_connected_to_last(lesson):
    """An exercise's declared world is the scenario of the last connect(scenario=...) above its answer cell."""
    nb = nbformat.read(str(lesson), as_version=4)
    current = None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "solution" in authoring.roles(cell):
            ex = exercises.get(authoring.exercise_of(cell))
            if ex.world is not None:
                assert ex.world == current, (ex.id, ex.world, current)
        found = re.findall(r"connect\(scenario=\"([a-z0-9-]+)\"", cell.source)
        if found:
            current = found[-1]
