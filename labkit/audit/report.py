"""Writing an audit to a folder: ``report.html`` for people, ``verdicts.csv`` and ``findings.json`` for scripts.

* ``report.html`` opens offline: one page, its styles and a small sorting script inline, plotly.js inline once
  (the first figure carries it, the next are drawn with ``include_plotlyjs=False``), no address outside the page.
  Sections: the vCenter and the counts; what could not be read; readiness per cluster and host; the verdict
  heatmap and the verdicts per host; the findings per fault; every blocked or warned pair (the first
  :data:`MAX_ROWS`; all of them are in the two files); the blocking devices; where labkit and vCenter disagree;
  the sources. Every table sorts by a click on a column's heading.
* ``verdicts.csv``: one row per VM × host pair, sorted by VM then host; lists joined with ``;``; ``agree`` and
  the ``vcenter_*`` columns empty for a pair vCenter was not asked about.
* ``findings.json``: the vCenter, the counts, how vCenter was asked, what could not be read and which checks that
  left out, the readiness of clusters and hosts, the findings (the same pairs and faults as the CSV's blocked and
  warned rows), the counts per fault, the devices and the disagreements.

The three files are deterministic: sorted, with no time in them except the one line at the foot of the HTML
page. None holds a password or a URL's user name and password: the vCenter appears as its address without
credentials (:attr:`labkit.endpoint.Endpoint.url`).
"""
from __future__ import annotations

import html
import json
import csv
import math
from pathlib import Path

import pandas as pd

from . import figures
from .readiness import SOURCES

#: rows of blocked and warned pairs drawn in the page (the files hold all)
MAX_ROWS = 2000
RULE_SOURCES = ("labkit's rules mirror vCenter's checks as the vSphere API reference documents them; each rule's "
                "sources are in docs/vmotion-checks.md. Each fault's meaning, fix and source come from "
                "datasets/fault_guide.csv.")
#: the sources of what the report says about vCenter's own check and about refused reads
REPORT_SOURCES = (
    "vSphere API reference, VirtualMachineProvisioningChecker.QueryVMotionCompatibilityEx_Task: privilege "
    "System.View; a CheckResult for each vm/host combination; every VM assumed powered on, every host connected and "
    "not in maintenance mode",
    "vSphere API reference, NoPermission (privilegeId, object) and MissingProperty (SecurityError when the session "
    "may not read a value)",
)


# -- files for scripts ---------------------------------------------------------------------------------------------
def _plain(value):
    """A JSON-ready value: lists and dicts as they are, NaN and NA as None, numpy scalars as Python's."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(table: pd.DataFrame) -> list[dict]:
    """A table as a list of JSON-ready dicts, in row order."""
    return [_plain(r) for r in table.to_dict("records")]


def document(audit) -> dict:
    """findings.json's content."""
    return {
        "vcenter": audit.about,
        "counts": audit.counts(),
        "vcenter_verdicts": audit.vcenter_summary(),
        "unread": [r.as_dict() for r in audit.refusals],
        "not_checked": audit.not_checked,
        "clusters": records(audit.clusters),
        "hosts": records(audit.hosts),
        "findings": records(audit.findings),
        "by_fault": records(audit.by_fault),
        "devices": records(audit.devices),
        "disagreements": records(audit.disagreements),
    }


def _cell(value) -> str:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_columns(pairs: pd.DataFrame) -> dict[str, list[str]]:
    """verdicts.csv's columns, as text: lists as ``a;b``, booleans as true/false, unknowns empty."""
    out = {}
    for c in pairs.columns:
        col = pairs[c].tolist()  # plain lists: iterating a Series value by value costs several times more
        sample = next((v for v in col if v is not None and not (isinstance(v, float) and math.isnan(v))), None)
        if isinstance(sample, list):
            out[c] = [";".join(v) if isinstance(v, list) else "" for v in col]
        elif isinstance(sample, bool) or c == "agree":
            out[c] = ["true" if v is True else "false" if v is False else "" for v in col]
        else:
            out[c] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in col]
    return out


def write_csv(pairs: pd.DataFrame, path: Path) -> None:
    """verdicts.csv: a header, then one row per pair (:func:`csv_columns`), with Python's csv writer."""
    columns = csv_columns(pairs)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(columns))
        w.writerows(zip(*columns.values()))


