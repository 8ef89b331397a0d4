"""What the audit reads from vCenter, one step at a time, and what a refusal of each step costs the report.

Every call here only reads (``RetrievePropertiesEx``, ``ContinueRetrievePropertiesEx``,
``QueryVMotionCompatibilityEx_Task`` and the ``WaitForUpdatesEx`` of its wait, with the session's views and
property collectors: the allow-list of :mod:`labkit.readonly`).

Steps, in order (the names :data:`STEPS` gives them in the report):

1. ``inventory``: VMs, hosts (state, vMotion adapters and their uplinks and MTU, port groups, CPU features, EVC
   keys, memory, ESXi version), compute resources (the clusters' ``summary``, whose ``currentEVCModeKey`` is the
   cluster's EVC mode: vSphere API reference, ``ClusterComputeResourceSummary``), datastores and their mounts,
   networks. One paged PropertyCollector read. Without it there is nothing to audit: a refusal is an error.
2. ``tasks``: the hosts' recent tasks, to see an ``EnterMaintenanceMode_Task`` under way (as
   :func:`labkit.compat.fetch` does).
3. ``devices``: every VM's ``config.hardware.device``.
4. ``requirements``: every powered-on or suspended VM's ``runtime.featureRequirement`` (the CPU features it was
   powered on with).
5. ``vcenter``: vCenter's own verdicts, ``QueryVMotionCompatibilityEx_Task`` (privilege ``System.View``:
   vSphere API reference, ``VirtualMachineProvisioningChecker``), in chunks of VMs against every host.

A step refused for lack of privilege (``NoPermission``, or any ``SecurityError``) becomes a :class:`Refusal`:
what could not be read, the privilege and object the fault names, and which checks the report therefore did not
make. So does a property vCenter withheld (``ObjectContent.missingSet``; step ``withheld`` for the inventory's).
The audit goes on without it.

:func:`facts` builds the same tables as :func:`labkit.compat.fetch` (tests/test_audit.py holds them equal on
several worlds) from the same properties, with the same table builders of :mod:`labkit.compat.facts`. Steps 1 to
4 read through pyVmomi's PropertyCollector (:func:`labkit.collector.retrieve` and
:func:`~labkit.collector.retrieve_objects`: ``RetrievePropertiesEx``, paged with ``ContinueRetrievePropertiesEx``);
the answers are pyVmomi's own objects, withheld properties its ``ObjectContent.missingSet``. On two cores, step 4
of a vCenter with :data:`HELPER_MIN_VMS` running VMs or more is read in a helper process
(:mod:`labkit.readhelper`: the same PropertyCollector calls, with the session's cookie on a second connection)
while this process reads steps 1 to 3: pyVmomi's deserializing is bound by one core, and the requirements are
about half of it. Should the helper fail in any way, step 4 is read here, as without it.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
from pyVmomi import vim, vmodl

from .. import collector, readhelper
from ..compat import facts as cf
from ..errors import LabkitError, TaskFailed
from ..tasks import wait_for_task

DEVICES = "config.hardware.device"
#: the checks whose facts each optional step reads (labkit.compat.rules names them so)
CHECKS_OF = {
    "inventory": [],
    "withheld": [],
    "tasks": ["host state (EnterMaintenanceMode_Task under way)"],
    "devices": ["devices", "device images", "networks", "virtual intranet"],
    "requirements": ["CPU"],
    "vcenter": [],
}
STEPS = {
    "inventory": "the inventory (VMs, hosts, clusters, datastores, networks)",
    "withheld": "some properties of the inventory",
    "tasks": "the hosts' recent tasks",
    "devices": "the VMs' devices (config.hardware.device)",
    "requirements": "the CPU feature requirements of running VMs (runtime.featureRequirement)",
    "vcenter": "vCenter's own verdicts (QueryVMotionCompatibilityEx_Task)",
}
#: running VMs from which on their CPU requirements are read in a helper process, while this one reads the rest
HELPER_MIN_VMS = 500
#: the VMs whose CPU requirement labkit.compat.facts reads: powered on or suspended, templates aside
RUNNING = {"runtime.powerState": ("poweredOn", "suspended"), "config.template": (False, None)}
#: pairs asked of vCenter in one QueryVMotionCompatibilityEx_Task (the lab checks about 5,000 pairs a second)
CHUNK_PAIRS = 2000


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A read vCenter refused: ``step`` (a key of :data:`STEPS`), the ``fault`` type, the ``privilege`` and the
    ``object`` it names (empty when it names none), and vCenter's ``message``."""

    step: str
    fault: str
    privilege: str
    object: str
    message: str = ""

    @property
    def what(self) -> str:
        return STEPS[self.step]

    @property
    def consequence(self) -> str:
        if self.step == "vcenter":
            return "the report shows labkit's rules alone, without vCenter's verdicts"
        if self.step == "inventory":
            return "there is nothing to audit without it"
        if self.step == "withheld":
            return "the checks that read them judged those objects as if the properties were unset"
        return "not checked: " + ", ".join(CHECKS_OF[self.step])

    @property
    def why(self) -> str:
        """'the user lacks privilege P on O', or what vCenter said when its fault names no privilege."""
        if self.privilege:
            return f"the user lacks privilege {self.privilege} on {self.object or 'an object'}"
        return f"vCenter refused it ({self.fault}{': ' + self.message if self.message else ''})"

    def line(self) -> str:
        """One line: what could not be read, why, and what the report lacks."""
        return f"could not read {self.what}: {self.why}; {self.consequence}"

    def as_dict(self) -> dict:
        return {"step": self.step, "what": self.what, "fault": self.fault, "privilege": self.privilege,
                "object": self.object, "message": self.message, "consequence": self.consequence,
                "line": self.line()}


