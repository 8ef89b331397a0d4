"""LMS gradebook import files: Canvas's and Moodle's CSV layouts, each checked against a sample of the
documented format (tests/data/*_import_sample.csv, sources in tests/data/lms_samples.md) and against the
importers' rules, restated here independently of labkit.lms."""
import csv
import io
import re
from pathlib import Path

import pytest

from labkit import exercises, grading, lms
from labkit.errors import LabkitError

DATA = Path(__file__).parent / "data"
LESSON_00 = ("00.cluster-hosts", "00.vms-on-esx-01", "00.guard")


# -- Canvas's import rules (gradebook_importer.rb), restated ------------------------------------------
# Header words of computed columns, which Canvas's importer drops wherever they occur in a header.
COMPUTED = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                      "Override Score|Override Grade|Override Status")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _separator(text: str) -> str:
    """Canvas reads a file as ';'-separated when its first three lines split into more, and equally many,
    fields on ';' than on ','."""
    lines = text.splitlines()[:3]

    def width(sep):
        try:
            counts = {len(next(csv.reader([line], delimiter=sep), [])) for line in lines}
        except csv.Error:
            return 0
        return counts.pop() if len(counts) == 1 else 0

    return ";" if width(";") > width(",") else ","


def canvas_read(text: str) -> dict:
    """What Canvas's importer takes from a file: its assignment columns, points possible and student rows;
    ValueError where it would refuse the header, or where a student or a grade could not be read."""
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=_separator(text))
            if not all(re.fullmatch(r"[;, ]*", c) for c in r)]
    if not rows:
        raise ValueError("empty file")
    head = rows[0]
    if not (len(head) > 3 and "Student" in head[0] and "ID" in head[1]):
        raise ValueError(f"not a student header: {head[:2]}")
    info, sis_user, sis_login = 3, None, None
    if re.search(r"SIS\s+Login\s+ID", head[2]):
        info, sis_login = 4, 2
    elif re.search(r"SIS\s+User\s+ID", head[2]) and re.search(r"SIS\s+Login\s+ID", head[3]):
        sis_user, sis_login = 2, 3
        info = 5 + (len(head) > 4 and bool(re.search(r"Integration\s+ID", head[4])))
        if len(head) > info - 1 and re.search(r"Root\s+Account", head[info - 1]):
            info += 1
    if len(head) < info or "Section" not in head[info - 1]:
        raise ValueError(f"the last student column is not Section: {head[:info]}")
    columns = {i: h for i, h in enumerate(head) if i >= info and not COMPUTED.search(h)}
    if not columns:
        raise ValueError("no assignment column")
    if len(set(columns.values())) != len(columns):
        raise ValueError("two assignment columns share a header")
    out = {"assignments": list(columns.values()), "points": {}, "students": []}
    def cell(row, i):
        return row[i].strip() if i is not None and i < len(row) else ""

    for row in rows[1:]:
        if "Points Possible" in row[0]:
            out["points"] = {h: cell(row, i) for i, h in columns.items()}
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.IGNORECASE) for c in row):
            continue
        who = {"name": cell(row, 0), "id": cell(row, 1), "sis_user_id": cell(row, sis_user),
               "sis_login_id": cell(row, sis_login), "section": cell(row, info - 1)}
        if not (who["id"].isdigit() or who["sis_user_id"] or who["sis_login_id"] or who["name"]):
            raise ValueError(f"a row no student can be matched by: {row}")
        grades = {h: cell(row, i) for i, h in columns.items()}
        bad = {h: v for h, v in grades.items() if v and v.upper() != "EX" and not NUMBER.fullmatch(v)}
        if bad:
            raise ValueError(f"not points: {bad}")
        out["students"].append({**who, "grades": grades})
    return out


