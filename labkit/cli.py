"""The ``labkit`` command.

    labkit sim build [--force]        compile the lab simulator (cached by source hash)
    labkit sim start [--scenario NAME] [--time-scale N] [-- FLAGS...]
                                      start it in the background, or reuse the running one
    labkit sim status | stop | url | env
    labkit inventory [vms|hosts|clusters|datastores|networks]
    labkit scenarios [--check FILE]   the lab scenarios, and what each teaches
    labkit lab [--instructor]         JupyterLab on your workspace of student copies (or on the sources)
    labkit workspace [--workspace DIR] release the lessons into your workspace, or bring in course updates
    labkit release SOURCE... [-o DIR] student copies of instructor notebooks
    labkit grade SUBMISSION|FOLDER... [--source NB] [-o DIR] [-j N]   gradebook.csv, feedback/, summary.html
    labkit check NOTEBOOK             a learner's self-check before submitting
    labkit audit [URL] [-o DIR] [--cafile F] [--insecure] [--user U] [--vcenter-pairs N]
                                      a vCenter's vMotion readiness, read only: report.html, verdicts.csv, findings.json
    labkit capture [URL] [-o FILE] [--no-anonymise]
                                      a vCenter's inventory as a lab scenario (names, addresses and UUIDs pseudonymised)
    labkit qemu build [--force]       the real-migration lab guest (kernel, initramfs; cached)
    labkit qemu migrate [--rate N] [--bandwidth MIB/S] [--downtime-limit MS] [--auto-converge] ...
                                      migrate a live QEMU guest on loopback and report it
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
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
    if a.scenario is not None and not a.scenario.strip():
        raise LabkitError("--scenario is empty.", fix="name a scenario (labkit scenarios lists them), or leave "
                          "--scenario out for the generated inventory")
    if a.scenario:  # a wrong name is refused whether or not a simulator runs
        from . import scenarios

        scenarios.compile(a.scenario)
    if a.vcsim:  # checked whether or not a simulator runs, as the scenario is
        from .sim import process

        process.resolve_binary(a.vcsim)
    if a.time_scale is not None:
        if not 0.001 <= a.time_scale <= 1e6:
            raise LabkitError(f"--time-scale {a.time_scale:g} is out of range.",
                              fix="give simulated seconds per real second, from 0.001 to 1000000 (60: a minute a second)")
        a.flags = ["-time-scale", f"{a.time_scale:g}", *a.flags]
    before = sim.status()
    s = sim.start(a.flags, scenario=a.scenario, binary=a.vcsim)
    reused = before.running and before.sim.pid == s.pid
    world = f"scenario {s.scenario}" if s.scenario else "generated inventory"
    # a simulator that serves another world than the one asked for is not a success: `labkit sim start --scenario X
    # && govc ...` would run against the wrong world. It is left running, untouched.
    extra = a.flags[2:] if a.time_scale is not None else a.flags  # what followed --
    asked = " ".join(["labkit sim start", *(["--scenario", a.scenario] if a.scenario else []),
                      *(["--time-scale", f"{a.time_scale:g}"] if a.time_scale is not None else []),
                      *(["--", *extra] if extra else [])])
    if reused and a.scenario and a.scenario != s.scenario:
        raise LabkitError(f"The lab simulator already serves {world} (pid {s.pid}), not {a.scenario}; it was left "
                          "running.", fix=f"labkit sim stop, then {asked}")
    if reused and a.flags and a.flags != s.args:
        raise LabkitError(f"The lab simulator already runs with {s.args or 'default flags'} (pid {s.pid}), not "
                          f"{a.flags}; it was left running.", fix=f"labkit sim stop, then {asked}")
    print(f"{'already running' if reused else 'started'}: pid {s.pid}, {s.url} (user {s.username}, {world})")
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
        hosts, vms = scenarios.counts(scenarios.compile(a.check))
        print(f"ok: {a.check} ({hosts:,} hosts, {vms:,} VMs)")
        return 0
    for s in scenarios.describe():
        print(f"{s['name']}: {s['title']}")
        print(textwrap.fill(s["teaches"], width=96, initial_indent="    ", subsequent_indent="    "))
    return 0


def _output_folder(path: str, option: str = "-o") -> Path:
    """A folder results go to: refused, before any work, when it is a file or cannot be made or written."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise LabkitError(f"{out} is a file, not a folder for the results.", fix=f"give {option} a folder")
    parent = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise LabkitError(f"{out} cannot be written here ({parent} is not a writable folder).",
                          fix=f"give {option} a folder you can write")
    return out


