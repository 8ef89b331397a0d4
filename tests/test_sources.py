"""The register of claims (notebooks/sources.md) and the glossary (notebooks/glossary.md) hold the lessons up.

Every lesson's Sources section cites register keys, each key has an entry with its source, and each entry lists
the claims the course takes from it with how far each was verified. A lesson that cites a key the register lacks,
names a vSphere fault the register does not, or forgets the glossary fails here.
"""
import functools
import re
from pathlib import Path

import nbformat
import pytest
from pyVmomi import vim, vmodl

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))
LESSON_IDS = {p.name.split("-", 1)[0] for p in LESSONS}
VERIFIED = {"quoted", "read", "secondary", "not verified"}
KEY = re.compile(r"^[a-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$")
CITE = re.compile(r"\]\(sources\.md#([^)\s]+)\)")


def _register():
    """key -> {"citation": text, "claims": [(claim, lessons, verified)]}, in file order."""
    entries, key = {}, None
    for line in (NOTEBOOKS / "sources.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            key = line[3:].strip()
            assert key not in entries, f"register key {key} appears twice"
            entries[key] = {"citation": "", "claims": []}
        elif key is None:
            continue
        elif line.startswith("|") and not line.startswith("|---") and not line.startswith("| claim |"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == 3, f"{key}: a claim row has three cells: {line}"
            entries[key]["claims"].append(tuple(cells))
        elif line.strip() and not line.startswith("|"):
            entries[key]["citation"] += line.strip() + " "
    return entries


REGISTER = _register()


@functools.cache
def _markdown(lesson: Path) -> list[str]:
    return [c.source for c in nbformat.read(str(lesson), as_version=4).cells if c.cell_type == "markdown"]


def _sources_section(lesson: Path) -> str:
    found = [s for s in _markdown(lesson) if re.search(r"^\*\*Sources\.\*\*", s, re.M)]
    assert len(found) == 1, f"{lesson.name}: one Sources section"
    return found[0].split("**Sources.**", 1)[1]


def test_every_register_entry_has_a_source_and_verified_claims():
    assert len(REGISTER) >= 30
    problems = []
    for key, entry in REGISTER.items():
        if not KEY.match(key):
            problems.append(f"{key!r}: a key starts lower-case, then letters, digits, dots, underscores, hyphens")
        course_files = [f for f in re.findall(r"`([\w./-]+)`", entry["citation"]) if (ROOT / f).exists()]
        if not re.search(r"https?://\S+", entry["citation"]) and not (key.startswith("course-") and course_files):
            problems.append(f"{key}: the citation needs the page's address (a course- key: the course file's path)")
        if not entry["claims"]:
            problems.append(f"{key}: no claim is taken from it")
        for claim, lessons, verified in entry["claims"]:
            if not claim:
                problems.append(f"{key}: an empty claim")
            if not re.match(r"^(quoted|read|secondary|not verified)\b", verified):
                problems.append(f"{key}: verified starts with one of {sorted(VERIFIED)} (a note may follow), "
                                f"not {verified!r}")
            for lesson in re.findall(r"[0-9]{2}[a-z]?", lessons):
                if lesson not in LESSON_IDS:
                    problems.append(f"{key}: claim {claim!r} names lesson {lesson}, which does not exist")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_every_source_a_lesson_cites_is_a_register_key(lesson):
    section = _sources_section(lesson)
    bullets = [b for b in section.splitlines() if b.startswith("- ")]
    assert bullets, f"{lesson.name}: the Sources section lists its sources"
    for bullet in bullets:
        assert CITE.search(bullet), f"{lesson.name}: this source is not a register key: {bullet}"
    text = "\n".join(_markdown(lesson))
    missing = sorted({k for k in CITE.findall(text) if k not in REGISTER})
    assert not missing, f"{lesson.name} cites keys the register lacks: {missing}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_the_register_says_where_each_claim_is_used(lesson):
    """A claim row that names a lesson means that lesson cites the key."""
    cited = set(CITE.findall("\n".join(_markdown(lesson))))
    ident = lesson.name.split("-", 1)[0]
    for key, entry in REGISTER.items():
        for claim, lessons, _ in entry["claims"]:
            if ident in re.findall(r"[0-9]{2}[a-z]?", lessons):
                assert key in cited, f"register {key}: claim {claim!r} is said to be used in {ident}, " \
                                     f"which does not cite {key}"


def _fault_names(text: str) -> set[str]:
    names = set()
    for name in re.findall(r"`([A-Z][A-Za-z]+)`", text):
        for ns in (vim.fault, vmodl.fault):
            if isinstance(getattr(ns, name, None), type):
                names.add(name)
    return names


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_every_fault_a_lesson_names_is_in_the_register(lesson):
    claims = "\n".join(c for e in REGISTER.values() for c, _, _ in e["claims"])
    named = _fault_names("\n".join(_markdown(lesson)))
    missing = sorted(n for n in named if f"`{n}`" not in claims)
    assert not missing, f"{lesson.name} names faults with no claim in the register: {missing}"


def test_every_register_key_is_cited_by_a_lesson():
    cited = set()
    for lesson in LESSONS:
        cited |= set(CITE.findall("\n".join(_markdown(lesson))))
    assert not sorted(set(REGISTER) - cited), "register entries no lesson cites"


def _glossary():
    terms = {}
    for line in (NOTEBOOKS / "glossary.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^- \*\*(.+?)\*\*: (.+) \(first used: lesson ([0-9]{2}[a-z]?)\)$", line)
        if line.startswith("- "):
            assert m, f"glossary line not of the form '- **Term**: definition. (first used: lesson NN)': {line}"
            assert m.group(1).lower() not in terms, f"glossary term {m.group(1)} twice"
            terms[m.group(1).lower()] = m.group(3)
    return terms


def test_the_glossary_defines_terms_in_order_with_the_lesson_that_first_uses_them():
    terms = _glossary()
    assert len(terms) >= 30
    assert list(terms) == sorted(terms), "glossary terms in alphabetical order"
    assert set(terms.values()) <= LESSON_IDS


def _path_order():
    text = (NOTEBOOKS / "README.md").read_text()
    return [n.split("-", 1)[0] for n in re.findall(r"\]\((\d\d[a-z]?-[a-z-]+\.ipynb)\)", text)]


def test_the_glossary_names_the_lesson_of_first_use_along_the_path():
    """Each term appears in the lesson the glossary names, and in no lesson before it on the path: a term is
    never used before the lesson that defines it."""
    by_id = {p.name.split("-", 1)[0]: "\n".join(_markdown(p)) for p in LESSONS}
    order = _path_order()
    problems = []
    for term, lesson in _glossary().items():
        name = r"\s+".join(re.escape(w) for w in term.split(" (")[0].split())  # a term may wrap across lines
        words = re.compile(r"(?<![\w-])" + name + r"(?:e?s)?(?![\w-])", re.I)
        used = [i for i in order if words.search(by_id[i])]
        if not used:
            problems.append(f"glossary term {term!r} appears in no lesson")
        elif used[0] != lesson:
            problems.append(f"glossary term {term!r}: first used in lesson {used[0]}, not {lesson}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_each_lesson_opens_with_a_link_to_the_glossary(lesson):
    assert "](glossary.md)" in _markdown(lesson)[0], f"{lesson.name}: its first cell links glossary.md"
