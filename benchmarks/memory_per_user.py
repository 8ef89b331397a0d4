"""Benchmark: the memory one learner's server needs on a class deployment (JupyterHub or BinderHub).

Each open lesson is a Python kernel, and each kernel runs its own lab worlds: one simulator per scenario
the lesson connected to, ended with the kernel (labkit.sim.worlds). This runs every lesson top to bottom,
each in its own kernel (through nbclient, as JupyterLab would), keeps all nine kernels open, and then
prints, per lesson, the kernel's and its simulators' memory: resident (RSS) and proportional (PSS, shared
pages divided among the processes sharing them, so the PSS figures add up). JupyterLab's own server
process is measured too, from a `jupyter lab` started here.
Run: .venv/bin/python benchmarks/memory_per_user.py [--lessons 00 02 ...]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from labkit import labprobe, sim

ROOT = Path(__file__).resolve().parent.parent


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(c) for t in os.listdir(f"/proc/{p}/task")
                     for c in Path(f"/proc/{p}/task/{t}/children").read_text().split()]
        except OSError:
            continue
    return out


def memory_mib(pids: list[int], field: str) -> float:
    """Sum of one /proc/<pid>/smaps_rollup field ("Rss:" or "Pss:") over processes, in MiB."""
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def is_simulator(pid: int) -> bool:
    try:
        return "labsim" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return False


def all_lessons(names: list[str]) -> list[dict]:
    """Run each lesson in a kernel of its own and keep them all open; measure every kernel and its worlds."""
    import contextlib

    rows = []
    with contextlib.ExitStack() as stack:
        pids = {}
        for name in names:
            (path,) = sorted((ROOT / "notebooks").glob(f"{name}-*.ipynb"))
            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell("import os; print(os.getpid())"))
            client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                    resources={"metadata": {"path": str(ROOT / "notebooks")}})
            stack.enter_context(client.setup_kernel())
            t0 = time.perf_counter()
            for i, cell in enumerate(nb.cells):
                client.execute_cell(cell, i)
            pids[path.stem] = int(nb.cells[-1].outputs[0]["text"])
            print(f"  ran {path.stem} in {time.perf_counter() - t0:.0f} s", flush=True)
        time.sleep(1)
        for lesson, pid in pids.items():
            procs = descendants(pid)
            sims = [p for p in procs if is_simulator(p)]
            kernel = [p for p in procs if p not in sims]
            rows.append({"lesson": lesson, "worlds": len(sims),
                         "kernel_rss": memory_mib(kernel, "Rss:"), "kernel_pss": memory_mib(kernel, "Pss:"),
                         "sims_rss": memory_mib(sims, "Rss:"), "sims_pss": memory_mib(sims, "Pss:")})
    return rows


def rss_mib(pid: int) -> float:
    """Resident set size of one process and all its descendants, in MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total / 1024


def jupyterlab_rss() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "membench"
    with tempfile.TemporaryDirectory() as rt:
        server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
                                   f"--notebook-dir={ROOT / 'notebooks'}", "--allow-root"],
                                  env={**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": rt},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            labprobe.wait_for_page(f"http://127.0.0.1:{port}", token, timeout=120)
            time.sleep(1)
            return rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lessons", nargs="*", default=["00", "01", "01b", "02", "03", "03b", "04", "05", "06"])
    a = ap.parse_args()
    os.environ["LABKIT_STATE_DIR"] = tempfile.mkdtemp(prefix="labkit-mem-")
    sim.build()
    print(f"running {len(a.lessons)} lessons, each in its own kernel, all kept open:")
    rows = all_lessons(a.lessons)
    lab_mib = jupyterlab_rss()
    print(f"\n{'lesson':<28} {'worlds':>6} {'kernel RSS':>10} {'PSS':>6} {'worlds RSS':>10} {'PSS':>6}  (MiB)")
    for r in rows:
        print(f"{r['lesson']:<28} {r['worlds']:>6} {r['kernel_rss']:>10.0f} {r['kernel_pss']:>6.0f} "
              f"{r['sims_rss']:>10.0f} {r['sims_pss']:>6.0f}")
    worlds = sum(r["worlds"] for r in rows)
    k_pss, s_pss = sum(r["kernel_pss"] for r in rows), sum(r["sims_pss"] for r in rows)
    print(f"{'all lessons':<28} {worlds:>6} {sum(r['kernel_rss'] for r in rows):>10.0f} {k_pss:>6.0f} "
          f"{sum(r['sims_rss'] for r in rows):>10.0f} {s_pss:>6.0f}")
    print(f"JupyterLab server (RSS): {lab_mib:.0f} MiB")
    print(f"one learner with all {len(rows)} lessons open (PSS of kernels and worlds + JupyterLab's RSS): "
          f"{k_pss + s_pss + lab_mib:.0f} MiB; the worlds' share: {s_pss:.0f} MiB "
          f"({s_pss / max(worlds, 1):.1f} MiB per world)")


if __name__ == "__main__":
    main()
