"""The ``labkit`` command.

    labkit sim build [--force]        compile the lab simulator (cached by source hash)
    labkit sim start [--scenario NAME] [-- FLAGS...]
                                      start it in the background, or reuse the running one
    labkit sim status | stop | url | env
    labkit inventory [vms|hosts|clusters|datastores|networks]
    labkit scenarios [--check FILE]   the lab scenarios, and what each teaches
    labkit lab [--scenario NAME]      the lab simulator plus JupyterLab on the curriculum
    labkit release SOURCE... [-o DIR] student copies of instructor notebooks
    labkit grade SUBMISSION... [-o DIR] [-j N]   gradebook, feedback files, summary
    labkit check NOTEBOOK             a learner's self-check before submitting
    labkit qemu build [--force]       the real-migration lab guest (kernel, initramfs; cached)
    labkit qemu migrate [--rate N] [--bandwidth MIB/S] [--downtime-limit MS] [--auto-converge] ...
                                      migrate a live QEMU guest on loopback and report it
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from . import sim
from .errors import LabkitError

STATUS_EXIT = {"running": 0, "stopped": 3, "dead": 4, "unreachable": 5}


def _sim_build(a) -> int:
    binary, built = sim.build(force=a.force)
    print(f"{'built' if built else 'up to date'}: {binary}")
    return 0


def _sim_start(a) -> int:
    before = sim.status()
    s = sim.start(a.flags, scenario=a.scenario, binary=a.vcsim)
    reused = before.running and before.sim.pid == s.pid
    world = f"scenario {s.scenario}" if s.scenario else "generated inventory"
    print(f"{'already running' if reused else 'started'}: pid {s.pid}, {s.url} (user {s.username}, {world})")
    if reused and a.scenario and a.scenario != s.scenario:
        print(f"note: it serves {world}; to serve {a.scenario}, run labkit sim stop first")
    elif reused and a.flags and a.flags != s.args:
        print(f"note: it runs with {s.args or 'default flags'}; to use {a.flags}, run labkit sim stop first")
    return 0


def _sim_stop(a) -> int:
    before = sim.stop()
    if before.sim is None:
        print("stopped: no lab simulator was running")
    elif before.state == "dead":
        print(f"cleaned up: pid {before.sim.pid} had already died")
    else:
        print(f"stopped: pid {before.sim.pid}")
    return 0


def _sim_status(a) -> int:
    st = sim.status()
    print(st.describe())
    return STATUS_EXIT[st.state]


def _with_credentials(s) -> str:
    from urllib.parse import quote
    scheme, rest = s.url.split("://", 1)
    return f"{scheme}://{quote(s.username, safe='')}:{quote(s.password, safe='')}@{rest}"


def _sim_url(a) -> int:
    st = sim.status()
    if not st.running:
        raise LabkitError(st.describe())
    print(_with_credentials(st.sim) if a.with_credentials else st.sim.url)
    return 0


def _sim_env(a) -> int:
    st = sim.status()
    if not st.running:
        raise LabkitError(st.describe())
    # For govc: eval "$(labkit sim env)". The lab simulator's certificate is self-signed.
    print(f"export GOVC_URL='{_with_credentials(st.sim)}' GOVC_INSECURE=1")
    return 0


def _scenarios(a) -> int:
    import textwrap

    from . import scenarios

    if a.check:
        doc = scenarios.compile(a.check)
        print(f"ok: {a.check} ({len(doc['hosts'])} hosts, {len(doc['vms'])} VMs)")
        return 0
    for s in scenarios.describe():
        print(f"{s['name']}: {s['title']}")
        print(textwrap.fill(s["teaches"], width=96, initial_indent="    ", subsequent_indent="    "))
    return 0


def _release(a) -> int:
    from . import authoring

    out = Path(a.output)
    for src in a.sources:
        target = authoring.release(Path(src), out, execute=not a.no_execute)
        print(f"released: {target}")
    return 0


def _grade(a) -> int:
    from . import gradebook, grading

    submissions = [Path(p) for p in a.submissions]
    missing = [str(p) for p in submissions if not p.is_file()]
    if missing:
        raise LabkitError(f"No such submission file: {', '.join(missing)}.")
    source = Path(a.source) if a.source else _source_for(submissions[0])
    print(f"grading {len(submissions)} submission(s) of {source.name} on {a.jobs or os.cpu_count()} worker(s)")

    def done(g):
        print(f"  {g.student}: {g.total}/{g.maximum}{'  (' + '; '.join(g.notes) + ')' if g.notes else ''}")

    grades = grading.grade(source, submissions, jobs=a.jobs, cell_timeout=a.cell_timeout, timeout=a.timeout,
                           progress=done)
    files = gradebook.write(grades, Path(a.output))
    rates = gradebook.pass_rates(grades)
    print("pass rates: " + ", ".join(f"{ex} {r:.0%}" for ex, r in rates.items()))
    print(f"gradebook: {files['gradebook']}\nfeedback:  {files['feedback']}/\nsummary:   {files['summary']}")
    return 0


def _source_for(submission: Path) -> Path:
    from . import authoring, datasets

    lesson = authoring.read(submission).metadata.get("labkit", {}).get("lesson")
    if not lesson:
        raise LabkitError(f"{submission} does not say which lesson it is.", fix="pass --source path/to/source.ipynb")
    candidate = datasets.root().parent / "notebooks" / f"{lesson}.ipynb"
    if not candidate.exists():
        raise LabkitError(f"The source of lesson {lesson} was not found at {candidate}.", fix="pass --source")
    return candidate


def _check(a) -> int:
    """A learner's self-check: grade the notebook against itself."""
    from . import grading

    nb = Path(a.notebook)
    g = grading.grade_one(nb, nb, nb.stem, cell_timeout=a.cell_timeout, timeout=a.timeout)
    for ex in g.max_points:
        verdict = "correct" if g.points[ex] == g.max_points[ex] else g.messages[ex]
        print(f"{ex}: {g.points[ex]}/{g.max_points[ex]}  {verdict}")
    for note in g.notes:
        print(f"note: {note}")
    print(f"total: {g.total}/{g.maximum}")
    return 0