def _vcenter_options(p: argparse.ArgumentParser) -> None:
    """The options of a command that reads a vCenter, as labkit.connect takes them."""
    p.add_argument("url", nargs="?", default=None,
                   help="the vCenter (https://vcenter.example.com/sdk, or user:password@host); default: $GOVC_URL")
    p.add_argument("--user", default=None, help="user name (default: the URL's, else $GOVC_USERNAME)")
    p.add_argument("--cafile", default=None,
                   help="the CA certificate(s) that signed the vCenter's certificate (default: $GOVC_TLS_CA_CERTS)")
    p.add_argument("--insecure", action="store_true", default=None,
                   help="do not verify the vCenter's TLS certificate (default: $GOVC_INSECURE)")


def _vcenter_session(a):
    """A read-only session on the vCenter the command names: its URL, else govc's variables (GOVC_URL, ...).

    The password comes from the URL, else $GOVC_PASSWORD, else (at a terminal) a prompt; it is never stored or
    printed. TLS is verified unless --insecure or GOVC_INSECURE says otherwise; --cafile or GOVC_TLS_CA_CERTS
    names the CA. Errors name the option that fixes them."""
    from urllib.parse import urlsplit

    from . import connect
    from .endpoint import MalformedURL
    from .errors import InvalidLogin, SimulatorNotRunning, UntrustedCertificate

    url = a.url or os.environ.get("GOVC_URL")
    if not url:
        raise MalformedURL("No vCenter given.",
                           fix=f"labkit {a.command} https://vcenter.example.com/sdk, or set GOVC_URL")
    try:
        given = urlsplit(url if "://" in url else f"https://{url}").password
    except ValueError:
        given = None
    password = None if given is not None else os.environ.get("GOVC_PASSWORD") or None
    if given is None and password is None and sys.stdin.isatty():
        import getpass

        password = getpass.getpass("vCenter password: ")
    insecure = a.insecure or os.environ.get("GOVC_INSECURE", "").lower() in ("1", "true", "yes") or None
    cafile = a.cafile or os.environ.get("GOVC_TLS_CA_CERTS") or None
    try:
        return connect(url, user=a.user or (None if "@" in url.split("//")[-1].split("/")[0]
                                            else os.environ.get("GOVC_USERNAME")),
                       password=password, insecure=insecure, cafile=cafile, lab=False)
    except InvalidLogin as e:
        e.fix = ("check the user and password: in the URL (https://user:password@vcenter/sdk), --user, or "
                 "GOVC_USERNAME and GOVC_PASSWORD")
        raise
    except UntrustedCertificate as e:
        if "key too weak" in str(e):  # OpenSSL refuses the key itself: no CA file can make it trusted
            e.fix = ("replace the vCenter's certificate with one of a stronger key (RSA 2048 bits or more); or, "
                     "accepting the risk, --insecure")
        else:
            e.fix = ("trust the CA that signed it with --cafile vcenter-ca.pem or GOVC_TLS_CA_CERTS (the vCenter start "
                     "page offers it: https://<vcenter>/certs/download.zip); or, accepting the risk, --insecure")
        raise
    except SimulatorNotRunning as e:
        e.fix = "give the address it answers at (labkit sim url), or start it: labkit sim start"
        raise


