"""Gradebook import files for a learning management system: Canvas's and Moodle's CSV grade imports.

``labkit grade`` knows each student only by a label: the name of the folder (or file) their notebook came
in. An LMS matches a row of an import file to a student by an identity of its own, so the label has to be
put where the LMS looks, or translated by a roster (:func:`read_roster`).

Canvas (Grades > Import) takes the layout of its own gradebook export. Every column after ``Section`` is one
Canvas assignment, so the file carries one column: the lesson's total, under the assignment's name
(:func:`canvas_csv`). Sources of the rules below:

- Instructure's guide, "How do I import grades in the Gradebook?":
  https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807
  (now https://community.instructure.com/en/kb/articles/660862-how-do-i-import-grades-in-the-gradebook);
- the importer itself, which decides what a file may be:
  https://github.com/instructure/canvas-lms/blob/master/app/models/gradebook_importer.rb
  (``header?``, ``row_has_student_headers?``, ``update_column_count``, ``NON_ASSIGNMENT_COLUMN_HEADERS``,
  ``check_for_non_student_row``, ``process_student``, ``parse_assignments``, ``identify_delimiter``);
- Ohio State's guide to the same import, which lists the required columns and says that a new column
  makes a new assignment:
  https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades

Moodle (Grades > Import > CSV file) reads any header row; at import the teacher maps one column to a user
field (email, ID number or username) and each other column to a grade item, a new grade item, the feedback
of a grade item, or nothing. The file carries a column per exercise, the lesson's total and a feedback column
(:func:`moodle_csv`). Sources:

- MoodleDocs, "Grade import": https://docs.moodle.org/en/Grade_import
  (the 3.11 copy read: https://docs.moodle.org/311/en/Grade_import);
- the importer: https://github.com/moodle/moodle/blob/main/grade/import/csv/classes/load_data.php
  (``map_user_data_with_value``, ``check_user_exists``, ``update_grade_item``, ``import_new_grade_item``,
  ``insert_grade_record``, ``prepare_import_grade_data``) and its mapping form,
  https://github.com/moodle/moodle/blob/main/grade/import/grade_import_form.php;
- the CSV reader's rule that every row has the header's number of fields:
  https://github.com/moodle/moodle/blob/main/lib/csvlib.class.php (``csvweirdcolumns``).

Both files are UTF-8, comma-separated, quoted where a field needs it (RFC 4180), with Windows line ends.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import LabkitError
from .gradebook import notes_text
from .grading import Grade

#: the export kinds :func:`write` knows, and the file each writes
KINDS = {"canvas": "canvas.csv", "moodle": "moodle.csv"}

#: Canvas's student columns, in the order its importer reads them (gradebook_importer.rb, update_column_count)
CANVAS_INFO = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: header words Canvas treats as computed totals and drops (gradebook_importer.rb, NON_ASSIGNMENT_COLUMN_HEADERS;
#: matched anywhere in a header, so an assignment named "Final Grade" would vanish from the import)
CANVAS_NOT_ASSIGNMENTS = ("Current Score", "Current Points", "Current Grade", "Final Score", "Final Points",
                          "Final Grade", "Override Score", "Override Grade", "Override Status")
CANVAS_POINTS_ROW = "Points Possible"

#: Moodle's user fields a column can be mapped to, as this module heads them (the names Moodle's own export
#: uses), each with its roster field; Moodle compares the value exactly (email case included)
MOODLE_IDENTITY = {"Email address": "email", "ID number": "idnumber", "Username": "username"}

#: roster fields: the label, and each LMS identity; a roster column is known by any of these names
#: (case, spaces, hyphens and underscores aside)
ROSTER_FIELDS = {
    "student": ("student", "label", "folder"),
    "name": ("name", "display name", "full name"),
    "canvas_id": ("canvas id", "canvas user id"),
    "sis_user_id": ("sis user id",),
    "sis_login_id": ("sis login id", "login id"),
    "section": ("section",),
    "email": ("email", "email address"),
    "idnumber": ("idnumber", "id number"),
    "username": ("username", "user name"),
}


# -- the roster ----------------------------------------------------------------
def _key(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().lower())


_ALIASES = {_key(alias): field for field, names in ROSTER_FIELDS.items() for alias in names}


def read_roster(path) -> dict[str, dict[str, str]]:
    """A roster CSV: ``{label: {field: value}}``, each field of ROSTER_FIELDS present ('' where not given).

    The file is UTF-8 (a byte-order mark is allowed) with a header row. One column, ``student`` (or
    ``label``, ``folder``), holds the label ``labkit grade`` gives each student: the name of the folder their
    notebook is in. The others are optional and known by name, in any order, case aside: ``name``,
    ``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``section`` (Canvas); ``email``, ``idnumber``,
    ``username`` (Moodle). Unknown columns are ignored. For example::

        student,name,sis_login_id,email
        alice,"Liddell, Alice",aliddell,alice@example.edu

    LabkitError when the file is missing or unreadable, has no label column, or names a label twice."""
    path = Path(path)
    if not path.is_file():
        raise LabkitError(f"No roster at {path}.", fix="give the roster CSV's path (a header row with a "
                                                        "'student' column holding each submission's folder name)")
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as e:
        raise LabkitError(f"The roster {path} is not a readable UTF-8 CSV file ({e}).",
                          fix="save it as CSV UTF-8") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise LabkitError(f"The roster {path} is empty.", fix="give it a header row and a row per student")
    columns = {}
    for i, header in enumerate(rows[0]):
        field = _ALIASES.get(_key(header))
        if field and field not in columns:
            columns[field] = i
    if "student" not in columns:
        raise LabkitError(f"The roster {path} has no 'student' column (its columns: "
                          f"{', '.join(repr(h) for h in rows[0])}).",
                          fix="add a 'student' column holding each student's submission folder name")
    roster: dict[str, dict[str, str]] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = {field: (row[i].strip() if i < len(row) else "") for field, i in columns.items()}
        label = cell.pop("student")
        if not label:
            raise LabkitError(f"The roster {path}, line {n}, gives no student label.",
                              fix="fill its 'student' cell or delete the line")
        if label in roster:
            raise LabkitError(f"The roster {path} names {label!r} twice.", fix="keep one line per student")
        roster[label] = {field: cell.get(field, "") for field in ROSTER_FIELDS if field != "student"}
    return roster


def _roster(roster) -> dict[str, dict[str, str]] | None:
    """A roster given as read_roster's dict, a path, or None."""
    if roster is None or isinstance(roster, Mapping):
        return roster
    return read_roster(roster)