def refusal(step: str, fault) -> Refusal:
    """A Refusal of ``step`` from a vSphere fault (``NoPermission`` carries ``privilegeId`` and ``object``)."""
    obj = getattr(fault, "object", None)
    where = f"{obj._wsdlName}:{obj._moId}" if obj is not None and hasattr(obj, "_moId") else ""
    name = fault.fault_type if isinstance(fault, TaskFailed) else type(fault).__name__.split(".")[-1]
    message = getattr(fault, "msg", None) or (str(fault) if isinstance(fault, TaskFailed) else "")
    return Refusal(step, name, getattr(fault, "privilegeId", None) or "", where, message.strip())


# -- steps 1 to 4: the facts the rules read ------------------------------------------------------------------------
def facts(session, refusals: list[Refusal], bar=None,
          timings: dict | None = None) -> tuple[cf.Facts, pd.DataFrame, pd.DataFrame]:
    """The inventory as :class:`labkit.compat.Facts`, one row per cluster (``cluster``, ``moid``, ``evcMode``:
    its ``summary.currentEVCModeKey``, None without EVC) and one per datastore (``datastore``, ``moid``).

    ``bar`` (a tqdm bar, or None) counts objects read: the inventory's, then VMs for their devices and their
    requirements. Refusals of steps 2 to 4 are appended to ``refusals``; a refused step 1 raises
    :class:`LabkitError`.

    On two cores or more, with at least :data:`HELPER_MIN_VMS` VMs in the inventory (counted from a
    ContainerView's ``view``, a list of references read in milliseconds), a helper process
    (:mod:`labkit.readhelper`) is started first: it finds the running VMs
    on its own and, when there are :data:`HELPER_MIN_VMS` of them or more, reads their CPU requirements (step 4)
    while this process reads the inventory and the devices (steps 1 to 3). With fewer it is ended and step 4 is
    read here; so it is when the helper fails in any way. ``timings`` (a dict, or None) gets the helper's seconds,
    under ``read (helper process)`` or, when it failed, ``read (helper process failed; read here)``."""
    helper = None
    if readhelper.cores() >= 2 and _vm_count(session) >= HELPER_MIN_VMS:
        helper = readhelper.start(session, vim.VirtualMachine, cf.REQUIREMENT, RUNNING, at_least=HELPER_MIN_VMS)
    try:
        return _facts(session, refusals, bar, helper)
    finally:
        if helper is not None:
            helper.close()
            if helper.answered is not None and timings is not None:
                timings["read (helper process failed; read here)" if helper.failed else "read (helper process)"] \
                    = helper.seconds