def _capture(a) -> int:
    from . import capture

    target = Path(a.output)
    if target.is_dir() or a.output.endswith(("/", os.sep)):
        raise LabkitError(f"{a.output} is a folder.", fix="give -o the path of the scenario file to write (.yaml)")
    _output_folder(str(target.parent or Path(".")), "-o")
    mapping = Path(a.mapping) if a.mapping else capture.mapping_path(target)
    earlier = capture.load_mapping(mapping) if a.anonymise else None  # keeps the pseudonyms of a capture before
    with _vcenter_session(a) as session:
        result = capture.capture(session, anonymise=a.anonymise, earlier_mapping=earlier,
                                 progress=sys.stderr.isatty())  # a bar at a terminal; nothing in a log
    written = capture.write(result, target, mapping=mapping)
    for line in written:
        print(line)
    return 0


def _audit(a) -> int:
    """A vCenter's vMotion readiness, read only: report.html, verdicts.csv and findings.json in the folder."""
    from . import audit

    out = _output_folder(a.output)
    with _vcenter_session(a) as session:  # progress bars at a terminal; a log or a pipe gets the lines below
        result = audit.run(session, out, progress=sys.stderr.isatty(),
                           vcenter_pairs=audit.BUDGET if a.vcenter_pairs is None else a.vcenter_pairs)
    for refused in result.refusals:  # the audit went on without it: said, one line each
        print(f"labkit audit: {refused.line()}", file=sys.stderr)
    for line in result.lines():
        print(line)
    for path in result.files.values():
        print(f"written: {path}")
    return 0


def _release(a) -> int:
    from . import authoring

    out = _output_folder(a.output)
    for src in a.sources:
        if not Path(src).is_file():
            raise LabkitError(f"{src}: no such notebook.", fix="give the path of a lesson source (.ipynb)")
        authoring.check_release_target(Path(src), out)  # its own source, or edits, would be lost: refused first
    for src in a.sources:
        target = authoring.release(Path(src), out, execute=not a.no_execute)
        print(f"released: {target}")
    from . import workspace

    for folder in sorted({Path(src).resolve().parent for src in a.sources}):
        for page in workspace.pages(folder, linked_only=True):  # the glossary and the sources the copies link to
            shutil.copyfile(page, out / page.name)
            print(f"copied: {out / page.name}")
    return 0