def _identities(grades: list[Grade], roster) -> dict[str, dict[str, str]]:
    """{student label: roster fields} for each graded student; without a roster, empty fields.

    LabkitError naming the graded students the roster lacks."""
    roster = _roster(roster)
    if roster is None:
        return {g.student: {} for g in grades}
    absent = sorted({g.student for g in grades} - set(roster))
    if absent:
        raise LabkitError(f"The roster has no line for {len(absent)} graded student(s): {', '.join(absent)}.",
                          fix="add a line for each (the 'student' cell is the submission's folder name)")
    return {g.student: roster[g.student] for g in grades}


def roster_only(grades: Iterable[Grade], roster) -> list[str]:
    """The roster's students with no grade, sorted. The export files leave them out, so an import changes
    nothing of theirs; to give such a student 0, grade an empty folder of theirs ('missing notebook')."""
    roster = _roster(roster) or {}
    return sorted(set(roster) - {g.student for g in grades})


# -- shared ----------------------------------------------------------------------
def _exercises(grades: list[Grade]) -> dict[str, int]:
    """{exercise: maximum points} over the class, in the lesson's order."""
    out: dict[str, int] = {}
    for g in grades:
        for ex, pts in g.max_points.items():
            out.setdefault(ex, pts)
    return out


def _number(x) -> str:
    """Points as the importers read them: 3, 2.5 (a point, never a comma)."""
    return str(int(x)) if float(x).is_integer() else f"{float(x):g}"


def _text(s: str) -> str:
    """One line: line breaks become spaces (both importers read quoted line breaks, spreadsheets less well)."""
    return " ".join(str(s).split())


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def _name(assignment: str, what: str) -> str:
    name = _text(assignment)
    if not name:
        raise LabkitError(f"The {what} needs a name.", fix=f"give the {what}'s name, e.g. '00 Getting started'")
    return name


