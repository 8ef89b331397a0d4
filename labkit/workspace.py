"""A learner's workspace: student copies of the lessons, made once, kept across restarts and course updates.

``labkit lab`` opens the workspace, never the instructor sources in
``notebooks/`` (those hold the solutions). On first start every lesson is
released into it; on later starts :func:`sync` brings course updates in the
way nbgitpuller merges a course into a learner's folder:

- a lesson new to the course is added;
- a lesson the learner has not touched is replaced by its new release;
- a lesson the learner has edited is merged cell by cell (cells matched by
  id): every cell the learner changed or added is kept as the learner left it,
  every other cell comes from the new release;
- a lesson the learner deleted comes back.

The workspace remembers what it was given in ``.labkit/``: a JSON manifest
(per lesson, the fingerprint of the source it was released from) and the last
released copy of each lesson, the base of the next merge.

A workspace copy carries the lesson's committed outputs up to its first
exercise; from there on, outputs are cleared (they came from a run with the
solutions), and the learner's Run All fills them in.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
from pathlib import Path

import nbformat

from . import authoring
from .errors import LabkitError

MANIFEST = ".labkit/manifest.json"
BASES = ".labkit/released"


def default_path() -> Path:
    """``$LABKIT_WORKSPACE``, else ``~/vmotion-labs``: outside the course's repository."""
    return Path(os.environ.get("LABKIT_WORKSPACE") or Path.home() / "vmotion-labs").expanduser()


def sources() -> Path:
    """The instructor sources: the course's ``notebooks/`` folder."""
    from . import datasets

    return datasets.root().parent / "notebooks"


@dataclasses.dataclass
class Change:
    lesson: str          # file name, e.g. "02-compatibility-checks.ipynb"
    what: str            # "added", "updated", "merged", "restored", "kept", "unreadable"
    detail: str = ""

    @property
    def line(self) -> str:
        return f"{self.what} {self.lesson}{': ' + self.detail if self.detail else ''}"


def learner_copy(source_nb, lesson: str):
    """The workspace copy of one lesson: the student release, with outputs cleared from the first exercise on."""
    nb = authoring.student_copy(source_nb, lesson)
    cleared = False
    for cell in nb.cells:
        cleared = cleared or bool(authoring.roles(cell))
        if cleared and cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _read_manifest(root: Path) -> dict:
    try:
        return json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return {"lessons": {}}


def _write(nb, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)


def _merge(base, ours, theirs) -> tuple[object, int, int, int]:
    """Three-way, cell by cell: the learner's changed and added cells kept, the rest from ``theirs``.

    Returns (merged notebook, cells kept from the learner, cells taken from the course's update, cells the
    course changed too but the learner's version was kept).
    """
    base_by = {c.get("id"): c for c in base.cells}
    ours_by = {c.get("id"): c for c in ours.cells}
    theirs_ids = {c.get("id") for c in theirs.cells}

    def edited(c) -> bool:
        b = base_by.get(c.get("id"))
        return b is None or b.source != c.source or b.cell_type != c.cell_type

    merged = copy.deepcopy(theirs)
    kept = updated = both = 0
    cells = []
    for cell in merged.cells:
        mine = ours_by.get(cell.get("id"))
        if mine is not None and edited(mine):
            cells.append(copy.deepcopy(mine))
            kept += 1
            b = base_by.get(cell.get("id"))
            both += b is not None and b.source != cell.source
        else:
            b = base_by.get(cell.get("id"))
            if b is None or b.source != cell.source:
                updated += 1
            cells.append(cell if mine is None else _with_outputs(cell, mine))
    # cells the learner added: after the cell that preceded them in their copy
    previous = None
    for mine in ours.cells:
        cid = mine.get("id")
        if cid not in theirs_ids and cid not in base_by:
            at = next((i for i, c in enumerate(cells) if c.get("id") == previous), -1)
            cells.insert(at + 1, copy.deepcopy(mine))
            kept += 1
        previous = cid
    merged.cells = cells
    return merged, kept, updated, both