def _facts(session, refusals: list[Refusal], bar, helper) -> tuple[cf.Facts, pd.DataFrame, pd.DataFrame]:
    step = None if bar is None else (lambda obj: bar.update())
    _say(bar, "inventory")
    withheld: list = []
    try:
        got = collector.retrieve(session.content, {
            vim.VirtualMachine: [p for p in cf.VM_PROPS if p != DEVICES],
            vim.HostSystem: cf.HOST_PROPS,
            vim.ComputeResource: ["name", "summary"],
            vim.Datastore: ["name", "host"],
            vim.Network: ["name"],
            vim.dvs.DistributedVirtualPortgroup: ["key", "host"],
        }, missing=withheld, progress=step)
    except vmodl.fault.SecurityError as e:
        raise LabkitError(f"Could not read the inventory: {refusal('inventory', e).why}.",
                          fix="give the user a role with System.View and System.Read (the Read-only role) on the "
                              "vCenter's root folder, propagated to its children") from None
    if withheld:
        paths = sorted({m[1] for m in withheld})
        refusals.append(Refusal("withheld", withheld[0][2] or "SecurityError", "", withheld[0][0],
                                f"vCenter withheld {', '.join(paths)} of {len({m[0] for m in withheld})} object(s) "
                                "(ObjectContent.missingSet)"))
    vm_rows, host_rows = got[vim.VirtualMachine], got[vim.HostSystem]
    running = [o for o, p in vm_rows if all(p.get(k) in allowed for k, allowed in RUNNING.items())]
    if helper is not None and len(running) < HELPER_MIN_VMS:
        helper.close()  # not worth its while: ended, whatever it is doing
        helper = None
    names = {o._moId: p.get("name", o._moId) for t in (vim.HostSystem, vim.ComputeResource, vim.Datastore,
                                                       vim.Network) for o, p in got[t]}
    pg_names = {p.get("key"): names.get(o._moId, o._moId) for o, p in got[vim.dvs.DistributedVirtualPortgroup]}
    datastores = {p.get("name"): o._moId for o, p in got[vim.Datastore]}
    hosts, vnics, portgroups = cf._hosts(host_rows, got[vim.ComputeResource], names, pg_names)
    try:
        entering = cf._entering_maintenance(session, host_rows)
    except vmodl.fault.SecurityError as e:
        refusals.append(refusal("tasks", e))
        entering = set()
    hosts["enteringMaintenanceMode"] = hosts["moid"].isin(entering)

    _say(bar, "devices")
    devices = _devices(session, [o for o, _ in vm_rows], refusals, step)
    rows = [(o, {**p, DEVICES: devices.get(o._moId)}) for o, p in vm_rows]
    vms, vm_ds, nics, vm_devices = cf._vms(rows, names, pg_names, datastores)
    _say(bar, "CPU requirements")
    _requirements(session, vms, hosts, running, refusals, step, helper)
    mounts, network_hosts = cf.layout(got)  # as labkit.compat.fetch lays them out
    clusters = pd.DataFrame(
        [{"cluster": p.get("name"), "moid": o._moId,
          "evcMode": getattr(p.get("summary"), "currentEVCModeKey", None) or None}
         for o, p in got[vim.ComputeResource] if isinstance(o, vim.ClusterComputeResource)],
        columns=["cluster", "moid", "evcMode"]).sort_values("cluster", kind="stable").reset_index(drop=True)
    clusters["evcMode"] = clusters["evcMode"].astype(object).where(clusters["evcMode"].notna(), None)
    stores = pd.DataFrame(sorted((name, moid) for name, moid in datastores.items()), columns=["datastore", "moid"])
    return (cf.Facts(vms, hosts, vm_ds, mounts, nics, network_hosts, vm_devices, vnics, portgroups), clusters,
            stores)


