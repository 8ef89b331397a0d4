"""Lab scenarios: human-readable files in datasets/scenarios/, compiled for the simulator.

A scenario file (YAML) names the clusters, hosts, datastores, networks and VMs of
one lab situation, with a short text of what it teaches. :func:`compile`
checks it, resolves CPU generations into feature lists (datasets/evc_modes.csv)
and ESXi versions into hardware limits, builds and API versions
(datasets/esxi_versions.csv), chooses the vCenter release that manages the
hosts (labkit.releases), and returns the JSON document the lab simulator
builds its inventory from.

A mistake in a file is reported as ``file: field: what is wrong``.
"""
from __future__ import annotations

import csv
import functools
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import yaml

from . import datasets, evc, releases
from .errors import LabkitError


class ScenarioError(LabkitError):
    """A scenario file is missing or wrong; the message names the file and the field."""


def directory() -> Path:
    return datasets.path("scenarios")


def names() -> list[str]:
    return sorted(p.stem for p in directory().glob("*.yaml"))


def path_of(name: str) -> Path:
    """The file of scenario ``name``: a shipped scenario's name, or the path of a scenario file.

    A name with a ``/`` or a ``.yaml``/``.yml`` ending is a path. Raises :class:`ScenarioError` for an unknown
    name, or a path that is missing or is a folder.
    """
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or os.sep in name or "/" in name:
        if p.is_file():
            return p
        if p.is_dir():
            raise ScenarioError(f"{name} is a folder, not a scenario file.", fix="give the path of a .yaml file")
        if p.suffix in (".yaml", ".yml") or not (directory() / f"{name}.yaml").exists():
            raise ScenarioError(f"No such scenario file: {name}.",
                                fix=f"check the path, or use a scenario name: {', '.join(names())}")
    candidate = directory() / f"{name}.yaml"
    if not candidate.exists():
        raise ScenarioError(f"There is no scenario '{name}'.", fix=f"use one of: {', '.join(names())}")
    return candidate


def describe() -> list[dict]:
    """Name, title and what each scenario teaches."""
    out = []
    for n in names():
        doc = _read(path_of(n))
        out.append({"name": n, "title": doc.get("title", ""), "teaches": " ".join(str(doc.get("teaches", "")).split())})
    return out


@functools.lru_cache(maxsize=1)
def esxi_versions() -> dict[str, int]:
    with open(datasets.path("esxi_versions.csv"), newline="") as fh:
        return {r["version"]: int(r["maxHardwareVersion"]) for r in csv.DictReader(fh)}


#: A VM's memory and its reservation in MB are xsd:int in a VM's summary (VirtualMachineConfigSummary.memorySizeMB
#: and .memoryReservation), which every client reads: a larger memory cannot be reported. Source: vSphere Web
#: Services API 8.0U3, https://developer.broadcom.com/xapis/vsphere-web-services-api/8.0U3/vim.vm.Summary.ConfigSummary.html
XSD_INT_MAX = 2**31 - 1
MEMORY_WHY = " MB, the largest memory a VM's summary can report (memorySizeMB is an xsd:int)"
#: A host's memory in bytes is an xsd:long (HostHardwareSummary.memorySize): at most this many GB.
HOST_MEMORY_GB_MAX = (2**63 - 1) // 2**30

#: The largest world a scenario may ask for: four times the shipped large datacenter (200 hosts, 8,000 VMs),
#: which the lab builds in under 20 s with a simulator of about 330 MB on a 2-core machine
#: (benchmarks/scenario_limits.py).
MAX_HOSTS = 200
MAX_VMS = 8000
#: The largest scenario file read: 8,000 VMs written out one per line, each with a network and a device, take
#: 1.3 MiB. A 2 MiB file of 26,000 VMs is refused in seconds (benchmarks/scenario_limits.py); a 60 MB one, read
#: whole, once took minutes and 1.5 GB.
MAX_FILE_BYTES = 2 * 2**20