def _grade(a) -> int:
    from . import gradebook, grading, sandbox

    out = _output_folder(a.output)
    submissions = [Path(p) for p in a.submissions]  # notebook files, or students' folders
    missing = [str(p) for p in submissions if not p.exists()]
    if missing:
        raise LabkitError(f"No such submission file or folder: {', '.join(missing)}.",
                          fix="give the students' notebooks or their folders (labkit grade submitted/*)")
    if a.source:
        source = Path(a.source)
        if not source.is_file():
            raise LabkitError(f"No such source notebook: {source}.", fix="check the path given to --source")
    else:
        found = grading.lesson_notebook(submissions)
        if found is None and not submissions[0].is_file():
            raise LabkitError("No notebook in these folders says which lesson it is.",
                              fix="pass --source path/to/source.ipynb")
        source = _source_for(found or submissions[0])
    from . import authoring

    try:
        gradebook.earlier(out, authoring.validate(authoring.read(source), str(source)))  # another lesson's: refused
    except authoring.AuthoringError as e:
        raise LabkitError(f"{source} is not a lesson source: {e}", fix="pass --source a lesson's source notebook") from None
    roster = None
    if a.assignment is not None and not a.assignment.strip():
        raise LabkitError("--assignment is empty.", fix="give the assignment's name as the LMS shows it, or leave "
                          "--assignment out for the lesson's name")
    if (a.roster or a.assignment) and not a.export:
        raise LabkitError(f"{'--roster' if a.roster else '--assignment'} is for an LMS export.",
                          fix="add --export canvas or --export moodle")
    if a.export:
        from . import lms

        for kind in a.export:  # a name the LMS would not import is refused before any grading
            lms.check_assignment(kind, a.assignment or source.stem)
    if a.roster:
        from . import lms

        roster = lms.read_roster(Path(a.roster))  # a bad roster is refused before any grading
    names = grading.student_names(submissions, source.name)  # two students of one name: refused before grading
    if roster is not None:
        absent = [n for n in names.values() if n not in roster]
        if absent:
            raise LabkitError(f"The roster {a.roster} has no row for: {', '.join(sorted(absent))}.",
                              fix="add a row per student folder (column 'student') before grading")
    limits = None if a.no_sandbox else sandbox.Limits()
    grading.prepare(limits)  # refuses here, before any work, when no sandbox can be made
    print(f"grading {len(submissions)} submission(s) of {source.name} on {a.jobs or os.cpu_count()} worker(s)"
          + (", in a sandbox each" if limits else ""))
    if limits is None:
        print("warning: --no-sandbox: the students' code runs with your rights, unconfined", file=sys.stderr)

    def done(g):
        notes = gradebook.notes_text(g)
        print(f"  {g.student}: {g.total}/{g.maximum}{'  (' + notes + ')' if notes else ''}")

    grades = grading.grade(source, submissions, jobs=a.jobs, cell_timeout=a.cell_timeout, timeout=a.timeout,
                           progress=done, limits=limits)
    files = gradebook.write(grades, out)
    rates = gradebook.pass_rates(files["class"])  # of the whole gradebook, as the summary shows them
    print(f"pass rates ({len(files['class'])} students): " + ", ".join(f"{ex} {r:.0%}" for ex, r in rates.items()))
    print(f"gradebook: {files['gradebook']}\nfeedback:  {files['feedback']}/\nsummary:   {files['summary']}")
    if files["kept"]:
        print(f"kept from the gradebook already there (not graded now): {', '.join(files['kept'])}")
    if a.export:
        from . import lms

        for kind in dict.fromkeys(a.export):
            path = lms.write(grades, out, kind, a.assignment or source.stem, roster)
            print(f"{kind}:{' ' * (10 - len(kind))}{path}")
        left = lms.roster_only(grades, roster) if roster else []
        if left:
            print(f"not in the export (in the roster, not graded): {', '.join(left)}")
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
    """A learner's self-check: the grade ``labkit grade`` gives, against the lesson's source when it is here."""
    from . import grading

    nb = Path(a.notebook)
    if nb.is_dir():
        lessons = sorted(p.name for p in nb.glob("[0-9][0-9]*-*.ipynb"))
        raise LabkitError(f"{nb} is a folder; labkit check checks one notebook.",
                          fix=f"labkit check {nb / lessons[0]}" if lessons else "give the path of your lesson notebook")
    if not nb.is_file():
        raise LabkitError(f"No such notebook: {nb}.", fix="give the path of your lesson notebook")
    if _holds_solutions(nb):  # a lesson's source: its solutions would pass every exercise for a learner
        raise LabkitError(f"{nb} is the course's source of the lesson, with its solutions, not your copy.",
                          fix=f"labkit check ~/vmotion-labs/{nb.name} (your copy, in your workspace)")
    try:
        source = _source_for(nb)
    except LabkitError:
        source = nb  # no source here (a learner's own machine): the notebook's own locked cells
    g = grading.grade_one(source, nb, nb.stem, cell_timeout=a.cell_timeout, timeout=a.timeout)
    for ex in g.max_points:
        verdict = "correct" if g.points[ex] == g.max_points[ex] else g.messages[ex]
        print(f"{ex}: {g.points[ex]}/{g.max_points[ex]}  {verdict}")
    for note in g.notes:
        print(f"note: {note}")
    print(f"total: {g.total}/{g.maximum}")
    return 0


def _holds_solutions(path: Path) -> bool:
    """Does the notebook still carry the solution markers of a lesson source (cheap: its text only)?"""
    from . import authoring

    try:
        return authoring.SOLUTION[0] in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _workspace(a) -> int:
    from . import workspace

    root = Path(a.workspace).expanduser() if a.workspace else workspace.default_path()
    if a.notebooks and not Path(a.notebooks).is_dir():
        raise LabkitError(f"No lessons at {a.notebooks}.", fix="check the path given to --notebooks")
    changes = workspace.sync(root, Path(a.notebooks) if a.notebooks else None)
    print(f"workspace: {root}")
    for c in changes:
        print(f"  {c.line}")
    if not changes:
        print("  up to date with the course")
    return 0