def _inventory(a) -> int:
    import pandas as pd

    from . import connect, inventory

    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    with connect() as session:
        print(getattr(inventory, a.table)(session).to_string(index=False))
    return 0


def _lab(a) -> int:
    notebooks = Path(a.notebooks).resolve()
    if not notebooks.is_dir():
        raise LabkitError(f"No curriculum folder at {notebooks}.", fix="run labkit lab from the project folder, or pass --notebooks")
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise LabkitError("JupyterLab is not installed in this environment.", fix="pip install vmotion-labs")
    sim.build()
    s = sim.start(scenario=a.scenario)
    world = f"scenario {s.scenario}" if s.scenario else "generated inventory"
    print(f"lab simulator: {s.url} (pid {s.pid}, {world})")
    first = sorted(notebooks.glob("00-*.ipynb"))
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks}", f"--ServerApp.ip={a.ip}", f"--ServerApp.port={a.port}"]
    if a.no_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:  # containers and CI machines often run as root
        cmd.append("--allow-root")
    if first:
        cmd.append(f"--LabApp.default_url=/lab/tree/{first[0].name}")
    token = os.environ.get("LABKIT_LAB_TOKEN") or secrets.token_hex(24)
    host = "127.0.0.1" if a.ip in ("0.0.0.0", "") else a.ip
    page = f"/lab/tree/{first[0].name}" if first else "/lab"
    print(f"JupyterLab: http://{host}:{a.port}{page}?token={token}", flush=True)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)  # also when started from a shell that ignores SIGINT
    signal.signal(signal.SIGTERM, interrupt)
    # the token goes by environment, not on the command line where ps shows it
    server = subprocess.Popen(cmd, start_new_session=True,  # Ctrl-C reaches labkit, which shuts down both
                              env={**os.environ, "JUPYTER_TOKEN": token})
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()  # JupyterLab shuts its kernels down cleanly on SIGTERM
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        return 130
    finally:
        sim.stop()
        print("lab simulator stopped")


