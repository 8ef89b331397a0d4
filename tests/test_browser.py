"""Real-browser tests: every lesson run in JupyterLab by headless Debian chromium, driven by Playwright.

`labkit lab` serves the learner's workspace: the copies of the lessons it releases on its first start
(solutions removed, outputs kept up to the first exercise), in a folder of its own, so JupyterLab's autosave
never touches the committed notebooks. One page, as a learner keeps one browser tab, opens each lesson in
turn. Lessons 00 and 02 also play a learner's path (exercises answered right and wrong, a closed session), and
after all lessons the learner goes back to lesson 02's kernel. Each lesson is run once as a learner would, with
"Run All" (the kernel goes on past a cell tagged raises-exception), and awaited until the kernel has answered
every cell. The tests assert that no other cell errored and every cell ran, that every exercise check says it has no answer
yet, that plotly charts, ipywidgets controls and Mermaid diagrams render, and that moving a slider of the
memory convergence explorer redraws its chart (on lesson 03's own run). Every lesson's kernel stays open, as
in a learner's session, so that the last test can check that the lesson resets left no <defunct> simulator
behind. A screenshot of each lesson is kept in test-artifacts/screenshots/.
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from helpers import free_port
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from labkit import authoring, labprobe, sim

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts" / "screenshots"
LESSONS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

# JupyterLab's notebook model, read in the page: per code cell its execution count, outputs and tags
STATE_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const m = w.content.model;
  const cells = [];
  for (let i = 0; i < m.cells.length; i++) {
    const c = m.cells.get(i);
    if (c.type !== 'code') continue;
    const outs = c.outputs.toJSON();
    const tags = c.getMetadata('tags') || [];
    const text = tags.includes('test') ? outs.map(o => [].concat(o.text || (o.data && o.data['text/plain']) || [])
                                                           .join('')).join('') : '';
    cells.push({index: i, count: c.executionCount, tags: tags, text: text,
                errors: outs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)});
  }
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return {cells: cells, kernel: kernel ? kernel.status : 'none'};
}"""


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """`labkit lab` on the learners' copies, its app exposed to the page, windowing off.

    The simulator and the kernels use a state folder of their own, so that the lessons' resets never
    touch the simulator other tests share. Yields (base URL, token, the labkit lab process).
    """
    work = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_STATE_DIR", str(work / "state"))
        yield from _serve(work)