# -- Moodle's import rules (load_data.php, csvlib), restated -------------------------------------------
def moodle_read(text: str, mapping: dict[str, str]) -> list[dict]:
    """The rows Moodle's CSV import takes with ``mapping`` ({header: 'user' | 'grade' | 'feedback'}, the
    teacher's choices at import; other columns ignored): a dict per row; ValueError where it would stop."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    head = [h.strip() for h in rows[0]]
    if any(len(r) != len(head) for r in rows[1:]):
        raise ValueError("a row's width differs from the header's")
    if len(set(head)) != len(head) or not all(head):
        raise ValueError("blank or repeated header")
    users = [h for h, what in mapping.items() if what == "user"]
    if len(users) != 1 or not set(mapping) <= set(head):
        raise ValueError(f"the mapping does not fit the header: {head}")
    out = []
    for r in rows[1:]:
        if len(r) <= 1:
            continue
        row = dict(zip(head, (c.strip() for c in r)))
        if not row[users[0]]:
            raise ValueError(f"a row without its user: {r}")
        for h, what in mapping.items():
            if what == "grade" and row[h] not in ("", "-"):
                if not NUMBER.fullmatch(row[h]):
                    raise ValueError(f"not a grade: {h}={row[h]!r}")
                if float(row[h]) > 100:
                    raise ValueError(f"above 100: {h}={row[h]}")
        out.append(row)
    return out


# -- grades ----------------------------------------------------------------------------------------------
def grade(student: str, earned: dict[str, int], *, notes=(), reasons=None) -> grading.Grade:
    maximum = {ex: exercises.get(ex).points for ex in LESSON_00}
    points = {ex: earned.get(ex, 0) for ex in LESSON_00}
    why = reasons if reasons is not None else {ex: grading.WRONG_ANSWER for ex in LESSON_00
                                               if points[ex] < maximum[ex]}
    return grading.Grade(student, f"submitted/{student}/00-getting-started.ipynb", points, maximum,
                         {ex: "" for ex in LESSON_00}, list(notes), reasons=why)


@pytest.fixture
def grades():
    return [
        grade("alice", {"00.cluster-hosts": 1, "00.vms-on-esx-01": 2, "00.guard": 1}),
        grade("bob", {"00.cluster-hosts": 1}, notes=['he said "done", then left']),
        grade("Zoë Ñúñez, Jr.", {"00.guard": 1}),
        grade("carol", {}, notes=["submitted/carol: no 00-getting-started.ipynb"],
              reasons={ex: grading.MISSING_NOTEBOOK for ex in LESSON_00}),
    ]


def roster_file(tmp_path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


ROSTER = ("student,name,canvas_id,sis_user_id,sis_login_id,section,email,idnumber,username\n"
          'alice,"Liddell, Alice",501,S-1,aliddell,Sec 1,alice@example.edu,S-1,aliddell\n'
          'bob,"O\'Brien, Bob ""Bobby""",502,S-2,bobrien,Sec 1,bob@example.edu,,bobrien\n'
          '"Zoë Ñúñez, Jr.","Ñúñez, Zoë",503,S-3,znunez,Sec 2,zoe@example.edu,S-3,znunez\n'
          "carol,\"Carroll, Carol\",504,S-4,ccarroll,Sec 2,carol@example.edu,S-4,ccarroll\n"
          "dave,\"Davis, Dave\",505,S-5,ddavis,Sec 2,dave@example.edu,S-5,ddavis\n")


# -- Canvas ----------------------------------------------------------------------------------------------
def test_canvas_rules_accept_the_documented_sample():
    got = canvas_read((DATA / "canvas_import_sample.csv").read_text(encoding="utf-8"))
    assert got["assignments"] == ["Lab 1 (10231)", "Lab 2"]  # the computed score columns are dropped
    assert got["points"] == {"Lab 1 (10231)": "10", "Lab 2": "5"}
    assert [s["sis_login_id"] for s in got["students"]] == ["ghopper", "alovelace", "aturing"]
    assert got["students"][0]["name"] == "Hopper, Grace"
    assert got["students"][2]["grades"] == {"Lab 1 (10231)": "EX", "Lab 2": "4.5"}


@pytest.mark.parametrize("header, why", [
    ("Name,ID,SIS User ID,SIS Login ID,Section,Lab", "not a student header"),
    ("Student,User,SIS User ID,SIS Login ID,Section,Lab", "not a student header"),
    ("Student,ID,SIS User ID,SIS Login ID,Group,Lab", "not Section"),
    ("Student,ID,SIS Login ID,SIS User ID,Section,Lab", "not Section"),
    ("Student,ID,SIS User ID,SIS Login ID,Section,Final Score", "no assignment column"),
    ("Student,ID,SIS User ID,SIS Login ID,Section,Lab,Lab", "share a header"),
])
def test_canvas_rules_refuse_a_wrong_header(header, why):
    row = ["alice", "", "", "alice", ""] + ["1"] * (header.count(",") - 4)
    with pytest.raises(ValueError, match=why):
        canvas_read(f"{header}\r\n{','.join(row)}\r\n")


def test_canvas_reads_a_ragged_file_as_semicolon_separated():
    # Canvas guesses the separator from the first three lines: rows narrower than the header read as ';'
    assert _separator("Student,ID,SIS User ID,SIS Login ID,Section,Lab\r\nalice,,,alice,,1\r\n") == ","
    assert _separator("Student,ID,SIS User ID,SIS Login ID,Section,Lab,Lab 2\r\nalice,,,alice,,1\r\n") == ";"


def test_canvas_rules_refuse_letters_for_points():
    with pytest.raises(ValueError, match="not points"):
        canvas_read("Student,ID,SIS User ID,SIS Login ID,Section,Lab\r\nalice,,,alice,,three\r\n")


