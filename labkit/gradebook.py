"""What grading hands back: a gradebook CSV, one feedback file per student, a summary with a chart.

The summary (summary.html) is a per-student table, each zero with its reason, and the pass-rate chart.
It loads plotly.js from a sibling file (plotly.min.js, written once next to it), so it stays small and
opens offline.
"""
from __future__ import annotations

import csv
import html
import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from . import exercises as registry
from .errors import LabkitError
from .grading import NO_SANDBOX, REASONS, Grade

PLOTLY_JS = "plotly.min.js"


def _exercises(grades: list[Grade]) -> list[str]:
    """The exercise ids of the class, in the lesson's order."""
    return list(grades[0].max_points) if grades else []


def titles(ids: list[str]) -> dict[str, str]:
    """{exercise id: its title}, e.g. '00.vms-on-esx-01' -> 'VMs running on esx-01' ('' if unregistered)."""
    out = {}
    for ex in ids:
        try:
            out[ex] = registry.get(ex).title
        except LabkitError:
            out[ex] = ""
    return out


def reasons(g: Grade) -> list[str]:
    """Why each exercise short of its points got none, as 'exercise: reason' (for instance
    '00.guard: edited test cell'); a reason shared by every exercise of the lesson is given once, bare
    ('missing notebook', 'not answered')."""
    short = [ex for ex in g.max_points if g.points.get(ex, 0) < g.max_points[ex]]
    why = {ex: g.reasons.get(ex, "") for ex in short}
    if short and len(short) == len(g.max_points) and len(set(why.values())) == 1 and why[short[0]]:
        return [why[short[0]]]
    return [f"{ex}: {why[ex]}" if why[ex] else ex for ex in short]


def notes_text(g: Grade) -> str:
    """The gradebook's notes cell: the reasons, then grading's notes, joined by '; '."""
    return "; ".join([*reasons(g), *g.notes])


def table(grades: list[Grade]) -> pd.DataFrame:
    """One row per student: points per exercise, total, maximum, notes (reasons for zeros first)."""
    exercises = _exercises(grades)
    rows = []
    for g in grades:
        rows.append({"student": g.student, **{ex: g.points.get(ex, 0) for ex in exercises},
                     "total": g.total, "max": g.maximum, "notes": notes_text(g)})
    return pd.DataFrame(rows, columns=["student", *exercises, "total", "max", "notes"])


def pass_rates(grades: list[Grade]) -> pd.Series:
    """Share of students who earned each exercise's points."""
    if not grades:
        return pd.Series(dtype=float)
    exercises = _exercises(grades)
    return pd.Series({ex: sum(g.points[ex] == g.max_points[ex] for g in grades) / len(grades) for ex in exercises},
                     name="pass rate")


def feedback(g: Grade) -> str:
    lines = [f"# Feedback for {g.student}", "", f"Score: **{g.total} / {g.maximum}**", "",
             "| exercise | points | result |", "|---|---|---|"]
    for ex in g.max_points:
        mark = "correct" if g.points[ex] == g.max_points[ex] else g.messages.get(ex, "")
        lines.append(f"| {ex} | {g.points[ex]} / {g.max_points[ex]} | {mark.replace('|', '/')} |")
    if g.notes:
        lines += ["", "Notes from grading:", *[f"- {n}" for n in g.notes]]
    return "\n".join(lines) + "\n"