def _serve(work):
    workspace = work / "workspace"  # labkit lab releases the learner's copies here on its first start
    settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # every cell in the page, not only those in view, so that every output can be found
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = work / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    config = work / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({"LabApp": {"expose_app_in_browser": True}}))
    port, token = free_port(), "browser-test"
    env = {**os.environ, "LABKIT_LAB_TOKEN": token, "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"), "JUPYTER_CONFIG_DIR": str(config),
           "LABKIT_WORKSPACE": str(workspace)}
    sim.build()
    log = open(work / "lab.log", "w")
    lab = subprocess.Popen([sys.executable, "-m", "labkit.cli", "lab", "--no-browser", f"--port={port}"],
                           env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        labprobe.wait_for_page(base, token, timeout=120, alive=lambda: lab.poll() is None)
        yield base, token, lab
    finally:
        below = [pid for pid, _, _ in _descendants(lab.pid)]
        lab.send_signal(signal.SIGINT)  # Ctrl-C: labkit lab ends JupyterLab, its kernels and the simulator
        try:
            lab.wait(60)
        except subprocess.TimeoutExpired:
            for pid in [lab.pid, *below]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def lab_page(browser, jupyterlab):
    """One JupyterLab page for every lesson, as a learner keeps one tab: loaded once, on a workspace of its own
    (no tabs restored from another run). Each lesson is opened in it and closed after, its kernel left running."""
    base, token, _ = jupyterlab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/workspaces/browser-test?token={token}&reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.restored", timeout=120_000)
    page.evaluate("() => window.jupyterapp.restored")  # the layout restored: nothing opens over the first lesson
    yield page
    page.close()


def _open(page, name):
    """Open the lesson in the page, as a double click in the file browser does; wait until its kernel is idle."""
    page.evaluate("(name) => { window.jupyterapp.commands.execute('docmanager:open', {path: name}); }", name)
    page.wait_for_function("""(name) => {
        const w = window.jupyterapp.shell.currentWidget;
        const k = w && w.context && w.context.path === name && w.sessionContext.session
                  && w.sessionContext.session.kernel;
        return k && k.status === 'idle'; }""", arg=name, timeout=120_000)
    return page


def _close(page):
    """Save the lesson and close its tab. The lesson's kernel goes on, as when a learner moves to the next lesson."""
    page.evaluate("""async () => { const w = window.jupyterapp.shell.currentWidget;
                     if (!w || !w.context) return;
                     await Promise.race([w.context.save(), new Promise(done => setTimeout(done, 30000))]);
                     w.close(); }""")


# Run cells as the Run menu does, and resolve when the kernel has answered every one of them. JupyterLab's command
# resolves early when a cell fails, also a cell tagged raises-exception, after which the kernel goes on with the
# queued cells (JupyterLab sends such a cell with stop_on_error false): so each code cell's own request is awaited
# too. ``from`` sets the active cell first (run-all-above runs the cells above it).
RUN_JS = """async ([command, from, ms]) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  if (from !== null) nb.activeCellIndex = from;
  const run = (async () => {
    await window.jupyterapp.commands.execute(command);
    await Promise.allSettled(nb.widgets.filter(w => w.model.type === 'code' && w.outputArea.future)
                                       .map(w => w.outputArea.future.done));
  })();
  const late = new Promise((_, fail) => setTimeout(() => fail(new Error('still running after ' + ms + ' ms')), ms));
  await Promise.race([run, late]);
}"""


def _run_all(page, timeout_s=600, until=None):
    """Run every cell (or every cell down to index ``until``) once, as Run All does: the kernel goes on past a cell
    tagged raises-exception and stops at any other error.

    Returns each problem as "cell N: Name: message": an error in a cell not tagged raises-exception (the last
    cell run included), or the first cell left unrun.
    """
    step = ["notebook:run-all-cells", None] if until is None else ["notebook:run-all-above", until + 1]
    page.evaluate(RUN_JS, [*step, timeout_s * 1000])  # past the timeout, it fails with "still running after"
    cells = [c for c in page.evaluate(STATE_JS)["cells"] if until is None or c["index"] <= until]
    problems = [f"cell {c['index']}: {c['errors'][0]}" for c in cells
                if c["errors"] and "raises-exception" not in c["tags"]]
    pending = [c for c in cells if c["count"] is None]
    return problems or [f"cell {c['index']}: not run" for c in pending[:1]]


RENDERED_JS = """(diagrams) => {
  const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  return p && p.querySelector('.js-plotly-plot') && p.querySelector('.jupyter-widgets')
         && p.querySelectorAll('.jp-RenderedMermaid img').length >= diagrams;
}"""


def _mermaid_blocks(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    return sum(c.source.count("```mermaid") for c in nb.cells if c.cell_type == "markdown")


#: lessons the browser runs only down to this cell (included); the rest shows its committed outputs. Lesson
#: 03b's first migration draws its live chart in the page; its two later QEMU migrations (a minute under TCG)
#: are run, with every other cell, by nbval.
RUN_UNTIL = {"03b-real-precopy.ipynb": "run = rm.migrate(on_sample=live.update"}
RAN: set[str] = set()  # lessons whose test ran here, their kernels left running


@pytest.mark.parametrize("name", LESSONS)
def test_each_lesson_runs_and_renders_in_chromium(lab_page, name):
    page = _open(lab_page, name)
    try:
        if name in RUN_UNTIL:
            cells = page.evaluate(CELLS_JS)
            last = next(c["index"] for c in cells if RUN_UNTIL[name] in c["source"])
            errors = _run_all(page, until=last)
            for c in cells:  # each exercise's answer cell, still the placeholder, and its check
                if "solution" in c["tags"] or "test" in c["tags"]:
                    _run_cell(page, c["index"])
        else:
            errors = _run_all(page)
        assert errors == [], errors
        checks = [c for c in page.evaluate(STATE_JS)["cells"] if "test" in c["tags"]]
        assert checks and all("no answer yet" in c["text"] for c in checks), [c["text"] for c in checks]
        if name in LEARNER_PATH:
            LEARNER_PATH[name](page)
        RAN.add(name)
        expected = _mermaid_blocks(name)
        with contextlib.suppress(PlaywrightTimeout):  # let the last renderers finish; the asserts below say what is missing
            page.wait_for_function(RENDERED_JS, arg=expected, timeout=20_000)
        charts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot")
        widgets = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jupyter-widgets")
        assert charts.count() > 0, "no plotly chart rendered"
        assert widgets.count() > 0, "no ipywidgets control rendered"
        # JupyterLab draws each diagram as an SVG image inside a .jp-RenderedMermaid figure
        diagrams = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMermaid img")
        assert diagrams.count() >= expected, f"{diagrams.count()} of {expected} Mermaid diagrams rendered"
        assert page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMermaid.jp-mod-warning, "
                            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMermaid .jp-mod-warning").count() == 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        stem = Path(name).stem
        charts.first.scroll_into_view_if_needed()
        charts.first.screenshot(path=str(SHOTS / f"{stem}-first-chart.png"))
        if expected:
            diagrams.first.scroll_into_view_if_needed()
            diagrams.first.screenshot(path=str(SHOTS / f"{stem}-first-diagram.png"))
        if name == "03-memory-convergence.ipynb":
            _moving_a_slider_redraws_the_convergence_chart(page)
    finally:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("async () => { const n = window.jupyterapp.shell.currentWidget.content;"
                      " n.activeCellIndex = 0; await n.scrollToItem(0, 'start'); }")
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / f"{Path(name).stem}.png"))
        _close(page)


