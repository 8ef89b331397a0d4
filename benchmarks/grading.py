"""Benchmark: grade a class of 30 submissions of one lab notebook.

Makes 30 submissions of notebooks/00-getting-started.ipynb (a third perfect, a
third partly right, a third untouched student copies), grades them with
`labkit.grading` on the given number of workers, and prints the wall time,
the time per submission, and the points found.
Run: .venv/bin/python benchmarks/grading.py [--students 30] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat

from labkit import authoring, grading

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "00-getting-started.ipynb"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="labkit-bench-class-"))
    released = authoring.release(LESSON, root / "release")
    student = json.loads(Path(released).read_text())
    source = authoring.read(LESSON)
    subs = []
    for i in range(a.students):
        d = root / f"student-{i:02d}"
        d.mkdir()
        if i % 3 == 0:
            nb = source
        else:
            nb = nbformat.from_dict(json.loads(json.dumps(student)))
            if i % 3 == 1:
                for cell in nb.cells:
                    if "solution" in authoring.roles(cell) and authoring.exercise_of(cell) == "00.cluster-hosts":
                        cell.source = "answer = 3"
        nbformat.write(nb, str(d / LESSON.name))
        subs.append(d / LESSON.name)
    t0 = time.perf_counter()
    grades = grading.grade(LESSON, subs, jobs=a.jobs)
    wall = time.perf_counter() - t0
    per = [g.seconds for g in grades]
    print(f"submissions: {len(grades)}  workers: {a.jobs}")
    print(f"wall time:   {wall:7.1f} s")
    print(f"per submission: median {sorted(per)[len(per) // 2]:5.1f} s, max {max(per):5.1f} s")
    print(f"throughput:  {len(grades) / wall * 60:7.1f} submissions per minute")
    print(f"points:      {sorted(g.total for g in grades)}")


if __name__ == "__main__":
    main()