def figure(grades: list[Grade]) -> go.Figure:
    """Bars: the % of students who earned each exercise's points, labelled by the exercise's title."""
    rates = pass_rates(grades)
    ids = list(rates.index)
    names = titles(ids)
    fig = go.Figure(go.Bar(x=ids, y=[round(100 * v, 1) for v in rates.values], name="pass rate",
                           hovertext=[f"{names[ex]} ({ex})" for ex in ids]))
    fig.update_layout(title=f"Exercise pass rates ({len(grades)} submissions)", yaxis_title="% of students",
                      yaxis_range=[0, 100], xaxis_title="exercise")
    fig.update_xaxes(tickmode="array", tickvals=ids, ticktext=[names[ex] or ex for ex in ids])
    return fig


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table.grades { border-collapse: collapse; }
.grades th, .grades td { border: 1px solid #ccc; padding: .3em .6em; vertical-align: top; }
.grades th small { font-weight: normal; color: #666; white-space: nowrap; }
.grades td.points, .grades td.total { text-align: center; }
.grades td.zero { background: #fdecea; }
.grades .reason { font-size: 85%; color: #a01c1c; }
.grades td.notes { font-size: 85%; max-width: 40em; }
.grades tfoot td { font-style: italic; }
table.reasons th { text-align: left; padding-right: 1.5em; white-space: nowrap; }
p.warning { background: #fdecea; padding: .5em; }
"""


def summary_html(grades: list[Grade], plotly_src: str = PLOTLY_JS) -> str:
    """The summary page: one row per student (points per exercise, each zero with its reason, total / max,
    notes), a pass-rate row, the reasons' meanings, and the chart with plotly.js loaded from ``plotly_src``."""
    e = html.escape
    ids = _exercises(grades)
    names = titles(ids)
    maxima = grades[0].max_points if grades else {}
    head = "".join(f"<th class='exercise'>{e(names[ex] or ex)}<br><small>{e(ex)} · {maxima[ex]} pt{'s' if maxima[ex] != 1 else ''}</small></th>"
                   for ex in ids)
    rows, used = [], set()
    for g in grades:
        cells = []
        for ex in ids:
            got = g.points.get(ex, 0)
            if got < g.max_points.get(ex, 0):
                why = g.reasons.get(ex, "")
                used.add(why)
                cells.append(f"<td class='points zero' title='{e(g.messages.get(ex, ''))}'>{got}"
                             f"<br><span class='reason'>{e(why)}</span></td>")
            else:
                cells.append(f"<td class='points'>{got}</td>")
        notes = "<br>".join(e(n) for n in g.notes)
        rows.append(f"<tr><td class='student'>{e(g.student)}</td>{''.join(cells)}"
                    f"<td class='total'>{g.total} / {g.maximum}</td><td class='notes'>{notes}</td></tr>")
    rates = pass_rates(grades)
    foot = "".join(f"<td class='points'>{rates[ex]:.0%}</td>" for ex in ids)
    legend = "".join(f"<tr><th>{e(r)}</th><td>{e(REASONS[r])}</td></tr>" for r in REASONS if r in used)
    chart = figure(grades).to_html(full_html=False, include_plotlyjs=False, default_height="420px")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Grading summary</title>"
            f"<style>{_STYLE}</style><script charset='utf-8' src='{e(plotly_src)}'></script></head><body>"
            f"<h1>Grading summary</h1><p>{len(grades)} submissions. Hover a zero for the student's verdict line.</p>"
            + (f"<p class='warning'><strong>{e(NO_SANDBOX)}.</strong></p>"
               if any(NO_SANDBOX in g.notes for g in grades) else "")
            + f"<table class='grades'><thead><tr><th>student</th>{head}<th>total</th><th>notes</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody>"
            f"<tfoot><tr><td>pass rate</td>{foot}<td></td><td></td></tr></tfoot></table>"
            + (f"<h2>Reasons for a zero</h2><table class='reasons'>{legend}</table>" if legend else "")
            + f"{chart}</body></html>")


def _plotly_js(folder: Path) -> Path:
    """plotly.js from the installed plotly package, written once as ``folder/plotly.min.js`` (about 4.8 MB)."""
    from plotly.offline import get_plotlyjs

    path = folder / PLOTLY_JS
    code = get_plotlyjs()
    if not path.exists() or path.read_text(encoding="utf-8") != code:
        path.write_text(code, encoding="utf-8")
    return path


def columns(exercise_ids: list[str]) -> list[str]:
    """gradebook.csv's header for a lesson with these exercises."""
    return ["student", *exercise_ids, "total", "max", "notes"]


def earlier(folder: Path, exercise_ids: list[str]) -> pd.DataFrame | None:
    """The gradebook already in ``folder`` (None if there is none), which a new run merges into: LabkitError
    when it is another lesson's (other columns) or unreadable, so that nothing is graded into it."""
    book = folder / "gradebook.csv"
    if not book.exists():
        return None
    try:
        old = pd.read_csv(book, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise LabkitError(f"{book} is there but unreadable ({e}).",
                          fix="move it away, or grade into another folder (-o)") from None
    if list(old.columns) != columns(exercise_ids):
        raise LabkitError(f"{book} is the gradebook of another lesson (its columns: {', '.join(old.columns)}).",
                          fix="grade into another folder (-o)")
    return old


def write(grades: list[Grade], folder: Path) -> dict:
    """gradebook.csv, feedback/<student>.md, summary.html and the plotly.min.js it loads, in ``folder``.

    A gradebook already there (the same lesson's, see :func:`earlier`) is merged, never replaced: its rows
    for students graded now are replaced, the others kept; ``result["kept"]`` names those kept. The summary
    covers the whole merged class, ``result["class"]`` (Grades, the kept ones rebuilt from their rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / "gradebook.csv"
    new = table(grades)
    old = earlier(folder, _exercises(grades)) if grades else None
    kept: list[str] = []
    everyone = list(grades)
    if old is not None:
        rest = old[~old["student"].isin(set(new["student"]))]
        kept = list(rest["student"])
        everyone += [_from_row(row, grades[0].max_points) for row in rest.to_dict("records")]
        everyone.sort(key=lambda g: g.student)
        new = pd.concat([new.astype(str), rest], ignore_index=True).sort_values("student", kind="stable")
    tmp = book.with_name(f".{book.name}.tmp")
    new.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    os.replace(tmp, book)  # whole or not at all
    fb = folder / "feedback"
    fb.mkdir(exist_ok=True)
    for g in grades:
        (fb / f"{g.student}.md").write_text(feedback(g))
    js = _plotly_js(folder)
    summary = folder / "summary.html"
    summary.write_text(summary_html(everyone, js.name), encoding="utf-8")
    return {"gradebook": book, "feedback": fb, "summary": summary, "plotly": js, "kept": kept, "class": everyone}


def _from_row(row: dict, max_points: dict[str, int]) -> Grade:
    """A Grade kept from an earlier run's gradebook row: its points, and its notes as one note (the reasons for
    its zeros are in that text; the row does not keep them apart)."""
    note = f"graded earlier: {row['notes']}" if row["notes"] else "graded earlier"
    return Grade(row["student"], "", {ex: int(row[ex]) for ex in max_points}, dict(max_points), {}, [note])