def _moving_a_slider_redraws_the_convergence_chart(page):
    """On lesson 03, run: a slider of the memory convergence explorer, moved, redraws its chart."""
    slider = page.locator(".widget-hslider", has_text="dirty rate (MiB/s)").first
    slider.scroll_into_view_if_needed()
    explorer = slider.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    chart = explorer.locator(".js-plotly-plot").first
    chart.wait_for(timeout=30_000)

    def drawn():
        return chart.evaluate("el => JSON.stringify(el.data.map(t => [t.name, t.y]))")

    before, label_before = drawn(), explorer.locator(".widget-html").first.inner_text()
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(20):
        handle.press("ArrowRight")
    page.wait_for_function("([el, old]) => JSON.stringify(el.data.map(t => [t.name, t.y])) !== old",
                           arg=[chart.element_handle(), before], timeout=30_000)
    assert drawn() != before
    assert explorer.locator(".widget-html").first.inner_text() != label_before
    SHOTS.mkdir(parents=True, exist_ok=True)
    explorer.screenshot(path=str(SHOTS / "03-explorer-after-slider.png"))


# -- a learner's path: exercises answered right and wrong, across lessons ----------------------------------
CELLS_JS = """() => {
  const m = window.jupyterapp.shell.currentWidget.content.model;
  const out = [];
  for (let i = 0; i < m.cells.length; i++) {
    const c = m.cells.get(i);
    const labkit = c.getMetadata('labkit') || {};
    out.push({index: i, type: c.type, tags: c.getMetadata('tags') || [], exercise: labkit.exercise || null,
              source: c.sharedModel.getSource(), count: c.type === 'code' ? c.executionCount : null});
  }
  return out;
}"""

RUN_CELL_JS = """async ([index, code]) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  if (code !== null) nb.widgets[index].model.sharedModel.setSource(code);
  nb.activeCellIndex = index;
  nb.widgets[index].model.executionCount = null;
  await window.jupyterapp.commands.execute('notebook:run-cell');
}"""

OUTPUT_JS = """(index) => {
  const c = window.jupyterapp.shell.currentWidget.content.model.cells.get(index);
  return {count: c.executionCount, text: c.outputs.toJSON().map(o => [].concat(o.text || (o.data && o.data['text/plain'])
          || []).join('') + (o.ename ? o.ename + ': ' + o.evalue : '')).join('')};
}"""


def _cell(page, exercise, role):
    return next(c for c in page.evaluate(CELLS_JS) if c["exercise"] == exercise and role in c["tags"])


def _run_cell(page, index, code=None, timeout_s=120):
    """Type ``code`` into cell ``index`` (if given), run it as Shift+Enter would, wait for it; its output text."""
    page.evaluate(RUN_CELL_JS, [index, code])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = page.evaluate(OUTPUT_JS, index)
        if out["count"] is not None and page.evaluate(STATE_JS)["kernel"] == "idle":
            return out["text"]
        time.sleep(0.2)
    raise AssertionError(f"cell {index} did not finish within {timeout_s} s")


def _answer(page, exercise, code):
    """Answer an exercise as a learner does: write the answer cell, run it, run the check below it."""
    _run_cell(page, _cell(page, exercise, "solution")["index"], code)
    return _run_cell(page, _cell(page, exercise, "test")["index"])


RIGHT_02 = 'answer = evc.highest(hosts.loc[hosts["cluster"] == "Cluster-NoEVC", "maxEVCModeKey"])'


