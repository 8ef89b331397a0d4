"""In a notebook, a labkit error is one line of advice, not a traceback wall."""
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
              "1/0")
    (out,) = nb.cells[1].outputs
    assert out.output_type == "error" and out.ename == "MalformedURL"
    assert len(out.traceback) == 1
    assert out.traceback[0].startswith("MalformedURL: 'https://vc:99999/sdk' has an invalid port")
    assert "Traceback" not in out.traceback[0]
    # other errors keep IPython's full traceback
    assert len(nb.cells[2].outputs[0].traceback) > 1
