"""A host's log, read the way ESXi's logs are read through vCenter, as pandas DataFrames.

``DiagnosticManager.QueryDescriptions(host)`` lists a host's logs, and ``BrowseDiagnosticLog(host, key, start,
lines)`` returns a range of a log's lines (vSphere API reference, DiagnosticManager; one call returns a limited
number of lines, so :func:`lines` pages through). The lab's hosts keep a ``vmkernel`` log whose migration lines
read ``sim=12.345 vmotion role=S mid=1001 vm=db-01 event=precopy round=1 ...``: the lab clock (simulated
seconds since the lab started), the writer, then key=value facts, in the lab's own words. They carry what
ESXi's vMotion lines carry (Broadcom KB 436882): the migration id shared by both hosts (role S on the source,
D on the destination), each pre-copy iteration's pages sent and dirtied, the switchover time, and why a
migration failed. Every figure ending in ``_s`` is in simulated seconds.
"""
from __future__ import annotations

import shlex

import pandas as pd

from .errors import InvalidInput

#: lines one BrowseDiagnosticLog call asks for (vCenter returns at most 500, govmomi object/diagnostic_log.go)
PAGE = 500
#: the columns every parsed line has, in this order; the facts of each line follow
COLUMNS = ["host", "line", "sim", "role", "mid", "vm", "event"]


def _host(session, host):
    from pyVmomi import vim

    if isinstance(host, vim.HostSystem):
        return host
    if isinstance(host, str) and host:
        from .inventory import find

        return find(session, host, "HostSystem")
    raise InvalidInput(f"host must be a HostSystem or its name, not {host!r}.")


def lines(session, host, key: str = "vmkernel") -> list[str]:
    """Every line of log ``key`` of ``host`` (a HostSystem or its name), oldest first."""
    from pyVmomi import vmodl

    h = _host(session, host)
    dm = session.content.diagnosticManager
    out: list[str] = []
    start = 1
    while True:
        try:
            header = dm.BrowseDiagnosticLog(host=h, key=key, start=start, lines=PAGE)
        except (vmodl.fault.InvalidArgument, vim_fault("HostNotConnected")) as e:
            keys = ", ".join(d.key for d in dm.QueryDescriptions(host=h)) if not isinstance(
                e, vim_fault("HostNotConnected")) else ""
            raise InvalidInput(f"{h.name} has no readable log {key!r}: {e.msg}",
                               fix=f"read one of: {keys}" if keys else "reconnect the host first") from None
        text = list(header.lineText or [])
        out += text
        if not text or header.lineEnd < start + len(text) - 1 or len(text) < PAGE:
            return out
        start += len(text)


def vim_fault(name: str):
    from pyVmomi import vim, vmodl

    return getattr(vim.fault, name, None) or getattr(vmodl.fault, name)


def _value(text: str):
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def parse(text_lines, host: str = "") -> pd.DataFrame:
    """The lab's migration lines as a DataFrame: :data:`COLUMNS`, then every fact any line has (NaN where a line
    lacks it). Lines in another form (a real ESXi host's) are skipped."""
    rows = []
    for number, text in enumerate(text_lines, 1):
        if not text.startswith("sim="):
            continue
        words = shlex.split(text)
        if len(words) < 2 or words[1] != "vmotion":
            continue
        row = {"host": host, "line": number, "sim": float(words[0][4:])}
        for word in words[2:]:
            key, _, value = word.partition("=")
            row[key] = _value(value)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    rest = [c for c in table.columns if c not in COLUMNS]
    return table.reindex(columns=COLUMNS + rest)


def read(session, host) -> pd.DataFrame:
    """``host``'s vMotion lines (see :func:`parse`)."""
    h = _host(session, host)
    return parse(lines(session, h), host=h.name)


def migrations(session, host) -> pd.DataFrame:
    """One row per migration in ``host``'s log: ``mid``, ``vm``, ``role``, ``src``, ``dest``, ``result``
    ("completed", "failed" or "running"), ``stage`` and ``reason`` of a failure, ``rounds``, ``total_s``,
    ``downtime_s``, ``max_throttle_pct`` and ``sent_gib`` (simulated seconds; NaN where not known)."""
    table = read(session, host)
    cols = ["mid", "vm", "role", "src", "dest", "result", "stage", "reason", "rounds", "total_s", "downtime_s",
            "max_throttle_pct", "sent_gib"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for mid, lines_ in table.groupby("mid", sort=False):
        first = lines_.iloc[0]
        end = lines_[lines_["event"].isin(["completed", "failed"])]
        last = end.iloc[-1] if len(end) else None
        row = {"mid": mid, "vm": first["vm"], "role": first["role"], "src": first.get("src"), "dest": first.get("dest"),
               "result": last["event"] if last is not None else "running"}
        for c in cols[6:]:
            row[c] = last.get(c) if last is not None and c in last.index else None
        if last is not None and last["event"] == "failed":
            row["total_s"] = last.get("sim_s")
        out.append(row)
    return pd.DataFrame(out, columns=cols)


def rounds(session, host, mid: int) -> pd.DataFrame:
    """The pre-copy iterations of migration ``mid`` as ``host`` logged them: ``round``, ``duration_s``,
    ``sent_pages``, ``sent_mib``, ``dirtied_pages``, ``throttle_pct``."""
    table = read(session, host)
    cols = ["round", "duration_s", "sent_pages", "sent_mib", "dirtied_pages", "throttle_pct"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    if mid not in set(table["mid"]):
        raise InvalidInput(f"{table['host'].iloc[0]}'s log has no migration {mid!r}.",
                           fix="hostlog.migrations(session, host) lists its migrations and their mid")
    mine = table[(table["mid"] == mid) & (table["event"] == "precopy")].reindex(columns=cols).reset_index(drop=True)
    return mine.astype({"round": int, "sent_pages": int, "dirtied_pages": int})
