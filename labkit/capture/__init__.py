"""``labkit capture``: a vCenter's inventory as a lab scenario the lab world replays.

::

    from labkit import capture
    result = capture.capture(session)          # reads only; anonymised unless anonymise=False
    capture.write(result, "estate.yaml")       # the scenario, and estate.mapping.json beside it
    labkit.connect(scenario="estate.yaml")     # the lab world of it, which refuses what that vCenter refused

What is read (:mod:`.read`): hosts (CPU EVC baseline, ESXi version, state, memory, cores, vMotion adapters,
their MTU, address and TCP/IP stack, physical NICs' speed), clusters (EVC mode, DRS, HA), datastores and the
hosts that mount them, standard and distributed port groups and their hosts, and VMs (power state, memory and
reservation, vCPUs, hardware version, guest, disks, NICs, host-backed and image-backed devices, the CPU baseline
recorded at power-on). What the scenario format cannot express is named, never dropped silently
(:class:`.build.Gap`). Not read at all, because vCenter does not hold them: the guests' memory workloads and the
physical network's MTU (the lab's defaults stand in), and, deliberately, annotations and custom fields.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import yaml

from ..errors import LabkitError
from . import anonymise as _anonymise
from .build import Gap, build
from .read import Inventory, read

__all__ = ["capture", "write", "to_yaml", "Capture", "Gap", "Inventory", "build", "read"]


@dataclasses.dataclass
class Capture:
    """A captured scenario: ``doc`` (the scenario file's content as a dict), ``gaps`` (one line per fact the
    format cannot express, in the document's names), ``mapping`` (pseudonym -> real, or None when not
    anonymised)."""

    doc: dict
    gaps: list[str]
    mapping: dict | None

    @property
    def counts(self) -> tuple[int, int]:
        return len(self.doc.get("hosts") or {}), len(self.doc.get("vms") or {})


def capture(session, *, anonymise: bool = True, earlier_mapping: dict | None = None,
            progress: bool = False) -> Capture:
    """Read ``session``'s vCenter (one paged PropertyCollector read; nothing else is called) into a scenario.

    With ``anonymise`` (the default) every name and address is a pseudonym (:mod:`.anonymise`);
    ``earlier_mapping`` (a mapping file's content) keeps an earlier capture's pseudonyms.
    """
    from tqdm.auto import tqdm

    with tqdm(total=3, desc="capture", unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("reading the inventory")
        inv = read(session)
        bar.update()
        bar.set_postfix_str("building the scenario")
        doc, gaps = build(inv)
        bar.update()
        if anonymise:
            bar.set_postfix_str("pseudonyms")
            doc, lines, mapping = _anonymise.anonymise(doc, gaps, earlier_mapping)
        else:
            lines, mapping = [g.line() for g in gaps], None
        bar.update()
    hosts, vms = len(doc.get("hosts") or {}), len(doc.get("vms") or {})
    clusters = len(doc.get("clusters") or {})
    doc["title"] = (f"A captured estate: {hosts} host{'s' * (hosts != 1)} in {clusters} "
                    f"cluster{'s' * (clusters != 1)}, {vms} VM{'s' * (vms != 1)}")
    doc["teaches"] = ("A vCenter's inventory as labkit capture read it" + (", anonymised" if anonymise else "")
                      + ". Replayed, the lab refuses and allows each migration as that vCenter did when it was read. "
                        "What the scenario format cannot express is listed at the top of the file.")
    return Capture(_ordered(doc), lines, mapping)


ORDER = ["title", "teaches", "datacenter", "clusters", "standalone", "hosts", "datastores", "networks", "vms"]


def _ordered(doc: dict) -> dict:
    return {k: doc[k] for k in ORDER if k in doc}


def _dump(data, **kw) -> str:
    """yaml.safe_dump's text, by libyaml's emitter where PyYAML has it (the same text, several times faster: a
    2,000-VM capture took 1.5 s to write with the pure-Python one)."""
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), **kw)


def _entry(name: str, spec) -> str:
    """``name: {spec in flow style}``, one line. An emitter writes a key it deems too long or odd as a complex key
    (``? key : value``; libyaml counts bytes, so 43 CJK characters are enough), which is not a line of a block
    mapping: such a name is written as a double-quoted scalar instead (JSON's string syntax is YAML's)."""
    line = _dump({name: spec}, default_flow_style=True, width=10**6, sort_keys=False).strip()[1:-1]
    if not line.startswith("?"):
        return line
    value = _dump(spec, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return f"{json.dumps(name)}: {value}"


def to_yaml(result: Capture) -> str:
    """The scenario file's text: the gaps as comments at the top, then one line per cluster, host, datastore,
    network and VM."""
    out = ["# Captured by labkit capture." + (" Names and addresses are pseudonyms." if result.mapping else
                                              " Real names: keep this file private.")]
    if result.gaps:
        out.append(f"# The scenario format cannot express {len(result.gaps)} fact{'s' * (len(result.gaps) != 1)} "
                   "that capture read:")
        out += [f"#   - {line}" for line in result.gaps]
    else:
        out.append("# The scenario expresses everything capture read.")
    for key, value in result.doc.items():
        if isinstance(value, dict):
            out.append(f"{key}:")
            for name, spec in value.items():
                out.append(f"  {_entry(name, spec)}")
        elif isinstance(value, list):
            out.append(f"{key}: " + _dump(value, default_flow_style=True, width=10**6).strip())
        else:
            out.append(_dump({key: value}, default_flow_style=False, width=10**6, sort_keys=False).strip())
    return "\n".join(out) + "\n"


def mapping_path(scenario: Path) -> Path:
    """Where the mapping of ``estate.yaml`` goes by default: ``estate.mapping.json`` beside it."""
    return scenario.with_name(scenario.stem + ".mapping.json")


def load_mapping(path: Path) -> dict | None:
    """An earlier mapping file's content, or None when there is none. Raises LabkitError for an unreadable one."""
    if not path.exists():
        return None
    try:
        got = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LabkitError(f"{path} is not a mapping file labkit capture wrote ({e}).",
                          fix="move it away, or give --mapping another path") from None
    if not isinstance(got, dict) or not isinstance(got.get("names"), dict):
        raise LabkitError(f"{path} is not a mapping file labkit capture wrote.",
                          fix="move it away, or give --mapping another path")
    return got


def write(result: Capture, path, mapping: Path | None = None) -> list[str]:
    """Write the scenario to ``path`` and, when anonymised, the mapping (default :func:`mapping_path`), readable
    by its owner only. Returns the lines the command prints."""
    path = Path(path)
    path.write_text(to_yaml(result), encoding="utf-8")
    hosts, vms = result.counts
    lines = [f"wrote {path}: {hosts} hosts, {vms} VMs" + (", anonymised" if result.mapping else ", real names")]
    if result.mapping is not None:
        mpath = Path(mapping) if mapping else mapping_path(path)
        fd = os.open(mpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result.mapping, fh, indent=1)
        os.chmod(mpath, 0o600)
        lines.append(f"wrote {mpath}: the real names behind the pseudonyms (keep it local; share only {path.name})")
    if result.gaps:
        lines.append(f"cannot express {len(result.gaps)} fact{'s' * (len(result.gaps) != 1)} (also listed in "
                     f"{path.name}):")
        lines += [f"  {g}" for g in result.gaps]
    lines.append(f"replay it: labkit sim start --scenario {path}")
    return lines
