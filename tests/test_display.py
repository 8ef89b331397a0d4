"""In a notebook, a labkit error is one line of advice, not a traceback wall (labkit._display, the notebook's
entry point for errors, as cli.main is the terminal's)."""
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def _run(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for c in nb.cells[1:]:
        c.metadata["tags"] = ["raises-exception"]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return nb


def test_labkit_errors_print_one_line_in_a_kernel():
    nb = _run("import labkit",
              "labkit.connect('https://vc:99999/sdk', user='u', password='p')",
              "1/0",
              "labkit.inventory.hosts(42)",
              "def mine(x):\n    return x / 0\nmine(1)")
    (out,) = nb.cells[1].outputs
    assert out.output_type == "error" and out.ename == "MalformedURL"
    assert len(out.traceback) == 1
    assert out.traceback[0].startswith("MalformedURL: 'https://vc:99999/sdk' has an invalid port")
    assert "Traceback" not in out.traceback[0]
    # other errors keep IPython's full traceback
    assert len(nb.cells[2].outputs[0].traceback) > 1
    # an error labkit did not foresee is one line too; its traceback goes to the log the line names
    (out,) = nb.cells[3].outputs
    assert out.ename == "AttributeError" and len(out.traceback) == 1, out.traceback
    m = re.fullmatch(r"unexpected error, AttributeError: 'int' object has no attribute 'content'; the details are "
                     r"in (\S+)\. Fix: check the arguments; if they are right, report it with that log",
                     out.traceback[0])
    assert m, out.traceback[0]
    assert "labkit/inventory.py" in Path(m.group(1)).read_text().rsplit("a notebook cell", 1)[-1]
    # the learner's own function: their traceback, down to their line
    (out,) = nb.cells[4].outputs
    text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(out.traceback))  # without its colours
    assert out.ename == "ZeroDivisionError" and len(out.traceback) > 1 and "return x / 0" in text, text
