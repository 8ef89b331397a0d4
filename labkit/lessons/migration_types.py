"""Exercises of notebooks/01a-migration-types.ipynb (scenario partial-storage), and its limits explorer.

The naming exercise is checked against the lesson's own statements. The suspended-VM exercise is checked
against the learner's migration run and the lab world: where the VM is, in which power state, and whether
its destination has a vMotion adapter. The concurrency exercise is checked against
:mod:`labkit.migration_limits`, never against a stored number.
"""
from __future__ import annotations

import ipywidgets as w

from .. import hostconfig, inventory
from .. import migration_limits as limits
from ..continuity import MigrationRun
from ..exercises import NOT_ANSWERED, WrongType, exercise, same_number, whole_number
from ..widgets import ControlPanel, ValueSlider, linear_grid

#: the five kinds of migration, as the lesson names them
TYPES = ("cold migration", "suspended VM migration", "vMotion", "Storage vMotion", "vMotion without shared storage")
#: other names a learner may use for the same kind
ALIASES = {
    "cold": "cold migration",
    "suspended": "suspended VM migration",
    "migration of a suspended virtual machine": "suspended VM migration",
    "suspended migration": "suspended VM migration",
    "migration with vmotion": "vMotion",
    "svmotion": "Storage vMotion",
    "migration with storage vmotion": "Storage vMotion",
    "shared-nothing vmotion": "vMotion without shared storage",
    "shared-nothing": "vMotion without shared storage",
    "xvmotion": "vMotion without shared storage",
}

#: moves to name; the right kind of each is in KIND_OF
MOVES = {
    "a": "A running VM moves to another host; its disks stay on a datastore both hosts mount.",
    "b": "A powered-off VM moves to another host.",
    "c": "A running VM's disks move to another datastore; the VM stays on its host.",
    "d": "A suspended VM moves to another host.",
    "e": "A running VM moves to a host that cannot see its datastore, and its disks move, in the same task, "
         "to a datastore that host mounts.",
    "f": "A powered-off VM moves to another host, and its files to another datastore.",
}
KIND_OF = {"a": "vMotion", "b": "cold migration", "c": "Storage vMotion", "d": "suspended VM migration",
           "e": "vMotion without shared storage", "f": "cold migration"}
#: names the documents also give a move: vSphere 7.0 and 8.0 count a suspended VM's move as cold migration
#: ("Migrating Virtual Machines", 7.0; "Cold Migration", 8.0), so that answer is right too
ALSO_RIGHT = {"d": {"cold migration"}}

#: the suspended-VM exercise: the VM, and the host whose vMotion adapter the lesson turns off
SUSPENDED_VM, NO_VMOTION_HOST = "app-ab", "esx-01"

#: the concurrency exercise: one ESXi 6.7 host with a 1 GbE vMotion network starts, in this order, six
#: vMotions (each to another host, datastore ds-a shared) and then one Storage vMotion (ds-a to ds-b)
SLOTS_LINK = "1GbE"
SLOTS_PLAN = tuple(
    [limits.Migration(limits.VMOTION, "esx-01", "ds-a", destination=f"esx-{i:02d}", name=f"vm-{i - 1}")
     for i in range(2, 8)]
    + [limits.Migration(limits.STORAGE_VMOTION, "esx-01", "ds-a", target_datastore="ds-b", name="svm-1")])


def _kind_name(value) -> str | None:
    text = str(value).strip()
    for kind in TYPES:
        if text.lower() == kind.lower():
            return kind
    return ALIASES.get(text.lower())


@exercise("01a.types", "name the kind of each migration", world=None, points=2, hints=(
    ("Ask two questions of each move: what is the VM's power state, and what changes (the host, the datastore, "
     "or both)?"),
    ("Only a running VM's moves are called vMotion or Storage vMotion. Reread, in the table of kinds, what a cold "
     "migration may move besides the host, and which row a suspended VM has."),
))
def types(answer, session):
    if answer is Ellipsis:
        return NOT_ANSWERED
    if not isinstance(answer, dict):
        raise WrongType("answer with a dict from letter to kind, such as {'a': 'vMotion', 'b': ...}")
    got = {str(k).strip().lower(): v for k, v in answer.items()}
    if set(got) != set(MOVES):
        missing, extra = sorted(set(MOVES) - set(got)), sorted(set(got) - set(MOVES))
        return ("letters missing: " + ", ".join(missing)) if missing else ("there is no move " + ", ".join(extra))
    unknown = sorted(k for k, v in got.items() if _kind_name(v) is None)
    if unknown:
        return f"move(s) {', '.join(unknown)}: name one of {', '.join(TYPES)}"
    wrong = sum(_kind_name(v) != KIND_OF[k] and _kind_name(v) not in ALSO_RIGHT.get(k, ()) for k, v in got.items())
    if wrong:
        return f"{wrong} of the {len(MOVES)} moves named wrongly"
    return True


def _has_vmotion_adapter(session, host: str) -> bool:
    table = hostconfig.vmkernel_adapters(session, hostconfig.host(session, host))
    return any("vmotion" in services for services in table["services"])


#: how a learner may word the prediction that the move is allowed
ALLOWED = {"allowed", "allow", "allows", "it is allowed", "succeeded", "success", "yes", "ok"}


def _prediction(text: str) -> str:
    """A prediction as the check compares it: lower case, without surrounding quotes, spaces and full stops."""
    return text.strip().strip("\"'").strip().rstrip(".!").strip().lower()