def _doctor(a) -> int:
    from . import doctor

    checks = doctor.run(a.port)
    for c in checks:
        print(c.line)
    bad = [c for c in checks if not c.ok]
    print("ready: make lab starts the course" if not bad else f"{len(bad)} thing(s) to fix, the commands above")
    return 1 if bad else 0


def _qemu_build(a) -> int:
    from . import realmigration

    guest = realmigration.build(force=a.force)
    print(f"ready: {guest.describe()}")
    return 0


def _qemu_migrate(a) -> int:
    from . import realmigration

    def progress(samples):
        last = samples.iloc[-1]
        print(f"\r{last['t_s']:6.1f} s  {last['status']:<10} sync {last['dirty_sync_count']:>3}  "
              f"{last['transferred_mib']:8.1f} MiB sent  {last['remaining_mib']:7.1f} MiB left  "
              f"throttle {last['throttle_pct']:>2.0f} %", end="", flush=True)

    run = realmigration.migrate(
        on_sample=None if a.quiet else progress, memory_mib=a.memory, wss_mib=a.wss, hot_mib=a.hot,
        dirty_rate=a.rate, pattern=a.pattern, mode=a.mode, max_bandwidth_mibps=a.bandwidth,
        downtime_limit_ms=a.downtime_limit, auto_converge=a.auto_converge, timeout_s=a.timeout,
        verify=not a.no_verify)
    if not a.quiet:
        print()
    print(run.guest.describe())
    print(run)
    return 0 if run["outcome"] == "completed" and run["pages_differ"] in (0, None) else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="labkit", description="vMotion Labs: the lab simulator and helpers.")
    sub = p.add_subparsers(dest="command", required=True)

    ps = sub.add_parser("sim", help="build and run the lab simulator").add_subparsers(dest="action", required=True)
    b = ps.add_parser("build", help="compile the simulator once (cached by a hash of its source)")
    b.add_argument("--force", action="store_true", help="rebuild even if a cached binary exists")
    b.set_defaults(func=_sim_build)
    s = ps.add_parser("start", help="start in the background, or reuse the running simulator")
    s.add_argument("--scenario", metavar="NAME", help="serve a lab scenario (see: labkit scenarios)")
    s.add_argument("--vcsim", metavar="PATH", help="run this simulator program instead (an official vcsim)")
    s.add_argument("flags", nargs=argparse.REMAINDER, help="simulator flags after --, e.g. -- -host 5 -vm 4")
    s.set_defaults(func=_sim_start)
    ps.add_parser("stop", help="stop the simulator").set_defaults(func=_sim_stop)
    ps.add_parser("status", help="running, stopped, dead or unreachable (exit 0 only when running)").set_defaults(
        func=_sim_status)
    u = ps.add_parser("url", help="the running simulator's SDK URL")
    u.add_argument("--with-credentials", action="store_true", help="include user and password (for govc)")
    u.set_defaults(func=_sim_url)
    ps.add_parser("env", help="shell exports for govc: eval \"$(labkit sim env)\"").set_defaults(func=_sim_env)

    sc = sub.add_parser("scenarios", help="list the lab scenarios and what each teaches")
    sc.add_argument("--check", metavar="FILE", help="check one scenario file and report its first problem")
    sc.set_defaults(func=_scenarios)

    inv = sub.add_parser("inventory", help="print an inventory table of the lab simulator")
    inv.add_argument("table", nargs="?", default="vms", choices=["vms", "hosts", "clusters", "datastores", "networks"])
    inv.set_defaults(func=_inventory)

    rel = sub.add_parser("release", help="write student copies of instructor notebooks")
    rel.add_argument("sources", nargs="+", help="instructor source notebooks")
    rel.add_argument("-o", "--output", default="release", help="folder for the student copies (default: release)")
    rel.add_argument("--no-execute", action="store_true", help="do not run the copies to record their outputs")
    rel.set_defaults(func=_release)

    gr = sub.add_parser("grade", help="grade submissions: gradebook CSV, feedback files, summary")
    gr.add_argument("submissions", nargs="+", help="submitted notebooks (one folder per student, or one file each)")
    gr.add_argument("--source", help="the instructor source notebook (default: found from the lesson name)")
    gr.add_argument("-o", "--output", default="graded", help="folder for the results (default: graded)")
    gr.add_argument("-j", "--jobs", type=int, default=None, help="submissions graded at once (default: cores)")
    gr.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (default: 60)")
    gr.add_argument("--timeout", type=int, default=300, help="seconds per notebook (default: 300)")
    gr.set_defaults(func=_grade)

    ck = sub.add_parser("check", help="self-check a notebook's exercises before you submit it")
    ck.add_argument("notebook")
    ck.add_argument("--cell-timeout", type=int, default=60)
    ck.add_argument("--timeout", type=int, default=300)
    ck.set_defaults(func=_check)

    pq = sub.add_parser("qemu", help="real pre-copy: a live QEMU guest migrated on loopback").add_subparsers(
        dest="action", required=True)
    qb = pq.add_parser("build", help="prepare the lab guest once: kernel, initramfs, accelerator probe")
    qb.add_argument("--force", action="store_true", help="rebuild even if a cached guest exists")
    qb.set_defaults(func=_qemu_build)
    qm = pq.add_parser("migrate", help="migrate a live guest from one QEMU to another and measure it")
    qm.add_argument("--memory", type=int, default=256, metavar="MIB", help="guest RAM (default 256)")
    qm.add_argument("--wss", type=int, default=64, metavar="MIB", help="working set made non-zero (default 64)")
    qm.add_argument("--hot", type=int, default=16, metavar="MIB", help="hot set rewritten for ever (default 16)")
    qm.add_argument("--rate", type=int, default=2560, metavar="PAGES/S", help="pages written per second")
    qm.add_argument("--pattern", choices=["seq", "random"], default="seq")
    qm.add_argument("--mode", choices=["sleep", "spin"], default="sleep",
                    help="spin: the rate follows the vCPU time, so auto-converge can slow it")
    qm.add_argument("--bandwidth", type=float, default=64, metavar="MIB/S", help="max-bandwidth (default 64)")
    qm.add_argument("--downtime-limit", type=int, default=300, metavar="MS", help="downtime-limit (default 300)")
    qm.add_argument("--auto-converge", action="store_true", help="turn on QEMU's auto-converge throttling")
    qm.add_argument("--timeout", type=float, default=60, metavar="S", help="cancel after this long (default 60)")
    qm.add_argument("--no-verify", action="store_true", help="skip the source/destination memory comparison")
    qm.add_argument("--quiet", action="store_true", help="no progress line")
    qm.set_defaults(func=_qemu_migrate)

    doc = sub.add_parser("doctor", help="what the lab needs on this machine, and the command that fixes each gap")
    doc.add_argument("--port", default=int(os.environ.get("LABKIT_LAB_PORT", "8888")), type=int,
                     help="the port JupyterLab will use (default 8888)")
    doc.set_defaults(func=_doctor)

    lab = sub.add_parser("lab", help="start the lab simulator and JupyterLab on the curriculum")
    lab.add_argument("--notebooks", default="notebooks", help="the curriculum folder (default: ./notebooks)")
    lab.add_argument("--scenario", default="healthy-cluster", help="the lab scenario to start with")
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--port", default=int(os.environ.get("LABKIT_LAB_PORT", "8888")), type=int)
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(func=_lab)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "flags", None) and args.flags[0] == "--":
        args.flags = args.flags[1:]
    try:
        return args.func(args)
    except LabkitError as e:
        print(f"labkit: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head and the like
        return 0


if __name__ == "__main__":
    sys.exit(main())
