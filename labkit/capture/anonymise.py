"""Pseudonyms for a captured scenario: every name and IP address replaced, the mapping kept apart.

Pure. A scenario holds names (datacenter, clusters, hosts, datastores, networks, switches, VMs) and the vMotion
adapters' IPv4 addresses; it holds no MAC address, UUID, annotation or custom field (the lab makes up its own
MACs and UUIDs, and capture does not read annotations or custom fields), so nothing else needs replacing.

- A name becomes its kind and a number: ``host-03``, ``vm-0042``. Numbers follow the real names' sorted order;
  with an earlier mapping, every name keeps its pseudonym and new names take the next numbers, so a pseudonym is
  stable from one capture to the next. The numbers reveal nothing of the names (no hash to guess against).
- ``vSwitch0``, the standard switch every ESXi host has (and the lab's built-in one), keeps its name: it is
  ESXi's default, not the estate's.
- An address keeps its place in its subnet; each real subnet becomes one of 10.0.0.0/8, taken in order, of the
  same size. Two hosts in one subnet stay in one subnet, and hosts in different subnets stay apart (what
  routing between vMotion adapters needs).
"""
from __future__ import annotations

import copy
import ipaddress

from .build import Gap

PREFIX = {"datacenter": "dc", "cluster": "cluster", "host": "host", "datastore": "ds", "network": "net",
          "switch": "switch", "vm": "vm"}
#: names that are ESXi's defaults, not the estate's
KEPT = {("switch", "vSwitch0")}
POOL = ipaddress.IPv4Network("10.0.0.0/8")


def names_in(doc: dict) -> dict[str, set[str]]:
    """Every name a scenario document holds, by kind."""
    found: dict[str, set[str]] = {k: set() for k in PREFIX}
    if doc.get("datacenter"):
        found["datacenter"].add(doc["datacenter"])
    for cl, spec in (doc.get("clusters") or {}).items():
        found["cluster"].add(cl)
        found["host"].update(spec.get("hosts") or [])
    found["host"].update(doc.get("standalone") or [])
    found["host"].update(doc.get("hosts") or {})
    for ds, spec in (doc.get("datastores") or {}).items():
        found["datastore"].add(ds)
    for net, spec in (doc.get("networks") or {}).items():
        found["network"].add(net)
        if spec.get("switch"):
            found["switch"].add(spec["switch"])
    for vm, spec in (doc.get("vms") or {}).items():
        found["vm"].add(vm)
    return found


class Pseudonyms:
    """Real name -> pseudonym, per kind, and real subnet -> pseudonymous subnet; built from an earlier mapping
    (the ``mapping`` dict :meth:`mapping` wrote) when there is one."""

    def __init__(self, earlier: dict | None = None):
        self.names: dict[str, dict[str, str]] = {k: {} for k in PREFIX}
        self.subnets: dict[str, str] = {}
        earlier = earlier or {}
        for kind, table in (earlier.get("names") or {}).items():
            if kind in self.names:
                self.names[kind].update({real: pseudo for pseudo, real in table.items()})
        self.subnets.update({real: pseudo for pseudo, real in (earlier.get("subnets") or {}).items()})

    def assign(self, found: dict[str, set[str]]) -> None:
        """Give every name of ``found`` a pseudonym (kept ones keep theirs)."""
        for kind, real_names in found.items():
            table = self.names[kind]
            taken = [int(p.rsplit("-", 1)[1]) for p in table.values() if p.rsplit("-", 1)[-1].isdigit()]
            width = max(2, len(str(len(real_names) + len(table))))
            n = max(taken, default=0)
            for real in sorted(real_names):
                if real in table:
                    continue
                if (kind, real) in KEPT:
                    table[real] = real
                    continue
                n += 1
                table[real] = f"{PREFIX[kind]}-{n:0{width}d}"

    def name(self, kind: str, real: str) -> str:
        return self.names[kind].get(real, real)

    def address(self, cidr: str) -> str:
        """The pseudonymous address of ``cidr`` ("10.10.1.12/24"): same prefix length, same place in its subnet."""
        iface = ipaddress.IPv4Interface(cidr)
        net = str(iface.network)
        if net not in self.subnets:
            self.subnets[net] = str(self._next_subnet(iface.network.prefixlen))
        pseudo = ipaddress.IPv4Network(self.subnets[net])
        offset = int(iface.ip) - int(iface.network.network_address)
        return f"{pseudo.network_address + offset}/{pseudo.prefixlen}"

    def _next_subnet(self, prefix: int) -> ipaddress.IPv4Network:
        used = [ipaddress.IPv4Network(s) for s in self.subnets.values()]
        for candidate in POOL.subnets(new_prefix=max(prefix, POOL.prefixlen)):
            if not any(candidate.overlaps(u) for u in used):
                return candidate
        raise ValueError("more subnets than 10.0.0.0/8 holds")

    def mapping(self) -> dict:
        """The mapping file's content: pseudonym -> real, per kind; pseudonymous subnet -> real."""
        return {"about": "labkit capture: each pseudonym and the real name it stands for. Keep this file local: "
                         "it is not part of the scenario, and it names your estate.",
                "names": {k: {p: r for r, p in sorted(t.items(), key=lambda rp: rp[1]) if (k, r) not in KEPT}
                          for k, t in self.names.items() if t},
                "subnets": {p: r for r, p in sorted(self.subnets.items(), key=lambda rp: rp[1])}}


