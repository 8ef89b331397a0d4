"""Benchmark: grade a class of 100 submissions of one lab notebook, with and without the sandbox.

Makes N submissions of notebooks/00-getting-started.ipynb (a third perfect, a third
partly right, a third untouched student copies) and grades the class twice with
`labkit.grading` on the given number of workers: each submission in its bubblewrap
sandbox (what `labkit grade` does), and unsandboxed (`--no-sandbox`). The two are
measured side by side in one run, in the order sandbox, none, none, sandbox over the
two halves of the class, so that a machine that warms up or slows down during the run
favours neither. Prints the wall time, the submissions per minute and the points of
each, the sandbox's cost as a ratio, and which limits were in force.
Run: .venv/bin/python benchmarks/grading.py [--students 100] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from labkit import authoring, grading, sandbox

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "00-getting-started.ipynb"


def _class(root: Path, students: int) -> list[Path]:
    released = authoring.release(LESSON, root / "release")
    student = json.loads(Path(released).read_text())
    source = authoring.read(LESSON)
    subs = []
    for i in range(students):
        d = root / f"student-{i:03d}"
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
    return subs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="labkit-bench-class-"))
    try:
        subs = _class(root, a.students)
        limits = sandbox.Limits()
        grading.prepare(limits)  # the simulator built, the sandbox proven, before any clock starts
        half = len(subs) // 2
        modes = {"sandbox": limits, "none": None}
        wall = {m: 0.0 for m in modes}
        points: dict[str, list[int]] = {m: [] for m in modes}
        for mode, part in (("sandbox", subs[:half]), ("none", subs[:half]), ("none", subs[half:]),
                           ("sandbox", subs[half:])):
            t0 = time.perf_counter()
            grades = grading.grade(LESSON, part, jobs=a.jobs, limits=modes[mode])
            wall[mode] += time.perf_counter() - t0
            points[mode] += [g.total for g in grades]
        whole = "a cgroup per submission" if sandbox.whole_job_limits() else "rlimits per process"
        print(f"submissions: {len(subs)} of {LESSON.name}, graded twice on {a.jobs} worker(s) "
              f"({os.cpu_count()} cores)")
        print(f"sandbox limits: {limits.memory_mb} MiB and {limits.processes} processes ({whole})")
        for mode in modes:
            label = "in a sandbox each" if mode == "sandbox" else "unsandboxed"
            print(f"{label:>18}: {wall[mode]:7.1f} s  {len(subs) / wall[mode] * 60:6.1f} submissions per minute  "
                  f"points {sum(points[mode])}")
        ratio = wall["sandbox"] / wall["none"]
        print(f"sandbox / unsandboxed wall time: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")
        assert sorted(points["sandbox"]) == sorted(points["none"]), "the two runs gave different points"
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
