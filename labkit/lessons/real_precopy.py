"""Exercises of notebooks/03b-real-precopy.ipynb.

The lab exercise is checked on the learner's own real migration (its
outcome, its memory check, and what was changed); the others against QEMU's
rule and the calibrated QEMU-window model, never against a stored number.
"""
from __future__ import annotations

from ..exercises import NOT_ANSWERED, exercise, same_number

#: the run of the lesson's "does not converge" section; the exercise changes one thing
FAILING = dict(memory_mib=128, wss_mib=48, hot_mib=16, dirty_rate=8192, pattern="seq", mode="sleep",
               max_bandwidth_mibps=24, downtime_limit_ms=100, auto_converge=False, timeout_s=6.0)


@exercise("03b.threshold", "the pending size below which QEMU tries to switch over", world=None, points=1,
          hints=(
              "QEMU compares what is still pending with bandwidth × downtime-limit.",
              "Mind the units: the bandwidth is in MiB per second, downtime-limit in milliseconds.",
          ))
def threshold(answer, session):
    return same_number(answer, 48 * 250 / 1000, rel=0.01)


@exercise("03b.converge", "the failing run, changed once, converges with nothing lost", world=None, points=3,
          hints=(
              "Start from settings = dict(rm_failing); change one value; run rm.migrate(**settings).",
              "The guest writes 8192 pages/s = 32 MiB/s. What must the link carry to get ahead of it?",
              ("Keep auto_converge False. The setting that can put the link ahead of the guest's writes is "
               "max_bandwidth_mibps; pick its value, run it, and answer with the run rm.migrate returned."),
          ))
def converge(answer, session):
    from ..realmigration import RealMigration

    if not isinstance(answer, RealMigration):
        return "answer with the run that rm.migrate(...) returned"
    changed = sorted(k for k, v in FAILING.items() if answer.settings.get(k) != v)
    if answer.settings.get("auto_converge"):
        return "this one is without auto-converge: the next section is about it"
    if len(changed) != 1:
        return f"change exactly one setting of the failing run (you changed {len(changed)}: {', '.join(changed)})"
    if answer["outcome"] != "completed":
        return f"that run did not complete ({answer['outcome']})"
    if answer["pages_differ"] != 0 or not answer["guest_runs"]:
        return "the memory check did not pass on that run; run it again with verify=True"
    return True


@exercise("03b.downtime", "why the downtime is far below expected-downtime", world=None, points=1, hints=(
    "expected-downtime divides what was dirty at the last bitmap read by the bandwidth QEMU measured under "
    "max-bandwidth.",
    "Compare how fast the last few MiB went with max-bandwidth.",
))
def downtime(answer, session):
    # a: the guest stops writing, b: the final copy is not rate limited, c: pages are compressed,
    # d: the destination was paused
    if not isinstance(answer, str):
        return "answer with one letter, such as 'a'"
    return answer.strip().lower() == "b"


@exercise("03b.min-bandwidth", "the smallest max-bandwidth the model says converges", world=None, points=2,
          hints=(
              "rm.predict(settings) runs the calibrated QEMU-window model; its ['outcome'] says 'completed' or not.",
              ("Try whole values of max_bandwidth_mibps in a copy of rm_failing, from low to high, until the "
               "model's outcome is 'completed'."),
          ))
def min_bandwidth(answer, session):
    from ..realmigration import predict

    if answer is None or answer is Ellipsis:
        return NOT_ANSWERED
    truth = next(b for b in range(1, 400) if predict(dict(FAILING, max_bandwidth_mibps=b))["outcome"] == "completed")
    return same_number(answer, truth, rel=0, abs_tol=0.5)