class _UniqueKeys(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader (libyaml's parser where PyYAML has it, ten times faster), except that a key given twice
    in one mapping (two VMs of one name) is an error, where YAML itself would keep the last silently."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # "? {a: b} : c": YAML allows it, a scenario has names
                raise yaml.constructor.ConstructorError(
                    None, None, "a key is a mapping or a list, where a name belongs", key_node.start_mark)
            # a plain key is compared as written (what YAML makes of it is the same text); others are built
            key = (key_node.value if isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":str")
                   else self.construct_object(key_node, deep=deep))
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return yaml.constructor.SafeConstructor.construct_mapping(self, node, deep=deep)


def _sizes(c, hosts: int, vms: int) -> None:
    """Refuse a world larger than the lab builds on a 2-core machine (MAX_HOSTS, MAX_VMS)."""
    if hosts > MAX_HOSTS:
        c.fail("hosts", f"{hosts:,} hosts; the lab builds at most {MAX_HOSTS:,}", fix=f"ask for at most {MAX_HOSTS:,}")
    if vms > MAX_VMS:
        c.fail("vms", f"{vms:,} VMs; the lab builds at most {MAX_VMS:,}", fix=f"ask for at most {MAX_VMS:,}")


def counts(doc: dict[str, Any]) -> tuple[int, int]:
    """(hosts, VMs) of a compiled scenario, generated ones included."""
    g = doc.get("generate")
    if g:
        return g["clusters"] * g["hostsPerCluster"], g["clusters"] * g["vmsPerCluster"]
    return len(doc["hosts"]), len(doc["vms"])


def _count_early(p: Path, node) -> None:
    """Refuse more hosts or VMs than the lab builds from the parsed document, before its objects are built (most
    of a large file's reading time); the same words as the check after it (_sizes)."""
    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        limit = {"hosts": MAX_HOSTS, "vms": MAX_VMS}.get(key.value)
        if limit is not None and isinstance(value, yaml.MappingNode) and len(value.value) > limit:
            raise ScenarioError(f"{p}: {key.value}: {len(value.value):,} {'VMs' if key.value == 'vms' else 'hosts'}; "
                                f"the lab builds at most {limit:,}.", fix=f"ask for at most {limit:,}")


def _read(p: Path) -> dict:
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:  # refused before it is parsed
        raise ScenarioError(f"{p}: {size / 2**20:,.1f} MiB; a scenario file is at most {MAX_FILE_BYTES // 2**20} MiB.",
                            fix="describe a large world with generate: (see large-datacenter.yaml)")
    try:
        loader = _UniqueKeys(p.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()  # the parse (fast in libyaml), before Python builds every object
            _count_early(p, node)
            doc = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{p}: not a text file (byte {e.start + 1} is not UTF-8).",
                            fix="save the scenario as UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        fix = ("give each its own name" if "given twice" in what
               else "correct that line (indentation, a missing ':' or bracket)")
        raise ScenarioError(f"{p}: not valid YAML{where} ({what}).", fix=fix) from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{p}: a scenario file is a mapping with title, teaches, hosts, vms, ...")
    return doc


class _Checker:
    """Validates one file, naming the file and field of the first problem."""

    def __init__(self, p: Path):
        self.p = p

    def fail(self, field: str, problem: str, fix: str | None = None):
        raise ScenarioError(f"{self.p}: {field}: {problem}" + ("." if fix else ""), fix=fix)

    def mapping(self, value, field: str, allowed: set[str]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(field, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            self.fail(f"{field}.{unknown[0]}", f"unknown field; allowed: {', '.join(sorted(allowed))}")
        return value

    def names(self, value, field: str, known: list[str] | None = None, allow_all: bool = False) -> list[str]:
        if allow_all and value == "all":
            return list(known or [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(field, "expected a list of names" + (" or 'all'" if allow_all else ""))
        if known is not None:
            for v in value:
                if v not in known:
                    self.fail(field, f"'{v}' is not defined; known: {', '.join(known)}")
        return list(value)

    def number(self, value, field: str, minimum: float = 0, integer: bool = True, maximum: float | None = None,
               why: str = ""):
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or value < minimum:
            self.fail(field, f"expected {'a whole number' if integer else 'a number'} of at least {minimum}, got {value!r}")
        if maximum is not None and value > maximum:
            self.fail(field, f"{value:,} is more than {maximum:,}{why}", fix=f"give {field} at most {maximum:,}")
        return value

    def choice(self, value, field: str, options: list[str]):
        if value not in options:
            self.fail(field, f"{value!r} is not one of {', '.join(map(str, options))}")
        return value


TOP = {"title", "teaches", "defaults", "clusters", "standalone", "hosts", "datastores", "networks", "vms",
       "generate", "migrationSeconds", "datacenter", "timeScale", "physicalMtu"}
HOST_FIELDS = {"cpu", "memoryGB", "cores", "version", "vmotion", "mtu", "state", "maintenance", "uplinkMbps",
               "duplex", "vmotionIp", "vmotionStack"}
VM_FIELDS = {"host", "datastore", "networks", "memoryMB", "memoryReservationMB", "cpus", "power", "version", "guest",
             "diskGB", "cpuBaseline", "devices", "nicConnected", "workload"}
WORKLOAD_FIELDS = {"dirtyRateMiBps", "hotSetMiB", "hotShare", "zeroShare"}
#: the workload of a VM whose scenario gives none (a profile of datasets/workloads.csv)
DEFAULT_WORKLOAD = "idle"
#: simulated seconds per real second the lab runs at when a scenario and `labkit sim start` say nothing (the
#: simulator's defaultTimeScale)
DEFAULT_TIME_SCALE = 50.0
HOST_DEFAULTS = {"cpu": "intel-icelake", "memoryGB": 256, "cores": 16, "version": "8.0.2", "vmotion": ["vmk1"],
                 "mtu": 1500, "state": "connected", "maintenance": False, "uplinkMbps": 10000, "duplex": "full"}
VM_DEFAULTS = {"memoryMB": 2048, "memoryReservationMB": 0, "cpus": 2, "power": "on", "version": "vmx-14",
               "guest": "otherGuest64", "diskGB": 16, "networks": [], "devices": [], "nicConnected": True}
# The physical NICs of a lab host (the engine's ESXi host: config.network.pnic), and the standard switch every host
# has, with vmnic0 as its uplink.
PNICS = ["vmnic0", "vmnic1", "vmnic2", "vmnic3"]
DEFAULT_SWITCH = "vSwitch0"
# "The name ... is limited to 32 characters" (API reference, HostNetworkSystem.AddVirtualSwitch).
MAX_SWITCH_NAME = 32


def compile(name_or_path: str) -> dict[str, Any]:
    """Check a scenario file and return the simulator's JSON document for it."""
    p = path_of(name_or_path)
    doc = _read(p)
    c = _Checker(p)
    c.mapping(doc, "(top level)", TOP)
    if not isinstance(doc.get("title"), str) or not doc["title"].strip():
        c.fail("title", "every scenario needs a one-line title")
    if not isinstance(doc.get("teaches"), str) or not doc["teaches"].strip():
        c.fail("teaches", "say in a few sentences what the scenario teaches")
    out: dict[str, Any] = {"name": p.stem, "datacenter": str(doc.get("datacenter", "Lab-DC")),
                           "evcModes": _evc_modes(), "clusters": [], "hosts": [], "datastores": [],
                           "networks": [], "vms": []}
    if "migrationSeconds" in doc:
        out["migrationSeconds"] = c.number(doc["migrationSeconds"], "migrationSeconds", 0, integer=False)
    if "timeScale" in doc:
        out["timeScale"] = c.number(doc["timeScale"], "timeScale", 0.001, integer=False, maximum=1e6,
                                    why=" simulated seconds per real second")
    if "physicalMtu" in doc:
        out["physicalMtu"] = c.number(doc["physicalMtu"], "physicalMtu", 1280, maximum=9216,
                                      why=" bytes, the largest jumbo frame the lab's physical switches take")
    out["defaultWorkload"] = workload_spec(c, "(default workload)", DEFAULT_WORKLOAD)
    defaults = c.mapping(doc.get("defaults"), "defaults", {"host", "vm"})
    host_defaults = {**HOST_DEFAULTS, **c.mapping(defaults.get("host"), "defaults.host", HOST_FIELDS)}
    vm_defaults = {**VM_DEFAULTS, **c.mapping(defaults.get("vm"), "defaults.vm", VM_FIELDS - {"host"})}

    if "generate" in doc:
        return _generated(c, doc, out, host_defaults)

    clusters = c.mapping(doc.get("clusters"), "clusters", set(map(str, doc.get("clusters") or {})))
    placement: dict[str, str] = {}
    for cname, cdef in clusters.items():
        cdef = c.mapping(cdef, f"clusters.{cname}", {"hosts", "evc", "drs", "ha"})
        evc_key = cdef.get("evc")
        if evc_key is not None:
            c.choice(evc_key, f"clusters.{cname}.evc", list(evc.modes()))
        out["clusters"].append({"name": cname, "evcMode": evc_key or "", "drs": bool(cdef.get("drs", False)),
                                "ha": bool(cdef.get("ha", False))})
        for h in c.names(cdef.get("hosts", []), f"clusters.{cname}.hosts"):
            if h in placement:
                c.fail(f"clusters.{cname}.hosts", f"host '{h}' is already in cluster {placement[h]}")
            placement[h] = cname
    for h in c.names(doc.get("standalone", []), "standalone"):
        if h in placement:
            c.fail("standalone", f"host '{h}' is already in cluster {placement[h]}")
        placement[h] = ""
    host_names = list(placement)
    if not host_names:
        c.fail("clusters", "a scenario needs at least one host (in clusters or standalone)")
    overrides = c.mapping(doc.get("hosts"), "hosts", set(host_names))
    evc_of = {cl["name"]: cl["evcMode"] for cl in out["clusters"]}
    for h in host_names:
        spec = {**host_defaults, **c.mapping(overrides.get(h), f"hosts.{h}", HOST_FIELDS)}
        out["hosts"].append(_host(c, f"hosts.{h}", h, placement[h], spec, evc_of.get(placement[h], "")))

    for dname, ddef in c.mapping(doc.get("datastores"), "datastores", set(map(str, doc.get("datastores") or {}))).items():
        ddef = c.mapping(ddef, f"datastores.{dname}", {"type", "capacityGB", "hosts"})
        out["datastores"].append({
            "name": dname,
            "type": c.choice(ddef.get("type", "VMFS"), f"datastores.{dname}.type", ["VMFS", "NFS", "NFS41", "vsan", "VVOL"]),
            "capacityGB": c.number(ddef.get("capacityGB", 2048), f"datastores.{dname}.capacityGB", 1),
            "hosts": c.names(ddef.get("hosts", "all"), f"datastores.{dname}.hosts", host_names, allow_all=True),
        })
    for nname, ndef in c.mapping(doc.get("networks"), "networks", set(map(str, doc.get("networks") or {}))).items():
        ndef = c.mapping(ndef, f"networks.{nname}", {"type", "switch", "uplinks", "vlan", "hosts"})
        kind = c.choice(ndef.get("type", "standard"), f"networks.{nname}.type", ["standard", "distributed"])
        if kind == "distributed" and not ndef.get("switch"):
            c.fail(f"networks.{nname}.switch", "a distributed port group needs the name of its switch")
        if kind == "distributed" and "uplinks" in ndef:
            c.fail(f"networks.{nname}.uplinks", "only a standard switch takes uplinks in a scenario file")
        switch = ndef.get("switch", DEFAULT_SWITCH if kind == "standard" else "")
        if not isinstance(switch, str) or not switch or (kind == "standard" and len(switch) > MAX_SWITCH_NAME):
            c.fail(f"networks.{nname}.switch", f"expected a switch name of 1 to {MAX_SWITCH_NAME} characters, got {switch!r}")
        uplinks = None
        if ndef.get("uplinks") is not None:
            uplinks = c.names(ndef["uplinks"], f"networks.{nname}.uplinks", PNICS)
            if len(set(uplinks)) != len(uplinks):
                c.fail(f"networks.{nname}.uplinks", f"a physical NIC is listed twice in {uplinks}")
        out["networks"].append({"name": nname, "type": kind, "switch": switch,
                                "vlan": c.number(ndef.get("vlan", 0), f"networks.{nname}.vlan", 0),
                                "hosts": c.names(ndef.get("hosts", "all"), f"networks.{nname}.hosts", host_names,
                                                 allow_all=True),
                                "uplinks": uplinks})
    _standard_switches(c, out["networks"])
    hosts_by_name = {h["name"]: h for h in out["hosts"]}
    taken: dict[str, str] = {}
    for h in out["hosts"]:
        ip = h["vmotionIp"].split("/")[0]
        if ip and ip in taken:
            c.fail(f"hosts.{h['name']}.vmotionIp", f"{ip} is already {taken[ip]}'s vMotion address")
        taken[ip] = h["name"]
    _sizes(c, len(out["hosts"]), len(doc.get("vms") or {}) if isinstance(doc.get("vms"), dict) else 0)
    for vname, vdef in c.mapping(doc.get("vms"), "vms", set(map(str, doc.get("vms") or {}))).items():
        field = f"vms.{vname}"
        spec = {**vm_defaults, **c.mapping(vdef, field, VM_FIELDS)}
        host = c.choice(spec.get("host"), f"{field}.host", host_names)
        out["vms"].append(_vm(c, field, vname, spec, hosts_by_name[host], out["datastores"], out["networks"],
                              evc_of.get(hosts_by_name[host]["cluster"], "")))
    _admission(c, out["vms"], hosts_by_name)
    out["vcenter"] = _vcenter(c, "hosts", [h["version"] for h in out["hosts"]])
    return out


def _vcenter(c: _Checker, field: str, host_versions: list[str]) -> dict:
    """The vCenter release that manages the scenario's hosts (labkit.releases.vcenter_for)."""
    try:
        vc = releases.vcenter_for(host_versions)
    except LabkitError as e:
        c.fail(field, e.args[0])
    return {"version": vc["version"], "build": vc["build"], "apiVersion": vc["apiVersion"]}


def _standard_switches(c: _Checker, networks: list[dict]) -> None:
    """Give every standard port group its switch's uplinks, and refuse what ESXi would refuse.

    A switch other than vSwitch0 is created on every host one of its port groups reaches, with the same uplinks
    there; its port groups must agree on them, and at least one must say them ([] for an internal-only switch).
    vSwitch0 keeps vmnic0 unless its port groups say otherwise. A physical NIC bridges one switch of a host
    (AddVirtualSwitch: ResourceInUse "if the physical network adapter being bridged is already in use").
    """
    said: dict[str, tuple[str, list[str]]] = {}  # switch -> (the network that said its uplinks, the uplinks)
    standard = [n for n in networks if n["type"] == "standard"]
    for n in standard:
        if n["uplinks"] is None:
            continue
        first = said.setdefault(n["switch"], (n["name"], n["uplinks"]))
        if sorted(first[1]) != sorted(n["uplinks"]):
            c.fail(f"networks.{n['name']}.uplinks", f"{n['switch']} already has uplinks {first[1]} (networks.{first[0]}); "
                                                    "port groups of one switch give the same uplinks")
    for n in standard:
        if n["switch"] in said:
            n["uplinks"] = list(said[n["switch"]][1])
        elif n["switch"] != DEFAULT_SWITCH:
            c.fail(f"networks.{n['name']}.uplinks", f"say the physical NICs of switch {n['switch']} (from {', '.join(PNICS)}), "
                                                    "or [] for an internal-only switch; only vSwitch0 has a default (vmnic0)")
    owner: dict[tuple[str, str], str] = {}  # (host, pnic) -> switch
    hosts = sorted({h for n in networks for h in n["hosts"]})
    for h in hosts:  # vSwitch0 is on every host, with vmnic0 unless its port groups there say otherwise
        if not any(n["switch"] == DEFAULT_SWITCH and n["uplinks"] is not None and h in n["hosts"] for n in standard):
            owner[(h, "vmnic0")] = DEFAULT_SWITCH
    for n in standard:
        for h in n["hosts"]:
            for p in n["uplinks"] or []:
                other = owner.setdefault((h, p), n["switch"])
                if other != n["switch"]:
                    c.fail(f"networks.{n['name']}.uplinks", f"{p} on host {h} is already an uplink of {other}; "
                                                            "a physical NIC backs one switch of a host")


def _admission(c: _Checker, vms: list[dict], hosts: dict[str, dict]) -> None:
    """Refuse powered-on VMs whose memory reservations a host could not have admitted.

    "When you power on a virtual machine, the system checks the amount of CPU and memory resources that have not
    yet been reserved. Based on the available unreserved resources, the system determines whether it can
    guarantee the reservation" (vSphere Resource Management, "Admission Control"). The lab leaves out overhead, so
    this refuses only what no host could reach.
    """
    reserved: dict[str, int] = {}
    for v in vms:
        if v["powerState"] != "poweredOn":
            continue
        reserved[v["host"]] = reserved.get(v["host"], 0) + v["memoryReservationMB"]
        if reserved[v["host"]] > hosts[v["host"]]["memoryMB"]:
            c.fail(f"vms.{v['name']}.memoryReservationMB",
                   f"the powered-on VMs of {v['host']} reserve {reserved[v['host']]} MB, more than its "
                   f"{hosts[v['host']]['memoryMB']} MB; admission control would not have powered this VM on")


def _evc_modes() -> dict:
    tiers: dict[str, int] = {}
    out = {}
    for k, m in evc.modes().items():  # each vendor's baselines, oldest first
        tiers[m["vendor"]] = tiers.get(m["vendor"], 0) + 1
        out[k] = {"vendor": m["vendor"], "label": m["label"], "tier": tiers[m["vendor"]],
                  "features": {f: "1" for f in sorted(evc.features(k))}}
    return out


def _cpu_model(mode: str) -> str:
    label = evc.modes()[mode]["label"]
    return f"{label.replace(' generation', '')} class CPU (lab model)"


def _host(c: _Checker, field: str, name: str, cluster: str, spec: dict, evc_mode: str) -> dict:
    cpu = c.choice(spec["cpu"], f"{field}.cpu", list(evc.modes()))
    version = str(spec["version"])
    c.choice(version, f"{field}.version", list(esxi_versions()))
    vmotion = spec["vmotion"]
    if vmotion is True:
        vmotion = ["vmk1"]
    elif vmotion is False or vmotion is None:
        vmotion = []
    vnics = c.names(vmotion, f"{field}.vmotion")
    if evc_mode and evc.vendor(evc_mode) != evc.vendor(cpu):
        c.fail(f"{field}.cpu", f"{cpu} cannot join a cluster with EVC mode {evc_mode} (another CPU vendor)")
    if evc_mode and not evc.features(evc_mode) <= evc.features(cpu):
        c.fail(f"{field}.cpu", f"{cpu} lacks features of the cluster's EVC mode {evc_mode}")
    speed = c.number(spec["uplinkMbps"], f"{field}.uplinkMbps", 10)
    duplex = c.choice(spec["duplex"], f"{field}.duplex", ["full", "half"])
    if duplex == "half" and speed > 1000:
        c.fail(f"{field}.duplex", f"half duplex at {speed} Mb/s: Ethernet above 1000 Mb/s is full duplex only "
                                  "(IEEE 802.3); give uplinkMbps 1000 or less")
    return {
        "name": name, "cluster": cluster, "vendor": evc.vendor(cpu), "cpuModel": _cpu_model(cpu),
        "maxEVCModeKey": cpu, "features": {f: "1" for f in sorted(evc.features(cpu))},
        "memoryMB": c.number(spec["memoryGB"], f"{field}.memoryGB", 1, maximum=HOST_MEMORY_GB_MAX,
                             why=" GB, the largest memory the vSphere API can report for a host (memorySize, in "
                                 "bytes, is an xsd:long)") * 1024,
        "cores": c.number(spec["cores"], f"{field}.cores", 1),
        "version": version, "build": releases.esxi()[version]["build"],
        "apiVersion": releases.esxi()[version]["apiVersion"], "maxHardwareVersion": esxi_versions()[version],
        "connectionState": c.choice(spec["state"], f"{field}.state", ["connected", "disconnected", "notResponding"]),
        "maintenance": bool(spec["maintenance"]), "vmotionVnics": vnics,
        "mtu": c.number(spec["mtu"], f"{field}.mtu", 1280),
        "uplinkMbps": speed, "fullDuplex": duplex == "full",
        "vmotionIp": _cidr(c, f"{field}.vmotionIp", spec.get("vmotionIp")),
        "vmotionStack": bool(spec.get("vmotionStack", False)),
    }


def _cidr(c: _Checker, field: str, value) -> str:
    """An IPv4 address with its prefix length ("10.10.2.12/24"), or "" when not given."""
    if value is None:
        return ""
    try:
        iface = ipaddress.IPv4Interface(str(value))
    except ValueError:
        c.fail(field, f"{value!r} is not an IPv4 address with a prefix length, like 10.10.2.12/24")
    if "/" not in str(value):
        c.fail(field, f"{value!r} has no prefix length; write it like 10.10.2.12/24")
    if iface.network.prefixlen < 31 and iface.ip in (iface.network.network_address, iface.network.broadcast_address):
        c.fail(field, f"{value} is its subnet's {'network' if iface.ip == iface.network.network_address else 'broadcast'}"
                      " address, which no adapter can hold; give a host address such as "
                      f"{iface.network.network_address + 11}/{iface.network.prefixlen}")
    return str(iface)


@functools.lru_cache(maxsize=1)
def _workload_profiles() -> dict[str, dict]:
    with open(datasets.path("workloads.csv"), newline="") as f:
        return {row["profile"]: row for row in csv.DictReader(f)}


def workload_spec(c: _Checker, field: str, value) -> dict:
    """A VM's workload for the simulator: a profile of datasets/workloads.csv by name, or a mapping of
    dirtyRateMiBps (MiB/s the guest writes), hotSetMiB (its writable working set; absent: none), hotShare (the
    share of writes that land in it, default 1) and zeroShare (the share of memory never written, default 0)."""
    table = _workload_profiles()
    if isinstance(value, str):
        c.choice(value, field, list(table))
        row = table[value]
        hot = float(row["hot_set_mib"]) if row["hot_set_mib"].strip() else None
        return {"profile": value, "dirtyRateMiBps": float(row["dirty_rate_mibps"]), "hotSetMiB": hot,
                "hotShare": float(row["hot_share"]), "zeroShare": float(row["zero_share"])}
    if not isinstance(value, dict):
        c.fail(field, f"expected a profile name ({', '.join(table)}) or a mapping of {', '.join(sorted(WORKLOAD_FIELDS))}, "
                      f"got {value!r}")
    w = c.mapping(value, field, WORKLOAD_FIELDS)
    if "dirtyRateMiBps" not in w:
        c.fail(f"{field}.dirtyRateMiBps", "a workload needs dirtyRateMiBps, or give a profile's name instead: "
                                          + ", ".join(table))
    hot = w.get("hotSetMiB")
    out = {"profile": "custom", "dirtyRateMiBps": float(c.number(w["dirtyRateMiBps"], f"{field}.dirtyRateMiBps", 0,
                                                                 integer=False)),
           "hotSetMiB": None if hot is None else float(c.number(hot, f"{field}.hotSetMiB", 0, integer=False)),
           "hotShare": float(c.number(w.get("hotShare", 1.0), f"{field}.hotShare", 0, integer=False, maximum=1)),
           "zeroShare": float(c.number(w.get("zeroShare", 0.0), f"{field}.zeroShare", 0, integer=False, maximum=1))}
    return out


def requirement(mode: str) -> dict[str, str]:
    """A VM's CPU feature requirement when it was powered on under ``mode``."""
    return {f: "Bool:Min:1" for f in sorted(evc.features(mode))}


def _vm(c: _Checker, field: str, name: str, spec: dict, host: dict, datastores: list[dict],
        networks: list[dict], host_evc: str) -> dict:
    if not datastores:
        c.fail(f"{field}.datastore", "the scenario defines no datastore for the VM's files; add one under datastores:")
    ds = c.choice(spec.get("datastore"), f"{field}.datastore", [d["name"] for d in datastores])
    if host["name"] not in next(d["hosts"] for d in datastores if d["name"] == ds):
        c.fail(f"{field}.datastore", f"{ds} is not mounted on the VM's host {host['name']}")
    nets = c.names(spec["networks"], f"{field}.networks", [n["name"] for n in networks])
    for n in nets:
        if host["name"] not in next(x["hosts"] for x in networks if x["name"] == n):
            c.fail(f"{field}.networks", f"{n} does not reach the VM's host {host['name']}")
    version = str(spec["version"])
    if not version.startswith("vmx-"):
        version = f"vmx-{version}"
    if not version[4:].isdigit():
        c.fail(f"{field}.version", f"{spec['version']!r} is not a hardware version like vmx-19")
    power = spec["power"]
    if isinstance(power, bool):  # YAML reads a bare on/off as a boolean
        power = "on" if power else "off"
    power = c.choice(power, f"{field}.power", ["on", "off", "suspended"])
    running = power != "off"  # a suspended VM keeps what it was powered on with
    if power == "on" and host["maintenance"]:
        c.fail(f"{field}.power", f"host {host['name']} is in maintenance mode, where vCenter powers on no VM; "
                                 "power the VM off or suspend it, or place it on another host")
    # the EVC mode the VM was powered on under: its own baseline, else its cluster's, else its host's CPU
    if spec.get("cpuBaseline") is not None:
        c.choice(spec["cpuBaseline"], f"{field}.cpuBaseline", list(evc.modes()))
        if not running:
            c.fail(f"{field}.cpuBaseline", "a powered-off VM has no CPU baseline (vCenter records one when the VM "
                                           "powers on); remove cpuBaseline or power the VM on")
        _check_baseline(c, f"{field}.cpuBaseline", spec["cpuBaseline"], host, host_evc)
    baseline = spec.get("cpuBaseline") or host_evc or host["maxEVCModeKey"]
    memory = c.number(spec["memoryMB"], f"{field}.memoryMB", 4, maximum=XSD_INT_MAX, why=MEMORY_WHY)
    reservation = c.number(spec["memoryReservationMB"], f"{field}.memoryReservationMB", 0, maximum=XSD_INT_MAX,
                           why=MEMORY_WHY)
    if reservation > memory:
        c.fail(f"{field}.memoryReservationMB", f"{reservation} MB is more than the VM's {memory} MB of memory; "
                                               "a memory reservation is at most the configured memory")
    devices = [_device(c, f"{field}.devices[{i}]", d, ds, host, datastores) for i, d in enumerate(spec["devices"])]
    return {
        "name": name, "host": host["name"], "datastore": ds, "networks": nets,
        "memoryMB": memory, "memoryReservationMB": reservation,
        "cpus": c.number(spec["cpus"], f"{field}.cpus", 1),
        "powerState": {"on": "poweredOn", "off": "poweredOff", "suspended": "suspended"}[power],
        "version": version, "guestId": str(spec["guest"]), "diskGB": c.number(spec["diskGB"], f"{field}.diskGB", 1),
        "featureRequirement": requirement(baseline) if running else {},
        "minRequiredEVCModeKey": baseline if running else "",
        "devices": devices, "nicConnected": bool(spec["nicConnected"]),
        "workload": workload_spec(c, f"{field}.workload", spec["workload"]) if spec.get("workload") is not None else None,
    }


def _check_baseline(c: _Checker, field: str, baseline: str, host: dict, host_evc: str) -> None:
    """A running VM's baseline is one its host could have powered it on under.

    A VM in an EVC cluster powers on under the cluster's mode at most, and vCenter refuses to lower a cluster's
    mode below a running VM's (ActiveVMsBlockingEVC); outside EVC, the host's CPU is the limit.
    """
    above = host_evc or host["maxEVCModeKey"]
    if evc.vendor(baseline) == evc.vendor(above) and evc.features(baseline) <= evc.features(above):
        return
    if host_evc:
        c.fail(field, f"{baseline} is above the cluster's EVC mode {host_evc}: a VM in an EVC cluster powers on under "
                      "the cluster's mode at most, and vCenter does not lower the mode below a running VM's "
                      "(ActiveVMsBlockingEVC)")
    c.fail(field, f"{baseline} needs CPU features that host {host['name']} ({host['maxEVCModeKey']}) lacks: a running "
                  "VM's baseline is at most its host's CPU")


DEVICE_FIELDS = {"kind", "backing", "connected", "datastore", "vmotion"}
BACKINGS = {"cdrom": ["host", "iso", "client"], "serial": ["host"], "pci": ["host"], "usb": ["host"]}


def _device(c: _Checker, field: str, d, vm_datastore: str, host: dict, datastores: list[dict]) -> dict:
    d = c.mapping(d, field, DEVICE_FIELDS)
    kind = c.choice(d.get("kind"), f"{field}.kind", list(BACKINGS))
    backing = c.choice(d.get("backing", "host"), f"{field}.backing", BACKINGS[kind])
    if "vmotion" in d and kind != "usb":
        c.fail(f"{field}.vmotion", "only a USB device is configured for vMotion (VirtualUSBRemoteHostBackingInfo)")
    vmotion = d.get("vmotion", False)
    if not isinstance(vmotion, bool):
        c.fail(f"{field}.vmotion", f"expected true or false, got {vmotion!r}")
    datastore = ""
    if kind == "cdrom" and backing == "iso":
        datastore = c.choice(d.get("datastore", vm_datastore), f"{field}.datastore", [x["name"] for x in datastores])
        if host["name"] not in next(x["hosts"] for x in datastores if x["name"] == datastore):
            c.fail(f"{field}.datastore", f"{datastore} is not mounted on the VM's host {host['name']}")
    elif "datastore" in d:
        c.fail(f"{field}.datastore", "only a CD/DVD drive with an ISO image (backing: iso) has a datastore")
    return {"kind": kind, "backing": backing, "connected": bool(d.get("connected", True)),
            "datastore": datastore, "vmotion": vmotion}


def _generated(c: _Checker, doc: dict, out: dict, host_defaults: dict) -> dict:
    g = c.mapping(doc["generate"], "generate", {"clusters", "hostsPerCluster", "vmsPerCluster", "host", "vmMemoryMB"})
    host_spec = {**host_defaults, **c.mapping(g.get("host"), "generate.host", HOST_FIELDS)}
    host = _host(c, "generate.host", "", "", host_spec, "")
    out["generate"] = {
        "clusters": c.number(g.get("clusters", 1), "generate.clusters", 1),
        "hostsPerCluster": c.number(g.get("hostsPerCluster", 1), "generate.hostsPerCluster", 1),
        "vmsPerCluster": c.number(g.get("vmsPerCluster", 1), "generate.vmsPerCluster", 0),
        "host": host,
        "vmMemoryMB": c.number(g.get("vmMemoryMB", 2048), "generate.vmMemoryMB", 4),
        "featureRequirement": requirement(host["maxEVCModeKey"]),
    }
    out["vcenter"] = _vcenter(c, "generate.host.version", [host["version"]])
    _sizes(c, *counts(out))
    return out


def write(name: str, folder: Path) -> Path:
    """Compile ``name`` into ``folder``; returns the JSON file the simulator loads."""
    doc = compile(name)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"scenario-{doc['name']}.json"
    # compact, so that json's C encoder writes it: indented, a 2,000-VM world took 0.3 s more to write
    target.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    return target