def _inventory(a) -> int:
    import pandas as pd

    from . import connect, inventory

    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    running = sim.status().running
    shared = sim.start()  # the terminal's simulator (labkit sim start), not a notebook's own world
    if not running:  # said, not silent: it keeps running for the next command, as labkit sim start's does
        print(f"labkit inventory: started the lab simulator (generated inventory, pid {shared.pid}); "
              "labkit sim stop ends it", file=sys.stderr)
    with connect(shared.url, user=shared.username, password=shared.password) as session:
        print(getattr(inventory, a.table)(session).to_string(index=False))
    return 0


def _lab(a) -> int:
    from . import workspace

    sources = Path(a.notebooks).resolve() if a.notebooks else workspace.sources()
    if not sources.is_dir():
        raise LabkitError(f"No lessons at {sources}.", fix="run labkit lab from the course's folder, or pass --notebooks")
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise LabkitError("JupyterLab is not installed in this environment.", fix="pip install vmotion-labs")
    from . import doctor, labserver, scenarios

    if not a.scenario.strip():
        raise LabkitError("--scenario is empty.", fix="name a scenario (labkit scenarios lists them), or leave "
                          "--scenario out for healthy-cluster")
    scenarios.compile(a.scenario)  # a wrong name is refused before the workspace is written or anything starts
    # before the simulator starts: a second labkit lab must neither serve elsewhere nor stop the first one's simulator
    running = labserver.running(a.port)
    if running is not None:
        print(f"the lab is already running here (pid {running.pid}): open {running.url}")
        return 0
    port = doctor.jupyterlab_port(a.port, a.ip or "0.0.0.0")
    if not port.ok and port.detail.startswith("cannot be used on"):  # the address, not the port, is wrong
        raise LabkitError(f"--ip {a.ip}: JupyterLab {port.detail.replace('cannot be used', 'cannot listen')}.",
                          fix="--ip 127.0.0.1 (this machine only) or --ip 0.0.0.0 (every address it has)")
    if not port.ok:
        raise LabkitError(f"Port {a.port} is {port.detail}.", fix=port.fix)
    sim.build()  # each lesson's kernel starts its own lab worlds from this build (labkit.sim.worlds)
    if a.instructor:
        folder = sources
        print(f"instructor sources: {folder} (with the solutions)")
    else:
        folder = Path(a.workspace).expanduser().resolve() if a.workspace else workspace.default_path()
        changes = workspace.sync(folder, sources)
        print(f"your workspace: {folder}")
        for c in changes:
            print(f"  {c.line}")
    first = workspace.first_lesson(folder)
    page = f"/lab/tree/{first}" if first else "/lab"
    cmd = labserver.command(folder, a.ip, a.port, default_url=page if first else None, no_browser=a.no_browser)
    token = os.environ.get("LABKIT_LAB_TOKEN") or secrets.token_hex(24)
    host = "127.0.0.1" if a.ip in ("0.0.0.0", "") else a.ip
    print(f"JupyterLab: http://{host}:{a.port}{page}?token={token}", flush=True)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)  # also when started from a shell that ignores SIGINT
    signal.signal(signal.SIGTERM, interrupt)
    # the token goes by environment, not on the command line where ps shows it
    server = subprocess.Popen(cmd, start_new_session=True,  # Ctrl-C reaches labkit, which shuts down both
                              env={**labserver.environment(token), "LABKIT_SCENARIO": a.scenario})
    try:
        labserver.record(a.port, server.pid, a.ip, page)  # how labkit doctor knows the lab on this port
        return server.wait()
    except KeyboardInterrupt:  # Ctrl-C is how a learner ends the lab: a clean stop is a success (exit 0)
        server.terminate()  # JupyterLab shuts its kernels down cleanly on SIGTERM
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            print("labkit lab: JupyterLab did not stop within 30 s after SIGTERM; killed it", file=sys.stderr)
            return 1
        return 0
    finally:
        labserver.forget(a.port)
        print("JupyterLab stopped, and with its kernels their lab worlds")