def anonymise(doc: dict, gaps: list[Gap], earlier: dict | None = None) -> tuple[dict, list[str], dict]:
    """The document with every name and address replaced, the gaps as lines in pseudonyms, and the mapping.

    ``earlier`` is an earlier capture's mapping (its pseudonyms are kept). The document given is not changed.
    """
    ps = Pseudonyms(earlier)
    found = names_in(doc)
    for g in gaps:
        found.setdefault(g.kind, set()).add(g.name)
        for kind, name in g.refs:
            found[kind].add(name)
    ps.assign(found)
    n = ps.name
    out = copy.deepcopy(doc)
    if "datacenter" in out:
        out["datacenter"] = n("datacenter", out["datacenter"])
    if "clusters" in out:
        out["clusters"] = {n("cluster", cl): {**spec, "hosts": [n("host", h) for h in spec.get("hosts") or []]}
                           for cl, spec in out["clusters"].items()}
    if "standalone" in out:
        out["standalone"] = [n("host", h) for h in out["standalone"]]
    if "hosts" in out:
        hosts = {}
        for h, spec in out["hosts"].items():
            if spec.get("vmotionIp"):
                spec = {**spec, "vmotionIp": ps.address(spec["vmotionIp"])}
            hosts[n("host", h)] = spec
        out["hosts"] = hosts

    def members(v):
        return v if v == "all" else [n("host", h) for h in v]

    if "datastores" in out:
        out["datastores"] = {n("datastore", d): {**spec, "hosts": members(spec["hosts"])}
                             for d, spec in out["datastores"].items()}
    if "networks" in out:
        nets = {}
        for name, spec in out["networks"].items():
            spec = {**spec, "hosts": members(spec["hosts"])}
            if spec.get("switch"):
                spec["switch"] = n("switch", spec["switch"])
            nets[n("network", name)] = spec
        out["networks"] = nets
    if "vms" in out:
        vms = {}
        for name, spec in out["vms"].items():
            spec = dict(spec)
            spec["host"] = n("host", spec["host"])
            if "datastore" in spec:
                spec["datastore"] = n("datastore", spec["datastore"])
            if "networks" in spec:
                spec["networks"] = [n("network", x) for x in spec["networks"]]
            if "devices" in spec:
                spec["devices"] = [{**d, **({"datastore": n("datastore", d["datastore"])} if "datastore" in d else {})}
                                   for d in spec["devices"]]
            vms[n("vm", name)] = spec
        out["vms"] = vms
    return out, [g.line(n) for g in gaps], ps.mapping()