def _vm_count(session) -> int:
    """How many VMs the inventory holds: the length of a ContainerView's ``view``; 0 when it cannot be read (the
    inventory read then meets the refusal itself)."""
    try:
        view = session.content.viewManager.CreateContainerView(session.content.rootFolder, [vim.VirtualMachine], True)
    except vmodl.MethodFault:
        return 0
    try:
        return len(view.view or [])
    except vmodl.MethodFault:
        return 0
    finally:
        view.DestroyView()


def _say(bar, what: str) -> None:
    if bar is not None:
        bar.set_postfix_str(what)


def _withheld(step: str, missing: list, refusals: list[Refusal]) -> set[str]:
    """Record properties vCenter withheld (``missingSet``) as one Refusal of ``step``; the moids of their VMs."""
    if missing:
        where, path, fault = missing[0]
        refusals.append(Refusal(step, fault or "SecurityError", "", where,
                                f"vCenter withheld {path} of {len(missing)} VM(s) (ObjectContent.missingSet)"))
    return {m[0].split(":", 1)[1] for m in missing}


def _devices(session, vm_objs, refusals: list[Refusal], step) -> dict[str, list | None]:
    """moid -> the VM's devices, as pyVmomi objects (None where vCenter withheld them); labkit.compat.facts picks
    out the NICs and the devices that can block a migration."""
    missing: list = []
    try:
        got = collector.retrieve_objects(session.content, vm_objs, [DEVICES], missing=missing, progress=step)
    except vmodl.fault.SecurityError as e:
        refusals.append(refusal("devices", e))
        return {}
    withheld = _withheld("devices", missing, refusals)
    return {o._moId: (None if o._moId in withheld else p.get(DEVICES)) for o, p in got}


def _requirements(session, vms: pd.DataFrame, hosts: pd.DataFrame, running: list, refusals: list[Refusal], step,
                  helper=None) -> None:
    """Fill ``vms.requirements`` (dict key -> value, None where not read), ``req_signature`` and ``cpu_signature``
    as labkit.compat.facts does, for every powered-on or suspended VM (``running``): as ``helper`` (a
    :class:`labkit.readhelper.Helper`) read them, when it answers; the VMs it did not read (the inventory changed in
    between), or all when it failed, read here."""
    answer = helper.result() if helper is not None else None
    read: dict = {}
    missing: list = []
    if answer is not None:
        order = {o._moId: i for i, o in enumerate(running)}
        read = {moid: features for moid, features in answer[0].items() if moid in order}
        missing = sorted((m for m in answer[1] if m[0].split(":", 1)[1] in order),
                         key=lambda m: order[m[0].split(":", 1)[1]])
        if step is not None:
            for _ in read:
                step(None)
    try:
        read.update(_read_requirements(session, [o for o in running if o._moId not in read], missing, step))
    except vmodl.fault.SecurityError as e:
        refusals.append(refusal("requirements", e))
        read = {}
    withheld = _withheld("requirements", missing, refusals)
    found = {moid: features for moid, features in read.items() if moid not in withheld}
    signature = hosts.set_index("moid")["cpu_signature"]
    vms["requirements"] = [found.get(m) for m in vms["moid"]]
    signatures: dict[int, str] = {}  # once per distinct requirement object: VMs the helper read share theirs

    def req_signature(r):  # the requirements stay alive in vms["requirements"]: no id is reused meanwhile
        if id(r) not in signatures:
            signatures[id(r)] = cf.signature_of(r)
        return signatures[id(r)]
    vms["req_signature"] = [None if r is None else req_signature(r) for r in vms["requirements"]]
    vms["cpu_signature"] = vms["host_moid"].map(signature)


def _read_requirements(session, objs: list, missing: list, step) -> dict[str, dict]:
    """moid -> {feature key: value} of ``objs`` (VMs), read in this process; withheld ones appended to ``missing``."""
    got = collector.retrieve_objects(session.content, objs, [cf.REQUIREMENT], missing=missing, progress=step)
    return {o._moId: readhelper.PLAIN[cf.REQUIREMENT](p.get(cf.REQUIREMENT)) for o, p in got}