def _learner_in_lesson_02(page):
    """A student copy with no solution on the page; after Run All, exercise 1 answered right, then wrong."""
    source = nbformat.read(ROOT / "notebooks" / "02-compatibility-checks.ipynb", as_version=4)
    solutions = {line.strip() for c in source.cells if "solution" in authoring.roles(c)  # inside the regions
                 for line in set(c.source.splitlines()) - set(authoring.released_source(c).splitlines())
                 if line.strip() and not line.strip().startswith("###")}
    taught = {line.strip() for c in source.cells if not authoring.roles(c) for line in c.source.splitlines()}
    on_page = page.evaluate("() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)').innerText")
    shown = {line.strip() for c in page.evaluate(CELLS_JS) for line in c["source"].splitlines()}
    assert "BEGIN SOLUTION" not in on_page and not (solutions - taught) & shown, (solutions - taught) & shown
    assert "YOUR ANSWER HERE" in on_page
    right = _answer(page, "02.highest-evc", RIGHT_02)
    assert "[x] 02.highest-evc highest EVC mode for Cluster-NoEVC: correct (2/2)." in right, right
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-OutputArea-output", has_text="correct (2/2)").first.screenshot(
        path=str(SHOTS / "02-exercise-right.png"))
    wrong = _answer(page, "02.highest-evc", 'answer = "intel-merom"')
    assert "[ ] 02.highest-evc highest EVC mode for Cluster-NoEVC: not yet (0/2)." in wrong, wrong
    page.locator(".jp-OutputArea-output", has_text="not yet (0/2)").first.screenshot(
        path=str(SHOTS / "02-exercise-wrong.png"))


def _learner_in_lesson_00(page):
    """Lesson 00 run to its end, its session closed as well: exercise 1 still gets a verdict, right or wrong."""
    last = page.evaluate(STATE_JS)["cells"][-1]["index"]
    _run_cell(page, last, "session.close()")
    got = _answer(page, "00.cluster-hosts", "answer = 3")
    assert "[x] 00.cluster-hosts hosts in cluster Cluster-A: correct (1/1)." in got, got
    got = _answer(page, "00.cluster-hosts", 'answer = "3"')
    assert "not yet (0/1). Give a number, not the text '3'" in got, got


LEARNER_PATH = {"00-getting-started.ipynb": _learner_in_lesson_00,
                "02-compatibility-checks.ipynb": _learner_in_lesson_02}


def test_back_in_lesson_02_after_the_others_its_checks_judge_in_its_own_worlds(lab_page):
    """After lesson 00 and every later lesson ran in their kernels, lesson 02's kernel still judges its
    exercises in its own worlds: exercise 1 (mixed-intel-evc) right, exercise 2 (partial-storage) wrong."""
    if not {"00-getting-started.ipynb", "02-compatibility-checks.ipynb"} <= RAN:
        pytest.skip("run with the lesson tests: it goes back to their kernels")
    page = _open(lab_page, "02-compatibility-checks.ipynb")  # the kernel still runs, with its worlds
    try:
        again = _answer(page, "02.highest-evc", RIGHT_02)
        assert "[x] 02.highest-evc highest EVC mode for Cluster-NoEVC: correct (2/2)." in again, again
        got = _answer(page, "02.destinations", "answer = ['esx-99']")
        assert "[ ] 02.destinations hosts app-ab can move to: not yet (0/2)." in got, got
    finally:
        _close(page)


def _descendants(pid: int) -> list[tuple[int, str, str]]:
    """(pid, state, command name) of every process below ``pid``."""
    children: dict[int, list[int]] = {}
    info = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        info[int(entry)] = (rest[0], name)
        children.setdefault(int(rest[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append((child, *info[child]))
            todo.append(child)
    return out


def test_no_defunct_process_after_every_lesson(jupyterlab):
    """Each lesson reset the lab world, so each stopped a simulator that labkit lab or another lesson's
    kernel had started. Those parents, still running, must have reaped it: no <defunct> entry remains."""
    _, _, lab = jupyterlab
    below = _descendants(lab.pid)
    kernels = [p for p in below if p[2].startswith("python") and p[1] != "Z"]
    if len(kernels) < 3:  # the lab server and at least two lessons' kernels
        pytest.skip("run with the lesson tests: they leave their kernels open")
    defunct = [p for p in below if p[1] == "Z"]
    if defunct:  # a process that ended this instant may not be collected yet: look once more
        time.sleep(2)
        defunct = [p for p in _descendants(lab.pid) if p[1] == "Z"]
    assert defunct == []