def test_canvas_export_without_roster(grades):
    text = lms.canvas_csv(grades, "00 Getting started")
    assert text.splitlines()[0] == "Student,ID,SIS User ID,SIS Login ID,Section,00 Getting started"
    assert _separator(text) == ","
    got = canvas_read(text)
    assert got["assignments"] == ["00 Getting started"]  # one Canvas assignment: the lesson's total
    assert got["points"] == {"00 Getting started": "4"}
    rows = {s["name"]: s for s in got["students"]}
    assert list(rows) == ["alice", "bob", "Zoë Ñúñez, Jr.", "carol"]
    assert {n: s["grades"]["00 Getting started"] for n, s in rows.items()} == \
        {"alice": "4", "bob": "1", "Zoë Ñúñez, Jr.": "1", "carol": "0"}  # carol: missing notebook, 0 points
    # without a roster, the label is where Canvas can match it: the login ID (and the name)
    assert all(s["sis_login_id"] == n and s["id"] == "" and s["sis_user_id"] == "" for n, s in rows.items())


def test_canvas_export_with_roster(grades, tmp_path):
    text = lms.canvas_csv(grades, "Lesson 00 (7788)", roster_file(tmp_path, ROSTER))
    got = canvas_read(text)
    assert got["assignments"] == ["Lesson 00 (7788)"]
    bob = got["students"][1]
    assert bob == {"name": 'O\'Brien, Bob "Bobby"', "id": "502", "sis_user_id": "S-2", "sis_login_id": "bobrien",
                   "section": "Sec 1", "grades": {"Lesson 00 (7788)": "1"}}
    assert got["students"][2]["name"] == "Ñúñez, Zoë"
    assert "dave" not in text and "Davis" not in text  # on the roster, not graded: left out


def test_canvas_per_exercise_columns(grades):
    got = canvas_read(lms.canvas_csv(grades, "Lab 00", per_exercise=True))
    assert got["assignments"] == ["Lab 00", *(f"Lab 00: {ex}" for ex in LESSON_00)]
    assert got["points"] == {"Lab 00": "4", "Lab 00: 00.cluster-hosts": "1", "Lab 00: 00.vms-on-esx-01": "2",
                             "Lab 00: 00.guard": "1"}
    assert got["students"][1]["grades"] == {"Lab 00": "1", "Lab 00: 00.cluster-hosts": "1",
                                            "Lab 00: 00.vms-on-esx-01": "0", "Lab 00: 00.guard": "0"}


def test_canvas_refuses_an_assignment_name_canvas_would_drop(grades):
    with pytest.raises(LabkitError, match="Final Grade"):
        lms.canvas_csv(grades, "Lab 00 Final Grade")
    with pytest.raises(LabkitError, match="needs a name"):
        lms.canvas_csv(grades, "  ")


# -- Moodle ----------------------------------------------------------------------------------------------
def test_moodle_rules_accept_the_documented_sample():
    rows = moodle_read((DATA / "moodle_import_sample.csv").read_text(encoding="utf-8"),
                       {"Email address": "user", "Lab 1": "grade", "Feedback: Lab 1": "feedback",
                        "Quiz: Week 2": "grade"})
    assert [r["Email address"] for r in rows] == ["ghopper@example.edu", "alovelace@example.edu",
                                                  "aturing@example.edu"]
    assert rows[0]["Feedback: Lab 1"] == "Good work, see the note on step 3"
    assert rows[2]["Feedback: Lab 1"] == 'He wrote "see me"'


@pytest.mark.parametrize("text, why", [
    ("Email address,Lab\r\na@x.org,1,2\r\n", "width"),
    ("Email address,Lab\r\na@x.org,three\r\n", "not a grade"),
    ("Email address,Lab\r\na@x.org,101\r\n", "above 100"),
    ("Email address,Lab\r\n,1\r\n", "without its user"),
    ("Email,Lab\r\na@x.org,1\r\n", "does not fit"),
])
def test_moodle_rules_refuse_a_wrong_file(text, why):
    with pytest.raises(ValueError, match=why):
        moodle_read(text, {"Email address": "user", "Lab": "grade"})


def _moodle_mapping(item: str, user: str) -> dict[str, str]:
    return {user: "user", **{f"{item}: {ex}": "grade" for ex in LESSON_00}, item: "grade",
            f"Feedback: {item}": "feedback"}


