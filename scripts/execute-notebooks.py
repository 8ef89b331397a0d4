#!/usr/bin/env python3
"""Run lesson notebooks top to bottom and save their outputs in place (what nbval then compares).

    .venv/bin/python scripts/execute-notebooks.py notebooks/00-getting-started.ipynb ...

Each notebook runs in a kernel of its own, in the notebooks folder, with a lab
state folder of its own (its lab worlds end with its kernel). Execution
timestamps are dropped, so a re-run changes only what the lesson shows.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 300) -> float:
    nb = nbformat.read(str(path), as_version=4)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labkit-execute-") as state:
        os.environ["LABKIT_STATE_DIR"] = state
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, str(path))
    return time.perf_counter() - t0


if __name__ == "__main__":
    for name in sys.argv[1:]:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.0f} s", flush=True)