# -- step 5: vCenter's verdicts ------------------------------------------------------------------------------------
VCENTER_COLUMNS = ["vm", "host", "verdict", "errors", "warnings", "messages"]


@dataclasses.dataclass
class Asked:
    """QueryVMotionCompatibilityEx_Task calls submitted by :func:`ask` and not yet waited for: the chunks of VMs,
    their tasks, the hosts, and moid -> name."""

    chunks: list
    tasks: list
    hosts: list
    names: dict


def ask(session, facts: cf.Facts, vms: list[str], hosts: list[str], refusals: list[Refusal], *,
        chunk_pairs: int = CHUNK_PAIRS) -> Asked | None:
    """Submit vCenter's check of each of ``vms`` × ``hosts`` (names), in chunks of whole VMs against every host,
    about ``chunk_pairs`` a task, without waiting: vCenter checks while this process does something else. None
    when vCenter refused the call (a Refusal is appended, with the privilege a NoPermission names)."""
    vm_moid = dict(zip(facts.vms["vm"], facts.vms["moid"]))
    host_moid = dict(zip(facts.hosts["host"], facts.hosts["moid"]))
    stub = session.si._stub
    vm_objs = [vim.VirtualMachine(vm_moid[v], stub) for v in vms]
    host_objs = [vim.HostSystem(host_moid[h], stub) for h in hosts]
    names = {**{vm_moid[v]: v for v in vms}, **{host_moid[h]: h for h in hosts}}
    per_task = max(1, chunk_pairs // max(1, len(host_objs)))
    chunks = [vm_objs[i:i + per_task] for i in range(0, len(vm_objs), per_task)] if host_objs else []
    checker = session.content.vmProvisioningChecker
    try:
        tasks = [checker.QueryVMotionCompatibilityEx_Task(vm=chunk, host=host_objs) for chunk in chunks]
    except vmodl.MethodFault as e:  # vCenter's check is a second opinion: the audit goes on without it
        refusals.append(refusal("vcenter", e))
        return None
    return Asked(chunks, tasks, host_objs, names)


def answers(session, asked: Asked | None, refusals: list[Refusal], bar=None, *,
            timeout: float = 600) -> pd.DataFrame | None:
    """vCenter's verdicts on what :func:`ask` submitted, waited for in order, as :func:`labkit.compat.vcenter`
    lays them out (vm, host, verdict, errors, warnings, messages); None when ``asked`` is None or a task failed
    (a Refusal is appended). ``bar`` counts pairs."""
    if asked is None:
        return None
    rows = []
    try:
        for chunk, task in zip(asked.chunks, asked.tasks):
            for r in wait_for_task(session, task, timeout=timeout, progress=False) or []:
                errors = sorted(_name(e) for e in (r.error or []))
                warnings = sorted(_name(w) for w in (r.warning or []))
                rows.append({"vm": asked.names.get(r.vm._moId, r.vm._moId),
                             "host": asked.names.get(r.host._moId, r.host._moId),
                             "verdict": "blocked" if errors else "warning" if warnings else "ok",
                             "errors": errors, "warnings": warnings,
                             "messages": "; ".join(e.msg or "" for e in [*(r.error or []), *(r.warning or [])])})
            if bar is not None:
                bar.update(len(chunk) * len(asked.hosts))
    except (vmodl.MethodFault, TaskFailed) as e:
        fault = e.fault if isinstance(e, TaskFailed) and e.fault is not None else e
        refusals.append(refusal("vcenter", fault))
        return None
    return pd.DataFrame(rows, columns=VCENTER_COLUMNS)


def _name(fault) -> str:
    return type(fault).__name__.split(".")[-1]


def about(session) -> dict:
    """The vCenter as its ServiceContent describes it (no call: read at login): product, version, API version."""
    a = session.content.about
    return {"url": session.endpoint.url, "product": a.fullName, "apiVersion": a.apiVersion, "apiType": a.apiType}