def test_moodle_export_without_roster(grades):
    text = lms.moodle_csv(grades, "00 Getting started")
    head = next(csv.reader(io.StringIO(text)))
    assert head == ["Username", *(f"00 Getting started: {ex}" for ex in LESSON_00), "00 Getting started",
                    "Feedback: 00 Getting started"]
    rows = moodle_read(text, _moodle_mapping("00 Getting started", "Username"))
    assert [r["Username"] for r in rows] == ["alice", "bob", "Zoë Ñúñez, Jr.", "carol"]
    assert [r["00 Getting started"] for r in rows] == ["4", "1", "1", "0"]
    assert [r["00 Getting started: 00.vms-on-esx-01"] for r in rows] == ["2", "0", "0", "0"]
    fb = {r["Username"]: r["Feedback: 00 Getting started"] for r in rows}
    assert fb["alice"] == "Score 4 / 4."
    assert fb["bob"] == ('Score 1 / 4. 00.vms-on-esx-01: wrong answer; 00.guard: wrong answer; '
                         'he said "done", then left')
    assert fb["carol"].startswith("Score 0 / 4. missing notebook")


def test_moodle_export_with_roster_writes_the_complete_identities(grades, tmp_path):
    text = lms.moodle_csv(grades, "Lab 00", roster_file(tmp_path, ROSTER))
    head = next(csv.reader(io.StringIO(text)))
    assert head[:2] == ["Email address", "Username"]  # bob has no ID number: that column is left out
    rows = moodle_read(text, _moodle_mapping("Lab 00", "Email address"))
    assert [r["Email address"] for r in rows] == ["alice@example.edu", "bob@example.edu", "zoe@example.edu",
                                                  "carol@example.edu"]
    assert "dave" not in text
    assert lms.roster_only(grades, roster_file(tmp_path, ROSTER)) == ["dave"]


def test_moodle_export_needs_one_identity_for_everyone(grades, tmp_path):
    path = roster_file(tmp_path, "student,email,username\nalice,a@x.org,\nbob,,bob\n"
                                 '"Zoë Ñúñez, Jr.",z@x.org,zn\ncarol,c@x.org,cc\n')
    with pytest.raises(LabkitError, match=r"missing email: bob; idnumber: .*; username: alice"):
        lms.moodle_csv(grades, "Lab 00", path)


# -- rosters -----------------------------------------------------------------------------------------------
def test_read_roster_knows_columns_by_their_names(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffSIS Login ID,Student,Email Address,Notes\r\njdoe,Jane,j@x.org,x\r\n\r\n".encode())
    assert lms.read_roster(path) == {"Jane": {"name": "", "canvas_id": "", "sis_user_id": "", "sis_login_id": "jdoe",
                                              "section": "", "email": "j@x.org", "idnumber": "", "username": ""}}


@pytest.mark.parametrize("text, why", [
    ("name,email\nAlice,a@x.org\n", "no 'student' column .*'name', 'email'"),
    ("student,email\nalice,a@x.org\nalice,b@x.org\n", "names 'alice' twice"),
    ("student,email\n,a@x.org\n", "line 2, gives no student label"),
    ("", "is empty"),
])
def test_read_roster_refuses_a_bad_roster(tmp_path, text, why):
    with pytest.raises(LabkitError, match=why):
        lms.read_roster(roster_file(tmp_path, text))


def test_a_missing_roster_file(grades, tmp_path):
    with pytest.raises(LabkitError, match="No roster at .*nowhere.csv"):
        lms.canvas_csv(grades, "Lab 00", tmp_path / "nowhere.csv")


def test_graded_students_absent_from_the_roster_are_named(grades, tmp_path):
    path = roster_file(tmp_path, "student,email\nalice,a@x.org\nbob,b@x.org\n")
    for export in (lambda r: lms.canvas_csv(grades, "Lab", r), lambda r: lms.moodle_csv(grades, "Lab", r)):
        with pytest.raises(LabkitError, match=r"no line for 2 graded student\(s\): Zoë Ñúñez, Jr., carol"):
            export(path)


# -- files ---------------------------------------------------------------------------------------------------
def test_write_both_kinds(grades, tmp_path):
    canvas = lms.write(grades, tmp_path / "out", "canvas", "Lab 00")
    moodle = lms.write(grades, tmp_path / "out", "moodle", "Lab 00", roster=lms.read_roster(
        roster_file(tmp_path, ROSTER)))
    assert (canvas.name, moodle.name) == ("canvas.csv", "moodle.csv")
    assert canvas.read_bytes() == lms.canvas_csv(grades, "Lab 00").encode("utf-8")
    assert "Zoë Ñúñez, Jr.".encode() in canvas.read_bytes() and b"\r\n" in canvas.read_bytes()
    assert canvas_read(canvas.read_text(encoding="utf-8"))["students"][2]["name"] == "Zoë Ñúñez, Jr."
    assert moodle_read(moodle.read_text(encoding="utf-8"), _moodle_mapping("Lab 00", "Username"))[2]["Username"] \
        == "znunez"
    with pytest.raises(LabkitError, match="No export kind 'blackboard'"):
        lms.write(grades, tmp_path, "blackboard", "Lab 00")
