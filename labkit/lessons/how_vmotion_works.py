"""Exercises of notebooks/01-how-vmotion-works.ipynb (scenario healthy-cluster).

The concept exercises are checked against the lesson's own statements; the
lab exercise against the learner's migration run and the lab world.
"""
from __future__ import annotations

from .. import inventory
from ..exercises import as_names, exercise
from .preparing_hosts import _vmotion_problem

#: statements about vMotion; the true ones are in TRUE
CLAIMS = {
    "a": "vMotion moves a running VM from one ESXi host to another while the guest keeps running.",
    "b": "vMotion needs DRS: without DRS, a VM cannot be migrated.",
    "c": "DRS uses vMotion to balance the load of a cluster.",
    "d": "When a host fails, vMotion moves its VMs to another host.",
    "e": "When a host fails, vSphere HA restarts its VMs on other hosts, with downtime.",
    "f": "In a fully automated DRS cluster, a host entering maintenance mode has its running VMs migrated away.",
    "g": "The vMotion Storage Accelerator copies disks during a vMotion.",
    "h": "vMotion is a disaster-recovery tool: it brings the VMs of a failed site back up elsewhere.",
}
TRUE = {"a", "c", "e", "f"}

#: the steps of a vMotion, shuffled; the right order is ORDER. Step u (preparing the destination and reserving
#: resources) is not one of VMware's named phases; lesson 01 says where it comes from.
PHASES = {
    "p": "switchover: the VM is stunned, the last dirty pages and the device state are sent",
    "q": "compatibility checks by vCenter (CPU, storage, networks, vMotion adapters, host state)",
    "r": "the VM resumes on the destination, which announces its MAC addresses (RARP)",
    "s": "pre-copy: memory is sent while the VM runs, then the pages it dirtied, round after round",
    "t": "the source host releases the VM",
    "u": "preparation: both hosts accept the migration, resources are reserved on both, the destination readies the VM",
}
ORDER = ["q", "u", "s", "p", "r", "t"]


@exercise("01.claims", "which statements about vMotion are true", world=None, points=2, hints=(
    "vMotion needs two running hosts; think about what a failed host can still send.",
    ("DRS and maintenance mode are users of vMotion, not requirements of it; one statement names a product "
     "that does not exist."),
))
def claims(answer, session):
    try:
        got = {str(x).strip().lower() for x in as_names(answer)}
    except TypeError:
        return "answer with a set of letters, such as {'a', 'b'}"
    if got - set(CLAIMS):
        return f"there is no statement {', '.join(sorted(got - set(CLAIMS)))}"
    wrong, missing = got - TRUE, TRUE - got
    if wrong:
        return f"{len(wrong)} of your statements is false"
    if missing:
        return f"{len(missing)} true statement(s) missing"
    return True


@exercise("01.phases", "the phases of a vMotion, in order", world=None, points=1, hints=(
    "vCenter refuses a migration before anything is copied; the guest stops only once, near the end.",
    ("For each step, ask what must already be true before it can start: where memory can go, and when the "
     "source may let go."),
))
def phases(answer, session):
    if isinstance(answer, str):
        answer = list(answer.replace(",", " ").split()) if " " in answer or "," in answer else list(answer)
    try:
        got = [str(x).strip().lower() for x in answer]
    except TypeError:
        return "answer with the letters in order, such as ['p', 'q', 'r', 's', 't', 'u']"
    if sorted(got) != sorted(ORDER):
        return f"use each of the {len(ORDER)} letters once"
    first_wrong = next(i for i, (a, b) in enumerate(zip(got, ORDER, strict=True)) if a != b) if got != ORDER else None
    if first_wrong is not None:
        return f"the first {first_wrong} phase(s) are in the right order, the next one is not"
    return True


@exercise("01.first-vmotion", "db-01 moved by vMotion to esx-01", world="healthy-cluster", points=2, hints=(
    "continuity.migrate moves a VM and returns a MigrationRun; the cell that moved web-01 shows how it is called.",
    "Which VM and which destination does this exercise name? Those are the two things the call needs; the run it "
    "returns is your answer.",
))
def first_vmotion(answer, session):
    problem = _vmotion_problem(answer, "db-01", "esx-01")
    if problem:
        return problem
    if inventory.vms(session).set_index("name").loc["db-01", "host"] != "esx-01":
        return "db-01 does not run on esx-01 in the lab any more"
    return True