def check_assignment(kind: str, assignment: str) -> str:
    """The assignment's name as the export writes it; raises :class:`LabkitError` for a name the LMS would not
    import (empty; for Canvas, one with a word of its computed columns, as 'Final Score'). Called before any
    grading, so that a name is refused before work is done and files are written."""
    if kind != "canvas":
        return _name(assignment, "Moodle grade item")
    name = _name(assignment, "Canvas assignment")
    computed = [w for w in CANVAS_NOT_ASSIGNMENTS if w in name]
    if computed:
        raise LabkitError(f"Canvas ignores a column whose header contains {computed[0]!r}, so the assignment "
                          f"{name!r} would not be imported.", fix="give the assignment another name")
    return name


def feedback(g: Grade) -> str:
    """One line for a student: 'Score 2 / 4.' then why each exercise short of its points got none, and
    grading's notes (as the gradebook's notes column)."""
    notes = notes_text(g)
    return _text(f"Score {_number(g.total)} / {_number(g.maximum)}." + (f" {notes}" if notes else ""))


# -- Canvas ----------------------------------------------------------------------
def canvas_csv(grades: list[Grade], assignment: str, roster=None, *, per_exercise: bool = False) -> str:
    """Canvas's gradebook import file: the header, a Points Possible row, a row per graded student.

    Shape::

        Student,ID,SIS User ID,SIS Login ID,Section,<assignment>
        Points Possible,,,,,<the lesson's maximum>
        <name>,<Canvas user ID>,<SIS User ID>,<SIS Login ID>,<section>,<the student's total>

    The rules, from the importer (gradebook_importer.rb, see the module's docstring) and Instructure's guide:

    - the header's first cell contains "Student", its second "ID" (``row_has_student_headers?``); "SIS User
      ID" then "SIS Login ID" follow, and the last student column contains "Section" (``header?``,
      ``update_column_count``);
    - each later column is one assignment: a header "Name (1234)" is the course's assignment 1234, a header
      equal to an assignment's name is that assignment, any other header makes a new assignment
      (``parse_assignments``; the guide). ``assignment`` is that header. Headers containing "Current Score",
      "Final Grade" and the like are computed columns and ignored (``NON_ASSIGNMENT_COLUMN_HEADERS``), so
      such a name is refused here;
    - a row whose first cell contains "Points Possible" sets each assignment's points possible
      (``check_for_non_student_row``, ``process_pp``);
    - a row is matched to a student by the Canvas user ID, else the SIS User ID, else the SIS Login ID, else
      the name (``process_student``); a row matching no one is listed as an unknown student to resolve.

    Per exercise: every column after Section would be an assignment of its own in Canvas, so the file holds
    the lesson's total only. ``per_exercise=True`` adds a column per exercise ('<assignment>: <exercise>'),
    and so an assignment per exercise, for courses that want them.

    Without a roster the student's label goes in Student and SIS Login ID, and the other cells stay empty:
    Canvas then matches a student whose login ID (or whose name) equals the label, so name the submission
    folders by login ID, or give a roster (:func:`read_roster`) with the Canvas identities. A student missing
    a notebook has 0 points, written as 0. Roster students without a grade are left out (:func:`roster_only`).
    """
    name = check_assignment("canvas", assignment)
    given = _roster(roster)
    who = _identities(grades, given)
    maxima = _exercises(grades)
    columns = [name] + ([f"{name}: {ex}" for ex in maxima] if per_exercise else [])
    rows = [[*CANVAS_INFO, *columns],
            [CANVAS_POINTS_ROW, "", "", "", "",
             _number(sum(maxima.values())), *([_number(m) for m in maxima.values()] if per_exercise else [])]]
    for g in grades:
        idy = who[g.student]
        login = idy.get("sis_login_id", "") if given is not None else g.student
        rows.append([_text(idy.get("name") or g.student), idy.get("canvas_id", ""), idy.get("sis_user_id", ""),
                     login, idy.get("section", ""),
                     _number(g.total), *([_number(g.points.get(ex, 0)) for ex in maxima] if per_exercise else [])])
    return _csv(rows)


