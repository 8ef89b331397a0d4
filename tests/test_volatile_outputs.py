"""Committed outputs depend only on the course, never on the machine, the archive or the day.

nbval compares every executed cell with its committed output. A token that a
machine set up next month prints differently (a kernel package, QEMU's
version, a CPU model, a home folder, a date) fails CI whatever the change was.
Such a token may appear only where the sanitize file masks it, or in a cell
nbval does not compare. The masks cover the token, never the line around it.
"""
import re
from pathlib import Path

import nbformat
import pytest
import volatile

NOTEBOOKS = sorted((volatile.ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_committed_output_depends_on_the_machine_or_the_day(path: Path):
    found = volatile.scan(path)
    assert not found, ("outputs that a machine set up next month prints differently; mask the token in "
                       "tests/nbval_sanitize.cfg or print something that depends only on the course:\n"
                       + "\n".join(map(str, found)))


def _notebook(*outputs, source="print(guest.describe())"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a lesson")]
    for text in outputs:
        cell = nbformat.v4.new_code_cell(source, execution_count=len(nb.cells))
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    return nb


KERNEL_LINE = "QEMU 10.0.2 with TCG (no usable /dev/kvm); guest kernel from linux-image-6.1.0-57-cloud-amd64\n"


def test_an_unmasked_kernel_package_name_is_found_with_its_cell():
    nb = _notebook("a deterministic line\n", KERNEL_LINE)
    found = volatile.scan(nb, "lesson.ipynb", patterns=[])
    kinds = {(f.notebook, f.cell, f.kind, f.token) for f in found}
    assert ("lesson.ipynb", 1, "kernel package name", "linux-image-6.1.0-57-cloud-amd64") in kinds
    assert {f.cell for f in found} == {1}   # nbval's "Cell 1": the second code cell
    line = next(str(f) for f in found if f.kind == "kernel package name")
    assert line == (f"lesson.ipynb::Cell 1 (id {nb.cells[2].id}, stream stdout): "
                    "kernel package name 'linux-image-6.1.0-57-cloud-amd64'")


def test_the_project_masks_make_that_line_deterministic():
    assert volatile.scan(_notebook(KERNEL_LINE)) == []


def test_a_cell_nbval_does_not_compare_may_show_anything():
    nb = _notebook(KERNEL_LINE, source="# NBVAL_IGNORE_OUTPUT\nprint(guest.describe())")
    assert volatile.scan(nb, patterns=[]) == []
    nb = _notebook(KERNEL_LINE)
    nb.cells[1].metadata["tags"] = ["nbval-skip"]
    assert volatile.scan(nb, patterns=[]) == []


@pytest.mark.parametrize("text, kind", [
    ("kernel linux-image-6.1.0-56-cloud-amd64 installed", "kernel package name"),
    ("uname: 6.1.0-57-cloud-amd64", "kernel release"),
    ("qemu-system-x86 1:10.0.2+ds-2+deb13u1~bpo12+1", "Debian package version"),
    ("built with go1.19.8", "program version"),
    ("Python 3.11.7 on linux", "program version"),
    ("pandas 3.1.1", "program version"),
    ("host CPU: Intel(R) Xeon(R) Platinum 8375C", "CPU model name"),
    ("AMD EPYC 7763 64-Core Processor", "CPU model name"),
    ("QEMU with KVM (probe)", "accelerator verdict"),
    ("saved to /root/.cache/labkit/qemu", "absolute home or temporary path"),
    ("work folder /tmp/labkit-migrate-x1y2", "absolute home or temporary path"),
    ("see /home/alice/notes.txt", "absolute home or temporary path"),
    ("run on 2026-11-30", "date"),
    ("Nov 30, 2026", "date"),
    ("finished at 14:03:59", "date"),
    ("this machine has 2 cores", "core count"),
])
def test_each_kind_of_volatile_token_is_found(text, kind):
    found = volatile.scan(_notebook(text + "\n"), patterns=[])
    assert kind in {f.kind for f in found}, (text, found)


@pytest.mark.parametrize("text", [
    "MAC 00:50:56:00:00:01 kept",                    # a MAC address is not a time
    "vMotion shipped in 2003 with VirtualCenter 1.0 and ESX 2.0",
    "hardware version 15, ESXi 6.7 U2",
    "the VM has 4 vCPUs and 16 GiB",
    "version: 6.5",
    "[shared-ab] web-01/web-01.vmdk",
])
def test_course_facts_are_not_taken_for_volatile_tokens(text):
    assert volatile.scan(_notebook(text + "\n"), patterns=[]) == []


# Each sanitize rule, with a line it applies to and exactly what nbval then compares. A new rule needs an
# example here: the test below fails for a rule none of these lines exercises.
MASKED = [
    ("connected to https://127.0.0.1:43211/sdk", "connected to https://127.0.0.1:PORT/sdk"),
    ("lab simulator: pid 4242, scenario x", "lab simulator: pid PID, scenario x"),
    ("event at 2026-11-30T01:02:03.456Z: VmMigratedEvent", "event at TIMESTAMP: VmMigratedEvent"),
    ("instanceUuid 5021a8f5-7b0f-4c7e-9f3d-1a2b3c4d5e6f", "instanceUuid UUID"),
    ("took 2.5 s elapsed", "took DURATION elapsed"),
    ("folder govcsim-LocalDS_0-98765/web-01", "folder govcsim-TMP/web-01"),
    ("downtime ≈212 ms, ≈1,234 pages", "downtime ≈N ms, ≈N pages"),
    ("(expected-downtime said ≈? ms)", "(expected-downtime said ≈N ms)"),  # QEMU reported none
    (KERNEL_LINE.strip(), "QEMU VERSION with ACCELERATOR (PROBE); guest kernel from linux-image-VERSION"),
]


@pytest.mark.parametrize("line, compared", MASKED)
def test_a_mask_covers_the_volatile_token_not_the_line(line, compared):
    assert volatile.sanitize(line, volatile.sanitize_patterns()) == compared


def test_every_sanitize_rule_has_an_example():
    for regex, replace in volatile.sanitize_patterns():
        assert any(re.search(regex, line) for line, _ in MASKED), f"no example for the rule {regex!r}"
        text = "\n".join(line for line, _ in MASKED)
        assert all("\n" not in m.group(0) for m in re.finditer(regex, text)), f"the rule {regex!r} spans lines"