# -- the page ------------------------------------------------------------------------------------------------------
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 2rem 3rem;color:#222;max-width:110rem}
h1{font-size:1.6rem;margin-top:1.5rem} h2{margin-top:2.5rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}
h3{margin-bottom:.3rem} table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.86rem}
th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f1f1f1} table.facts th{font-weight:normal;width:16rem} table.sortable th{cursor:pointer} table.sortable th:after{content:" \\21C5";color:#999}
.error{color:#b71c1c;font-weight:600} .warning{color:#8d6e00;font-weight:600} .note{color:#455a64}
.ok{color:#2e7d32;font-weight:600} .blocked{color:#b71c1c;font-weight:600}
.box{border:1px solid #e0b000;background:#fff8e1;padding:.6rem 1rem;margin:1rem 0}
.muted{color:#666;font-size:.85rem} td.num{text-align:right} code{font-size:.85rem}
.wrap{overflow-x:auto;max-width:100%} td.long{min-width:9rem;max-width:20rem} td.src{min-width:14rem;
max-width:26rem;font-size:.78rem;color:#444;overflow-wrap:anywhere} td:first-child{white-space:nowrap}
"""
#: columns of long prose: given room to wrap; sources in a smaller type
LONG = {"reason", "means", "fix", "what", "note", "problems", "vcenter_messages", "fixable_live", "facts"}
SMALL = {"source"}
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, i) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute("data-order") !== "asc";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-order"); });
      th.setAttribute("data-order", asc ? "asc" : "desc");
      function key(r) { var c = r.cells[i]; return c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny) && String(nx) === x.trim() && String(ny) === y.trim())
          ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _e(value) -> str:
    if isinstance(value, list):
        return html.escape(", ".join(str(v) for v in value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return html.escape(str(value))


def _table(table: pd.DataFrame, columns: dict[str, str], *, sortable: bool = True, classes: dict | None = None,
           table_id: str = "") -> str:
    """An HTML table of ``columns`` (column -> heading); ``classes[column]`` maps a value to a CSS class."""
    classes = classes or {}
    head = "".join(f"<th>{html.escape(h)}</th>" for h in columns.values())
    body = []
    for row in table[list(columns)].itertuples(index=False):
        cells = []
        for col, value in zip(columns, row):
            css = classes.get(col, {}).get(value, "") if isinstance(value, str) else ""
            num = isinstance(value, (int, float)) and not isinstance(value, bool)
            width = "long" if col in LONG else "src" if col in SMALL else ""
            cls = " ".join(c for c in (css, "num" if num else "", width) if c)
            cells.append(f"<td{f' class={chr(34)}{cls}{chr(34)}' if cls else ''}>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    attrs = (f' id="{table_id}"' if table_id else "") + (' class="sortable"' if sortable else "")
    return (f'<div class="wrap"><table{attrs}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            "</div>")


VERDICT_CSS = {"ok": "ok", "warning": "warning", "blocked": "blocked", "error": "error", "note": "note"}


def _facts(table: pd.DataFrame) -> str:
    rows = "".join(f"<tr><th>{_e(f)}</th><td>{_e(v)}</td></tr>" for f, v in zip(table["fact"], table["value"]))
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def _issues(issues: list[dict]) -> str:
    if not issues:
        return '<p class="ok">No problem found.</p>'
    items = "".join(f'<li><span class="{i["severity"]}">{_e(i["severity"])}</span> ({_e(i["check"])}): '
                    f'{_e(i["text"])} <span class="muted">Source: {_e(i["source"])}</span></li>' for i in issues)
    return f"<ul>{items}</ul>"


def _readiness(audit) -> str:
    out = []
    for c in audit.clusters.itertuples():
        hosts = audit.hosts[audit.hosts["cluster"] == c.cluster].copy()
        hosts["problems"] = ["; ".join(f"{i['severity']}: {i['text']}" for i in x) for x in hosts["issues"]]
        hosts["link"] = [f"{s} Mb/s {'full' if f else 'half'} duplex" if s else "none up" if v else "—"
                         for s, f, v in zip(hosts["speedMb"], hosts["fullDuplex"], hosts["vmotion"])]
        partial = "; ".join(f"{d} on {', '.join(on)}" for d, on in c.partial.items()) or "none"
        facts = pd.DataFrame([
            ("hosts", len(c.hosts)),
            ("EVC mode", c.evcMode or ("none" if c.cluster != "(standalone hosts)" else "(EVC is a cluster setting)")),
            ("hosts' best EVC modes", ", ".join(c.hostModes) or "unknown"),
            ("highest common EVC baseline", c.highestCommon or "none"),
            ("vMotion MTUs", (", ".join(map(str, c.mtus)) or "no vMotion adapter")
             + ("" if c.mtuConsistent else " (inconsistent)")),
            ("datastores on every host (writable)", ", ".join(c.shared) or "none"),
            ("datastores on some hosts", partial),
        ], columns=["fact", "value"])
        ready = int(hosts["ready"].sum())
        out.append(f'<h3>{_e(c.cluster)} <span class="{"ok" if c.ready else "error"}">'
                   f'{"ready" if c.ready else "not ready"}</span> <span class="muted">({ready} of {len(hosts)} '
                   f'host(s) ready)</span></h3>')
        out.append(_facts(facts))
        out.append(_issues(c.issues))
        out.append(_table(hosts, {"host": "host", "state": "state", "vmotion": "vMotion adapters", "mtus": "MTU",
                                  "uplinks": "uplinks", "link": "best uplink", "maxEVCModeKey": "best EVC mode",
                                  "ready": "ready", "problems": "problems"}))
    return "".join(out)


def _figures(audit) -> str:
    if audit.pairs.empty:
        return "<p>No VM × host pairs: nothing to draw.</p>"
    config = {"displaylogo": False, "responsive": True}
    first = figures.heatmap(audit.pairs).to_html(full_html=False, include_plotlyjs=True, div_id="heatmap",
                                                 config=config)
    second = figures.per_host(audit.pairs).to_html(full_html=False, include_plotlyjs=False, div_id="per-host",
                                                   config=config)
    return first + second


def page(audit, generated: str = "") -> str:
    """report.html's text."""
    n = audit.counts()
    v = audit.vcenter_summary()
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>vMotion readiness: {_e(audit.about['url'])}</title><style>{STYLE}</style></head><body>"]
    parts.append(f"<h1>vMotion readiness of {_e(audit.about['url'])}</h1>")
    parts.append(f"<p>{_e(audit.about['product'])} (API {_e(audit.about['apiVersion'])}). "
                 f"{n['clusters']} cluster(s), {n['hosts']} host(s), {n['vms']:,} VM(s): {n['pairs']:,} VM × host "
                 f"pairs. labkit's rules: <span class=\"ok\">{n['ok']:,} ok</span>, "
                 f"<span class=\"warning\">{n['warning']:,} warning</span>, "
                 f"<span class=\"blocked\">{n['blocked']:,} blocked</span>.</p>")
    agree = (f" They agree on {v['agree']:,} and disagree on {v['disagree']:,}." if v["asked"] else "")
    parts.append(f"<p>{_e(v['how'].rstrip('.'))}.{agree}</p>")
    parts.append("<p class=\"muted\">The audit only reads: RetrievePropertiesEx and ContinueRetrievePropertiesEx "
                 "through a ContainerView, QueryVMotionCompatibilityEx_Task (a check that changes nothing) and the "
                 "WaitForUpdatesEx of its wait. See docs/audit.md.</p>")
    if audit.refusals:
        lines = "".join(f"<li>{_e(r.line())}</li>" for r in audit.refusals)
        parts.append(f'<div class="box" id="unread"><strong>Could not read</strong><ul>{lines}</ul></div>')
    parts.append('<h2 id="readiness">Hosts and clusters</h2>')
    parts.append(_readiness(audit))
    parts.append('<h2 id="verdicts">VM × host verdicts</h2>')
    parts.append("<p>Rows group VMs that get the same verdicts on every host. Hover a cell for the reasons. A ✕ marks "
                 "a cell where vCenter's verdict differs from labkit's.</p>")
    parts.append(_figures(audit))
    parts.append('<h2 id="by-fault">Findings by fault</h2>')
    if audit.by_fault.empty:
        parts.append('<p class="ok">No pair is blocked or warned.</p>')
    else:
        parts.append(_table(audit.by_fault, {"severity": "severity", "fault": "fault", "checks": "check",
                                             "pairs": "pairs", "vms": "VMs", "hosts": "hosts",
                                             "found_by_both": "found by both", "found_by_labkit_only": "labkit only",
                                             "found_by_vcenter_only": "vCenter only", "means": "what it means",
                                             "fix": "fix", "source": "source"},
                            classes={"severity": VERDICT_CSS}, table_id="by-fault-table"))
    parts.append('<h2 id="pairs">Blocked and warned pairs</h2>')
    shown = audit.findings.head(MAX_ROWS)
    if len(audit.findings) > MAX_ROWS:
        parts.append(f"<p>The first {MAX_ROWS:,} of {len(audit.findings):,} findings (errors first); all of them "
                     "are in findings.json and verdicts.csv.</p>")
    if shown.empty:
        parts.append('<p class="ok">None.</p>')
    else:
        parts.append(_table(shown, {"vm": "VM", "host": "destination", "severity": "severity", "check": "check",
                                    "fault": "fault", "reason": "facts", "found_by": "found by",
                                    "vcenter_verdict": "vCenter's verdict", "fix": "fix",
                                    "fixable_live": "fixable live", "source": "source"},
                            classes={"severity": VERDICT_CSS, "vcenter_verdict": VERDICT_CSS},
                            table_id="findings-table"))
    parts.append('<h2 id="devices">Blocking devices</h2>')
    if audit.devices.empty:
        parts.append('<p class="ok">No VM has a device that blocks a migration.</p>')
    else:
        dev = audit.devices.assign(blocks=[len(b) for b in audit.devices["blocked_hosts"]],
                                   warns=[len(w) for w in audit.devices["warned_hosts"]])
        parts.append(_table(dev, {"vm": "VM", "cluster": "cluster", "host": "runs on", "device": "device",
                                  "what": "what", "connected": "connected", "mounted_on": "image's datastore on",
                                  "fault": "fault", "blocks": "hosts blocked", "warns": "hosts warned",
                                  "note": "note", "fix": "fix", "source": "source"}, table_id="devices-table"))
    parts.append('<h2 id="disagreements">Where labkit and vCenter disagree</h2>')
    if not v["asked"]:
        parts.append("<p>vCenter's verdicts were not read: the report shows labkit's rules alone.</p>")
    elif audit.disagreements.empty:
        parts.append(f'<p class="ok">Nowhere: the same verdicts and fault types on all {v["asked"]:,} pairs asked.</p>')
    else:
        parts.append(_table(audit.disagreements, {"vm": "VM", "host": "destination", "power_state": "power state",
                                                  "verdict": "labkit", "errors": "labkit's errors",
                                                  "warnings": "labkit's warnings", "vcenter_verdict": "vCenter",
                                                  "vcenter_errors": "vCenter's errors",
                                                  "vcenter_warnings": "vCenter's warnings",
                                                  "vcenter_messages": "vCenter's message", "note": "what may explain it"},
                            classes={"verdict": VERDICT_CSS, "vcenter_verdict": VERDICT_CSS},
                            table_id="disagreements-table"))
    sources = "".join(f"<li>{_e(s)}</li>" for s in (*SOURCES.values(), *REPORT_SOURCES))
    parts.append(f'<h2 id="sources">Sources</h2><p>{_e(RULE_SOURCES)}</p><ul>{sources}</ul>')
    if generated:
        parts.append(f'<p class="muted" id="generated">{_e(generated)}</p>')
    parts.append(f"<script>{SORT_SCRIPT}</script></body></html>")
    return "".join(parts)


def write(audit, folder, generated: str = "", progress=None) -> dict[str, Path]:
    """Write report.html, verdicts.csv and findings.json into ``folder`` (made if needed); their paths.
    ``progress()`` is called after each file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"report": folder / "report.html", "verdicts": folder / "verdicts.csv",
             "findings": folder / "findings.json"}
    write_csv(audit.pairs, paths["verdicts"])
    if progress is not None:
        progress()
    paths["findings"].write_text(json.dumps(document(audit), indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                                 encoding="utf-8")
    if progress is not None:
        progress()
    paths["report"].write_text(page(audit, generated), encoding="utf-8")
    if progress is not None:
        progress()
    return paths
