"""What grading hands back: a gradebook CSV, one feedback file per student, a summary with a chart."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from .grading import Grade


def table(grades: list[Grade]) -> pd.DataFrame:
    """One row per student: points per exercise, total, maximum, notes."""
    exercises = list(grades[0].max_points) if grades else []
    rows = []
    for g in grades:
        rows.append({"student": g.student, **{ex: g.points.get(ex, 0) for ex in exercises},
                     "total": g.total, "max": g.maximum, "notes": "; ".join(g.notes)})
    return pd.DataFrame(rows, columns=["student", *exercises, "total", "max", "notes"])


def pass_rates(grades: list[Grade]) -> pd.Series:
    """Share of students who earned each exercise's points."""
    if not grades:
        return pd.Series(dtype=float)
    exercises = list(grades[0].max_points)
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
    rates = pass_rates(grades)
    fig = go.Figure(go.Bar(x=list(rates.index), y=[round(100 * v, 1) for v in rates.values], name="pass rate"))
    fig.update_layout(title=f"Exercise pass rates ({len(grades)} submissions)", yaxis_title="% of students",
                      yaxis_range=[0, 100], xaxis_title="exercise")
    return fig


def write(grades: list[Grade], folder: Path) -> dict[str, Path]:
    """gradebook.csv, feedback/<student>.md and summary.html in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / "gradebook.csv"
    table(grades).to_csv(book, index=False, quoting=csv.QUOTE_MINIMAL)
    fb = folder / "feedback"
    fb.mkdir(exist_ok=True)
    for g in grades:
        (fb / f"{g.student}.md").write_text(feedback(g))
    html = folder / "summary.html"
    rates = pass_rates(grades)
    summary = "".join(f"<li>{ex}: {rate:.0%}</li>" for ex, rate in rates.items())
    body = figure(grades).to_html(full_html=False, include_plotlyjs=True)
    html.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Grading summary</title></head>"
                    f"<body><h1>Grading summary</h1><p>{len(grades)} submissions.</p><ul>{summary}</ul>{body}"
                    f"</body></html>")
    return {"gradebook": book, "feedback": fb, "summary": html}