def _doctor(a) -> int:
    from . import doctor

    checks = doctor.run(a.port)
    for c in checks:
        print(c.line)
    print(doctor.summary(checks, a.port))
    return 0 if all(c.ok for c in checks) else 1


def _qemu_build(a) -> int:
    from . import realmigration

    guest = realmigration.build(force=a.force)
    print(f"ready: {guest.describe()}")
    return 0


#: realmigration.migrate()'s arguments, as `labkit qemu migrate` names them
QEMU_OPTIONS = {"memory_mib": "--memory", "wss_mib": "--wss", "hot_mib": "--hot", "dirty_rate": "--rate",
                "max_bandwidth_mibps": "--bandwidth", "downtime_limit_ms": "--downtime-limit", "timeout_s": "--timeout",
                "pattern": "--pattern", "mode": "--mode"}


def _qemu_migrate(a) -> int:
    from . import realmigration

    def progress(samples):
        last = samples.iloc[-1]
        print(f"\r{last['t_s']:6.1f} s  {last['status']:<10} sync {last['dirty_sync_count']:>3}  "
              f"{last['transferred_mib']:8.1f} MiB sent  {last['remaining_mib']:7.1f} MiB left  "
              f"throttle {last['throttle_pct']:>2.0f} %", end="", flush=True)

    received = [signal.SIGINT]

    def interrupt(signum, frame):
        received[0] = signum
        raise KeyboardInterrupt

    # a closed terminal (SIGHUP) or a kill (SIGTERM) ends the run as Ctrl-C does: the migration's own clean-up
    # stops both QEMU guests and removes its work folder (by default, either signal ended labkit alone)
    before = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        run = realmigration.migrate(
            on_sample=None if a.quiet else progress, memory_mib=a.memory, wss_mib=a.wss, hot_mib=a.hot,
            dirty_rate=a.rate, pattern=a.pattern, mode=a.mode, max_bandwidth_mibps=a.bandwidth,
            downtime_limit_ms=a.downtime_limit, auto_converge=a.auto_converge, timeout_s=a.timeout,
            verify=not a.no_verify)
    except KeyboardInterrupt:  # said, not silent; the exit code is the shell's for that signal (130 for Ctrl-C)
        name = signal.Signals(received[0]).name
        print(f"\nlabkit qemu migrate: stopped by {name}; both QEMU guests were stopped and the work folder removed",
              file=sys.stderr)
        return 128 + received[0]
    except LabkitError as e:  # the library names its arguments; here they are options
        text = str(e)
        for arg, option in QEMU_OPTIONS.items():
            text = re.sub(rf"\b{arg}\b", option, text)
        raise LabkitError(text.rstrip(), fix=None if "Fix:" in text else "labkit qemu migrate --help") from None
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if not a.quiet:
        print()
    print(run.guest.describe())
    print(run)
    return 0 if run["outcome"] == "completed" and run["pages_differ"] in (0, None) else 1