# -- Moodle ----------------------------------------------------------------------
def moodle_csv(grades: list[Grade], item: str, roster=None) -> str:
    """Moodle's CSV grade import file: a header row, a row per graded student.

    Shape::

        <identity columns>,<item>: <exercise>,...,<item>,Feedback: <item>
        alice@example.edu,1,0,1,2,"Score 2 / 4. 00.vms-on-esx-01: wrong answer"

    The rules, from MoodleDocs' "Grade import" and the importer (load_data.php, see the module's docstring):

    - the first row is the header; every row has as many fields as it (csvlib's ``csvweirdcolumns``);
    - at import the teacher maps one column ("Map from") to a user field ("Map to": email, ID number,
      username) and each other column to a grade item, a new grade item (named after the header), the
      feedback of an item, or nothing; two columns may not map to one target (``prepare_import_grade_data``;
      the mapping form). So every exercise gets a column, next to the lesson's total;
    - a grade is a number ('' or '-' is no grade) (``update_grade_item``); above 100 it is refused unless the
      site allows higher grades (``insert_grade_record``; the docs' note 2);
    - feedback is free text, mapped to the feedback of an item the course already has (the form offers
      feedback only for existing items), so create the lesson's grade item before importing; the docs
      (note 3) warn that importing an item's feedback without its grades loses the grades, so the feedback
      column sits beside the total it belongs to: map both;
    - a row whose user is not found stops the whole import (``check_user_exists``,
      "usermappingerrorusernotfound"), so every identity in the file must exist in Moodle.

    Identity columns: without a roster, ``Username`` holds the label, so name the submission folders by
    Moodle username, or give a roster (:func:`read_roster`). With one, each of "Email address", "ID number"
    and "Username" that the roster fills for every graded student (Moodle matches the value exactly, email
    case included; a blank one cannot be matched); LabkitError when it fills none of them for everyone.
    A student missing a notebook has 0 points. Roster students without a grade are left out
    (:func:`roster_only`): a blank cell would clear their grade.
    """
    name = _name(item, "Moodle grade item")
    given = _roster(roster)
    who = _identities(grades, given)
    if given is not None:
        ids = {col: field for col, field in MOODLE_IDENTITY.items()
               if all(who[g.student].get(field) for g in grades)}
        if grades and not ids:
            blank = {field: sorted(g.student for g in grades if not who[g.student].get(field))
                     for field in MOODLE_IDENTITY.values()}
            lacking = "; ".join(f"{field}: {', '.join(names)}" for field, names in blank.items())
            raise LabkitError("The roster fills no Moodle identity (email, idnumber, username) for every graded "
                              f"student; missing {lacking}.",
                              fix="fill one of those columns for every student in the roster")
    else:
        ids = {"Username": "username"}
    maxima = _exercises(grades)
    rows = [[*ids, *(f"{name}: {ex}" for ex in maxima), name, f"Feedback: {name}"]]
    for g in grades:
        idy = who[g.student]
        rows.append([*((idy[field] if given is not None else g.student) for field in ids.values()),
                     *(_number(g.points.get(ex, 0)) for ex in maxima), _number(g.total), feedback(g)])
    return _csv(rows)


# -- writing ---------------------------------------------------------------------
def write(grades: list[Grade], folder: Path, kind: str, assignment: str, roster=None, *,
          per_exercise: bool = False) -> Path:
    """Write ``folder/canvas.csv`` or ``folder/moodle.csv`` (``kind`` 'canvas' or 'moodle'), UTF-8; its path.

    ``assignment`` is the Canvas assignment's header (its name, or 'Name (id)' for an existing one) or the
    Moodle grade item's name; ``roster`` a path or :func:`read_roster`'s dict; ``per_exercise`` adds Canvas
    a column (so an assignment) per exercise, and Moodle files have those columns always."""
    if kind not in KINDS:
        raise LabkitError(f"No export kind {kind!r}.", fix=f"use one of: {', '.join(KINDS)}")
    if kind == "canvas":
        text = canvas_csv(grades, assignment, roster, per_exercise=per_exercise)
    else:
        text = moodle_csv(grades, assignment, roster)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KINDS[kind]
    path.write_text(text, encoding="utf-8", newline="")
    return path