@exercise("01a.suspended", "predict, then prove: a suspended VM to a host with no vMotion-enabled adapter",
          world="partial-storage", points=2, hints=(
    "Look back at the checks table: which power states does the vMotion adapter check apply to?",
    ("A suspended VM is not running: nothing goes from memory to memory over the vMotion network. Its state "
     "waits in a file on the datastore."),
    ("Prove it with the same call as the powered-off run above, for app-ab; then answer with your prediction "
     "and that run."),
))
def suspended(answer, session):
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise WrongType("answer with two things in parentheses: (your prediction, the MigrationRun)")
    prediction, run = answer
    if prediction is Ellipsis and run is Ellipsis:
        return NOT_ANSWERED
    if prediction is Ellipsis:  # half an answer is not a try: WrongType keeps the hint where it is
        raise WrongType("write your prediction first: replace the ... after prediction = with 'allowed' or a "
                        "fault type")
    if run is Ellipsis:
        raise WrongType("now prove it: migrate the VM and give the run as the second item")
    if not isinstance(prediction, str):
        raise WrongType("give the prediction as text: 'allowed', or the fault type you expect")
    if not isinstance(run, MigrationRun):
        return "the second item is the MigrationRun that continuity.migrate(...) returned"
    if run.vm != SUSPENDED_VM:
        return f"that run migrated {run.vm}, not {SUSPENDED_VM}"
    if run.before.power_state != "suspended":
        return f"{SUSPENDED_VM} was {run.before.power_state} when it moved, not suspended"
    if run.host != NO_VMOTION_HOST:
        return f"that run moved {SUSPENDED_VM} to {run.host}, not to {NO_VMOTION_HOST}"
    if _has_vmotion_adapter(session, NO_VMOTION_HOST):
        return f"{NO_VMOTION_HOST} has a vMotion adapter again in the lab: the question is about a host without one"
    said = _prediction(prediction)
    matched = said in ALLOWED if run.succeeded else said == run.fault_type.lower()
    if not matched:
        did = "allowed the move" if run.succeeded else f"refused it with {run.fault_type}"
        return (f"you predicted {prediction.strip()!r}, and the lab {did}: find the check in the table that "
                "explains the difference")
    if not run.succeeded:
        return f"the lab refused that migration ({run.fault_type}); read its message and ask again"
    vms = inventory.vms(session).set_index("name")
    if vms.loc[SUSPENDED_VM, "host"] != NO_VMOTION_HOST or vms.loc[SUSPENDED_VM, "powerState"] != "suspended":
        return f"{SUSPENDED_VM} is not suspended on {NO_VMOTION_HOST} in the lab any more"
    return True


@exercise("01a.slots", "how many of seven migrations start at once", world=None, points=2, hints=(
    ("Check each migration, in order, against every resource it uses: its host (maximum 8), the host's vMotion "
     "network (4 on 1 GbE) and its datastores (128)."),
    ("Each vMotion costs 1 of the host and 1 of the network. A Storage vMotion costs 4 of the host and nothing of "
     "the vMotion network."),
    ("Count what the host and the 1 GbE network have left when the Storage vMotion's turn comes: after the "
     "vMotions that started, how much of the host's 8 is used, and does the Storage vMotion need the network?"),
))
def slots(answer, session):
    truth = limits.starting(SLOTS_PLAN, SLOTS_LINK)
    if not same_number(whole_number(answer), truth):
        return "that is not how many start"
    return True


# -- the limits explorer --------------------------------------------------------------------------------------
STYLE = {"description_width": "230px"}
LAYOUT = w.Layout(width="560px")


class LimitsExplorer(ControlPanel):
    """One host's migrations under the 6.7 cost model: link speed and how many of each kind; what starts at once."""

    def __init__(self, link: str = "10GbE", vmotions: int = 12, storage_vmotions: int = 0, without_shared: int = 0,
                 destinations: int = 3):
        controls = {
            "link": w.ToggleButtons(options=list(limits.NETWORK_MAX_COST), value=link, description="vMotion link",
                                    style=STYLE),
            "vmotions": ValueSlider(vmotions, linear_grid(0, 16, 1), description="vMotions", style=STYLE,
                                    layout=LAYOUT),
            "storage_vmotions": ValueSlider(storage_vmotions, linear_grid(0, 4, 1), description="Storage vMotions",
                                            style=STYLE, layout=LAYOUT),
            "without_shared": ValueSlider(without_shared, linear_grid(0, 4, 1),
                                          description="vMotions without shared storage", style=STYLE, layout=LAYOUT),
            "destinations": ValueSlider(destinations, linear_grid(1, 6, 1), description="destination hosts",
                                        style=STYLE, layout=LAYOUT),
        }
        self._wire(controls)

    def plan(self) -> list[limits.Migration]:
        c = {k: v.value for k, v in self.controls.items()}
        return limits.evacuation(int(c["vmotions"]), int(c["storage_vmotions"]), int(c["without_shared"]),
                                 destinations=int(c["destinations"]))

    def refresh(self) -> None:
        link = self.controls["link"].value
        line = limits.describe(self.plan(), link)
        self.summary.value = f"<b>{line}</b>"
        fig = limits.figure(self.plan(), link, title=f"esx-01 on {link}: {line}")
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"application/vnd.plotly.v1+json": fig.to_plotly_json(),
                                         "text/plain": repr(self)}},)

    def __repr__(self) -> str:
        c = {k: v.value for k, v in self.controls.items()}
        return (f"LimitsExplorer(esx-01 on {c['link']}, {c['storage_vmotions']} Storage vMotion(s), "
                f"{c['without_shared']} without shared storage, {c['vmotions']} vMotion(s) to "
                f"{c['destinations']} host(s)): {limits.describe(self.plan(), c['link'])}")