def _with_outputs(new_cell, mine):
    """The course's cell, with the learner's outputs when the code is unchanged (their last run stays on screen)."""
    if new_cell.cell_type == "code" and mine.cell_type == "code" and new_cell.source == mine.source:
        out = copy.deepcopy(new_cell)
        out.outputs, out.execution_count = copy.deepcopy(mine.outputs), mine.get("execution_count")
        return out
    return new_cell


def sync(root: Path | None = None, source_dir: Path | None = None) -> list[Change]:
    """Release new lessons into the workspace and merge course updates; returns what changed.

    Never overwrites a cell the learner edited. Raises :class:`LabkitError` when
    the sources are missing or the workspace cannot be written.
    """
    root = Path(root or default_path())
    source_dir = Path(source_dir or sources())
    lessons = sorted(source_dir.glob("*.ipynb"))
    if not lessons:
        raise LabkitError(f"No lessons at {source_dir}.", fix="run labkit from the course's folder")
    if root.resolve() == source_dir.resolve():  # the student copies would replace the sources, solutions and all
        raise LabkitError(f"The workspace {root} is the folder of the lesson sources; the student copies would "
                          "overwrite them.", fix="give the workspace a folder of its own (--workspace)")
    try:
        (root / BASES).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LabkitError(f"Cannot create the workspace {root}: {e.strerror}.",
                          fix="give --workspace (or LABKIT_WORKSPACE) a folder you can write") from None
    manifest = _read_manifest(root)
    known = manifest.setdefault("lessons", {})
    changes: list[Change] = []
    for src in lessons:
        source_nb = authoring.read(src)
        fingerprint = authoring.fingerprint(source_nb)
        target, base_path = root / src.name, root / BASES / src.name
        entry = known.get(src.name)
        if target.exists() and not _readable(target):  # the learner's file is kept as it is, and said to be broken
            changes.append(Change(src.name, "unreadable", "not a readable notebook, so labkit left it as it is; "
                                  "rename it, and labkit workspace puts a fresh copy in its place"))
            continue
        if entry is not None and entry.get("source") == fingerprint and target.exists():
            continue  # nothing new from the course
        new = learner_copy(source_nb, src.stem)
        if entry is None and not target.exists():
            _write(new, target)
            changes.append(Change(src.name, "added"))
        elif not target.exists():
            _write(new, target)
            changes.append(Change(src.name, "restored", "it was missing from the workspace"))
        else:
            ours = authoring.read(target)
            base = authoring.read(base_path) if base_path.exists() else new  # no base: keep what differs
            merged, kept, updated, both = _merge(base, ours, new)
            _write(merged, target)
            if kept:
                detail = f"{updated} cell(s) updated by the course, {kept} cell(s) of yours kept as you left them"
                if both:
                    detail += (f"; the course also changed {both} of those: its version is in "
                               f"{BASES}/{src.name}")
                changes.append(Change(src.name, "merged", detail))
            else:
                changes.append(Change(src.name, "updated", f"{updated} cell(s) changed by the course"))
        nbformat.write(new, str(base_path))  # the base of the next merge, and the course's version to compare
        known[src.name] = {"source": fingerprint}
    for page in pages(source_dir):  # the path, the glossary and the register the lessons link to
        shutil.copyfile(page, root / page.name)
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return changes


#: the course's pages beside the lessons, which the lessons link to: the learning path, the glossary, the
#: register of sources
PAGES = ("README.md", "glossary.md", "sources.md")


def pages(source_dir: Path, linked_only: bool = False) -> list[Path]:
    """The course pages (:data:`PAGES`) present in ``source_dir``: a workspace gets a copy of each, a release
    (``linked_only``) of those the lessons link to, the glossary and the register, not the path's README."""
    names = PAGES[1:] if linked_only else PAGES
    return [source_dir / name for name in names if (source_dir / name).is_file()]


def _readable(path: Path) -> bool:
    """Is ``path`` a notebook's JSON (an object with cells)? Cheap: no schema validation."""
    try:
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(nb, dict) and isinstance(nb.get("cells"), list)


def first_lesson(root: Path) -> str | None:
    """The file name of the first lesson in a folder (``00-…``), for JupyterLab's start page."""
    found = sorted(p.name for p in Path(root).glob("00-*.ipynb"))
    return found[0] if found else None