def _port(text: str) -> int:
    """argparse type: a TCP port, 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1 to 65535)")
    return port


def _whole(text: str, minimum: int) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < minimum:
        raise argparse.ArgumentTypeError(f"{n} is not at least {minimum}")
    return n


def _count(text: str) -> int:
    """argparse type: a whole number of at least 0 (pairs)."""
    return _whole(text, 0)


def _positive(text: str) -> int:
    """argparse type: a whole number of at least 1 (seconds, workers)."""
    return _whole(text, 1)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line: what is wrong, and where the help is."""

    def error(self, message: str):
        env = os.environ.get("LABKIT_LAB_PORT")
        if env is not None and message.startswith("argument --port:") and (f" {env} " in message or f"'{env}'" in message):
            message += " (it comes from LABKIT_LAB_PORT)"
        self.exit(2, f"{self.prog}: {message}. Fix: {self.prog} --help\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="labkit", description="vMotion Labs: the lab simulator and helpers.")
    sub = p.add_subparsers(dest="command", required=True)

    ps = sub.add_parser("sim", help="build and run the lab simulator").add_subparsers(dest="action", required=True)
    b = ps.add_parser("build", help="compile the simulator once (cached by a hash of its source)")
    b.add_argument("--force", action="store_true", help="rebuild even if a cached binary exists")
    b.set_defaults(func=_sim_build)
    s = ps.add_parser("start", help="start in the background, or reuse the running simulator")
    s.add_argument("--scenario", metavar="NAME", help="serve a lab scenario (see: labkit scenarios)")
    s.add_argument("--vcsim", metavar="PATH", help="run this simulator program instead (an official vcsim)")
    s.add_argument("--time-scale", type=float, metavar="N", default=None,
                   help="lab time runs N times faster than real time (default: the scenario's timeScale, else 50)")
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

    ws = sub.add_parser("workspace", help="release the lessons into your workspace, or bring in course updates")
    ws.add_argument("--workspace", "--path", dest="workspace",
                    help="the workspace folder (default: $LABKIT_WORKSPACE, else ~/vmotion-labs)")
    ws.add_argument("--notebooks", help="the course's lesson sources (default: the course's notebooks/)")
    ws.set_defaults(func=_workspace)

    rel = sub.add_parser("release", help="write student copies of instructor notebooks")
    rel.add_argument("sources", nargs="+", help="instructor source notebooks")
    rel.add_argument("-o", "--output", default="release", help="folder for the student copies (default: release)")
    rel.add_argument("--no-execute", action="store_true", help="do not run the copies to record their outputs")
    rel.set_defaults(func=_release)

    gr = sub.add_parser("grade", help="grade submissions: gradebook CSV, feedback files, summary")
    gr.add_argument("submissions", nargs="+",
                    help="submitted notebooks, or students' folders (each holding the lesson's notebook; "
                         "a folder without it gets 0 points, 'missing notebook')")
    gr.add_argument("--source", help="the instructor source notebook (default: found from the lesson name)")
    gr.add_argument("-o", "--output", default="graded", help="folder for the results (default: graded)")
    gr.add_argument("-j", "--jobs", type=_positive, default=None, help="submissions graded at once (default: cores)")
    gr.add_argument("--cell-timeout", type=_positive, default=60, help="seconds per cell (default: 60)")
    gr.add_argument("--timeout", type=_positive, default=300, help="seconds per notebook (default: 300)")
    gr.add_argument("--export", choices=("canvas", "moodle"), action="append", default=[],
                    help="also write the grades as the CSV file that LMS imports (canvas.csv, moodle.csv); repeatable")
    gr.add_argument("--assignment", default=None,
                    help="the Canvas assignment or Moodle grade item the export fills (default: the lesson's name)")
    gr.add_argument("--roster", default=None,
                    help="CSV mapping each student folder to LMS identities (column 'student', then e.g. "
                         "sis_login_id, email); see docs/instructor-guide.md")
    gr.add_argument("--no-sandbox", action="store_true",
                    help="grade without the bubblewrap sandbox: each student's code runs with your rights "
                         "(every row of the gradebook says so)")
    gr.set_defaults(func=_grade)

    ck = sub.add_parser("check", help="self-check a notebook's exercises before you submit it")
    ck.add_argument("notebook")
    ck.add_argument("--cell-timeout", type=_positive, default=60)
    ck.add_argument("--timeout", type=_positive, default=300)
    ck.set_defaults(func=_check)

    cap = sub.add_parser("capture", help="read a vCenter's inventory into a lab scenario file (read only; "
                                         "anonymised unless --no-anonymise)")
    _vcenter_options(cap)
    cap.add_argument("-o", "--output", default="captured.yaml", help="the scenario file (default: captured.yaml)")
    cap.add_argument("--anonymise", "--anonymize", dest="anonymise", action="store_true", default=True,
                     help="replace every name, address, MAC and UUID by a stable pseudonym (the default)")
    cap.add_argument("--no-anonymise", "--no-anonymize", dest="anonymise", action="store_false",
                     help="keep the real names (the file then describes your estate: keep it private)")
    cap.add_argument("--mapping", default=None,
                     help="where the pseudonym -> real name mapping goes (default: beside the scenario, "
                          "NAME.mapping.json; keep it local)")
    cap.set_defaults(func=_capture)

    au = sub.add_parser("audit", help="a vCenter's vMotion readiness, read only: report.html, verdicts.csv and "
                                      "findings.json")
    _vcenter_options(au)
    au.add_argument("-o", "--output", default="audit-report", help="the report folder (default: audit-report)")
    au.add_argument("--vcenter-pairs", type=_count, default=None, metavar="N",
                    help="VM x host pairs to ask vCenter's own check about (QueryVMotionCompatibilityEx_Task): all "
                         "of them up to N, else a sample of N; 0: none (default: 5000)")
    au.set_defaults(func=_audit)

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
    doc.add_argument("--port", default=os.environ.get("LABKIT_LAB_PORT", "8888"), type=_port,
                     help="the port JupyterLab will use (default 8888)")
    doc.set_defaults(func=_doctor)

    lab = sub.add_parser("lab", help="JupyterLab on your workspace of the lessons (student copies)")
    lab.add_argument("--workspace", help="your workspace folder (default: $LABKIT_WORKSPACE, else ~/vmotion-labs)")
    lab.add_argument("--instructor", action="store_true",
                     help="open the instructor sources (with the solutions) instead of a workspace")
    lab.add_argument("--notebooks", help="the course's lesson sources (default: the course's notebooks/)")
    lab.add_argument("--scenario", default="healthy-cluster",
                     help="the lab scenario a notebook gets from labkit.connect() with no scenario (the lessons "
                          "name their own)")
    lab.add_argument("--ip", default="127.0.0.1", help="the address JupyterLab listens on (default: 127.0.0.1)")
    lab.add_argument("--port", default=os.environ.get("LABKIT_LAB_PORT", "8888"), type=_port,
                     help="JupyterLab's port (default: $LABKIT_LAB_PORT, else 8888)")
    lab.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    lab.set_defaults(func=_lab)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "flags", None) and args.flags[0] == "--":
        args.flags = args.flags[1:]
    received = [signal.SIGINT]
    before = _end_on_signals(received)
    try:
        return args.func(args)
    except LabkitError as e:
        print(f"labkit: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # what each command started has been stopped on the way out (its finally blocks)
        print(f"labkit {args.command}: stopped by {signal.Signals(received[0]).name}", file=sys.stderr)
        return 128 + received[0]
    except BrokenPipeError:  # output piped into head and the like
        return 0
    except Exception as e:  # noqa: BLE001 - no traceback reaches a user: one line, the details in a log
        print(f"labkit: {_unexpected(e, argv if argv is not None else sys.argv[1:])}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _end_on_signals(received: list[int]) -> dict:
    """A kill (SIGTERM) or a closed terminal (SIGHUP) ends a command as Ctrl-C does: KeyboardInterrupt, so that
    what it started (a grading run's kernel, QEMU guests, JupyterLab) is stopped by its clean-up, where by default
    labkit would die alone. The signal goes in ``received``; returns the handlers to put back (none outside the
    main thread, where Python cannot set them)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupt(signum, frame):
        received[0] = signum
        raise KeyboardInterrupt

    return {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}


def _unexpected(e: Exception, argv: list[str]) -> str:
    """One line for an error labkit did not foresee; its traceback goes to a log file the line names."""
    from . import errorlog

    return errorlog.line(e, errorlog.write(e, "labkit " + " ".join(argv)))


if __name__ == "__main__":
    sys.exit(main())
