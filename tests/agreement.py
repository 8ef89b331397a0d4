"""One judgement in every place: the notebook's check, `labkit check` and `labkit grade`.

All three run :func:`labkit.exercises.check` in a lesson's kernel; the graders
(`labkit check` and `labkit grade`, both :func:`labkit.grading.grade_one`) run
it with ``LABKIT_GRADING=1`` and give an exercise its points when no check
raised. So in the kernel of every lesson that nbval runs, right after each
exercise's test cell, the root conftest asks :func:`judge` for the points of
three answers, a right one (the instructor's, in ``answer``), a wrong one and
one of the wrong type (from :data:`WRONG`), as the notebook shows them and as
the graders score them. The class in tests/test_grading.py runs the two
commands themselves end to end.
"""
from __future__ import annotations

import os

#: exercise -> (a wrong answer, an answer of the wrong type): Python expressions over the kernel's names,
#: `answer` being the instructor's right answer at that point of the lesson
WRONG = {
    "00.cluster-hosts": ("answer + 1", "str(answer)"),
    "00.vms-on-esx-01": ("sorted(answer) + ['no-such-vm']", "', '.join(sorted(answer))"),
    "00.guard": ("'InvalidLogin'", "42"),
    "01.claims": ("{'a', 'b'}", "'a c e f'"),
    "01.phases": ("list(reversed(answer))", "42"),  # text is fine here: 'qsprt' and 'q, s, p, r, t' are the same list
    "01.first-vmotion": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                         "answer.describe()"),
    "01a.types": ("{**answer, 'f': 'Storage vMotion'}", "'vMotion'"),
    "01a.suspended": ("('VMotionNotConfigured', answer[1])", "str(answer)"),
    "01a.slots": ("answer + 1", "str(answer)"),
    "01b.checklist": ("{'a', 'b'}", "'a c e f'"),
    "01b.evc": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                "answer.describe()"),
    "01b.esx-03": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                   "answer.describe()"),
    "01b.jumbo": ("1500", "str(answer)"),
    "01b.two-links": ("answer * 2 + 1", "f'{answer} s'"),
    "02.highest-evc": ("'intel-merom'", "[answer]"),
    "02.destinations": ("list(answer) + ['esx-99']", "', '.join(answer)"),
    "02.storage-rule": ("lambda vms, datastores, hosts: set()", "'my rule'"),
    "02.fix-and-prove": ("'esx-01'", "[answer]"),
    "03.first-round": ("answer * 2", "str(answer)"),
    "03.closed-form": ("lambda memory_mib, dirty_rate_mibps, bandwidth_mibps, budget_s: 1.0", "42"),
    "03.converge-without-sdps": ("list(answer)[:-1]", "', '.join(answer)"),
    "03.nics-needed": ("answer + 1", "str(answer)"),
    "03b.threshold": ("answer * 2", "str(answer)"),
    "03b.converge": ("failing", "str(answer)"),
    "03b.downtime": ("'a'", "2"),
    "03b.min-bandwidth": ("answer - 1", "str(answer)"),
    "04.not-shared": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                      "answer.describe()"),
    "04.mirrored": ("answer * 2", "str(answer)"),
    "04.left-behind": ("(lambda run: ['stray.vmdk'], answer[1])", "'my check'"),
    "05.port-group": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                      "answer.describe()"),
    "05.lost-pings": ("answer + 1", "str(answer)"),
    "05.survives-2s": ("not answer", "'no'"),
    "06.vmotion-adapter": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                           "answer.describe()"),
    "06.reconnect": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                     "answer.describe()"),
    "06.cd-rom": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                  "answer.describe()"),
    "06.make-room": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                     "answer.describe()"),
    "06.distributed": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='InvalidArgument')",
                       "answer.describe()"),
    "06.hardware-version": ("'5.5'", "float(answer[:3])"),
    "07.jumbo": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='SystemError')",
                 "answer.describe()"),
    "07.routed": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='SystemError')",
                  "answer.describe()"),
    "07.second-adapter": ("__import__('dataclasses').replace(answer, succeeded=False, fault_type='SystemError')",
                          "answer.describe()"),
    "07.window": ("{**answer, 'total_s': answer['total_s'] * 2}", "answer['total_s']"),
    "08.top-fault": ("'DatastoreNotWritableOnHost'", "[answer]"),
    "08.cheapest": ("list(reversed(answer))", "', '.join(answer)"),
    "08.prove": ("estate.compare(answer.after, answer.after)", "answer.describe()"),
}


def judge(exercise: str, namespace: dict) -> dict:
    """Points for the right, wrong and wrong-type answers: {kind: [notebook points, graded points, maximum]}.

    Runs in the lesson's kernel. The learner's hint count is put back afterwards, so the lesson's own later
    cells show what they show without this.
    """
    from labkit import exercises

    wrong, wrong_type = WRONG[exercise]
    answers = {"right": namespace["answer"], "wrong": eval(wrong, namespace),  # noqa: S307 (the table above)
               "wrong type": eval(wrong_type, namespace)}  # noqa: S307
    saved = dict(exercises._attempts)
    out = {}
    try:
        for kind, answer in answers.items():
            shown = exercises.check(exercise, answer)
            os.environ["LABKIT_GRADING"] = "1"
            try:
                exercises.check(exercise, answer)
                graded = exercises.get(exercise).points
            except exercises.ExerciseFailed:
                graded = 0
            finally:
                del os.environ["LABKIT_GRADING"]
            out[kind] = [shown.points, graded, shown.max_points, shown.line]
    finally:
        exercises._attempts.clear()
        exercises._attempts.update(saved)
    return out


def verdicts_agree(result: dict) -> list[str]:
    """What is wrong with :func:`judge`'s result: empty when right gets full points and the others none, alike."""
    problems = []
    for kind, (shown, graded, maximum, line) in result.items():
        want = maximum if kind == "right" else 0
        if not shown == graded == want:
            problems.append(f"{kind} answer: the notebook gives {shown}, grading gives {graded}, "
                            f"it should be {want} of {maximum} ({line})")
    return problems
