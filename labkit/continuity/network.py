"""What the network sees while a VM switches hosts: a pure model.

The timeline, in seconds from the moment the source stuns the VM (t = 0):

* ``0 ≤ t < downtime_s``: the VM runs nowhere. Frames for it still reach the
  source host's port and are dropped.
* at ``downtime_s`` the VM resumes on the destination, which sends a RARP
  frame for each of the VM's MAC addresses so that the physical switches
  move the MAC to the destination's port ("Notify Switches" set to Yes,
  Broadcom KB 343401; vSphere Networking, "Notify Switches Policy").
* until ``downtime_s + rarp_delay_s`` the switches still forward to the old
  port: the RARP's own delay, or much longer when Notify Switches is No and
  the switches only learn when the VM itself sends.

So traffic to the VM is lost in the window ``[0, downtime_s + rarp_delay_s)``.
The model assumes the path's round-trip time is small next to that window,
as on one LAN.

TCP retransmits a lost segment after its retransmission timeout (RTO) and
doubles the timeout each time ("back off the timer", RFC 6298 §5.5). Linux
never lets the RTO fall below 200 ms (``TCP_RTO_MIN``, include/net/tcp.h),
caps it at 120 s (``TCP_RTO_MAX``) and gives up after ``tcp_retries2`` = 15
retransmissions (tcp(7)). A session therefore survives any realistic
switchover, but each retransmission waits twice as long as the one before,
so the stall an application sees can be much longer than the outage itself.
"""
from __future__ import annotations

import math

import pandas as pd

from ..errors import InvalidInput
from ..precopy.params import scalar as _scalar

#: Linux's minimum retransmission timeout, TCP_RTO_MIN = HZ/5 (include/net/tcp.h).
LINUX_RTO_MIN_S = 0.2
#: Linux's maximum retransmission timeout, TCP_RTO_MAX = 120*HZ (include/net/tcp.h).
LINUX_RTO_MAX_S = 120.0
#: net.ipv4.tcp_retries2, default 15 (tcp(7); Documentation/networking/ip-sysctl.rst).
LINUX_TCP_RETRIES2 = 15
#: ping's default interval between echo requests, 1 s (iputils ping(8)).
PING_INTERVAL_S = 1.0


def outage_s(downtime_s, rarp_delay_s=0.0) -> float:
    """How long traffic to the VM is lost: the switchover plus the switches' catch-up."""
    return _scalar("downtime_s", downtime_s, minimum=0) + _scalar("rarp_delay_s", rarp_delay_s, minimum=0)


def pings(downtime_s, *, interval_s=PING_INTERVAL_S, rarp_delay_s=0.0, phase_s=0.0,
          before_s=3.0, after_s=3.0) -> pd.DataFrame:
    """Echo requests sent every ``interval_s`` around a switchover, and which are lost.

    Requests go out at ``phase_s + k * interval_s`` (``0 ≤ phase_s < interval_s``)
    from ``before_s`` seconds before the stun to ``after_s`` seconds after the
    window closes. One row per request: ``seq``, ``sent_s`` (from the stun),
    ``lost`` and ``why``.
    """
    interval = _scalar("interval_s", interval_s, positive=True)
    phase = _scalar("phase_s", phase_s, minimum=0)
    if phase >= interval:
        raise InvalidInput(f"phase_s must be less than interval_s ({interval:g}), not {phase:g}.")
    down = _scalar("downtime_s", downtime_s, minimum=0)
    rarp = _scalar("rarp_delay_s", rarp_delay_s, minimum=0)
    first = -math.floor((_scalar("before_s", before_s, minimum=0) + phase) / interval)
    last = math.ceil((down + rarp + _scalar("after_s", after_s, minimum=0) - phase) / interval)
    if last - first > 100_000:
        raise InvalidInput(f"That is {last - first} pings; use a longer interval_s or a shorter span.")
    rows = []
    end = round(down + rarp, 9)  # rounded like the send times, so 0.9 + 0.3 ends at 1.2, not 1.2000000000000002
    for seq, k in enumerate(range(first, last + 1)):
        t = round(phase + k * interval, 9)
        if 0 <= t < down:
            why = "VM stunned"
        elif down <= t < end:
            why = "switches still use the old port"
        else:
            why = ""
        rows.append({"seq": seq, "sent_s": t, "lost": bool(why), "why": why})
    return pd.DataFrame(rows, columns=["seq", "sent_s", "lost", "why"])


def lost_pings(downtime_s, *, interval_s=PING_INTERVAL_S, rarp_delay_s=0.0, phase_s=0.0) -> int:
    """How many echo requests fall into the outage window."""
    table = pings(downtime_s, interval_s=interval_s, rarp_delay_s=rarp_delay_s, phase_s=phase_s,
                  before_s=0, after_s=0)
    return int(table["lost"].sum())


def tcp(downtime_s, *, rarp_delay_s=0.0, rto_s=LINUX_RTO_MIN_S, rto_max_s=LINUX_RTO_MAX_S,
        retries=LINUX_TCP_RETRIES2, app_timeout_s=None, sent_s=0.0) -> dict:
    """A TCP segment sent ``sent_s`` after the stun, inside the outage, and what follows.

    The segment is lost, then retransmitted after ``rto_s``, ``2·rto_s``,
    ``4·rto_s`` ... (each capped at ``rto_max_s``) until a copy leaves after
    the outage window has closed; that copy gets through. Returns:

    * ``outage_s``: the loss window;
    * ``retransmit_at_s``: the times the retransmissions leave;
    * ``retransmissions``: how many were needed;
    * ``recovered_at_s`` and ``stall_s``: when data flows again, and how long
      the connection was stalled (from ``sent_s``);
    * ``session_survives``: TCP kept the connection (retransmissions ≤ ``retries``);
    * ``app_survives``: the stall fits in ``app_timeout_s`` (None if no timeout given).
    """
    window = round(outage_s(downtime_s, rarp_delay_s), 9)
    rto = _scalar("rto_s", rto_s, positive=True)
    rto_max = _scalar("rto_max_s", rto_max_s, positive=True)
    limit = int(_scalar("retries", retries, minimum=0, integer=True))
    start = _scalar("sent_s", sent_s, minimum=0)
    timeout = None if app_timeout_s is None else _scalar("app_timeout_s", app_timeout_s, positive=True)
    times, t, wait = [], start, rto
    recovered = start if start >= window else None
    while recovered is None and len(times) < limit:
        t += min(wait, rto_max)
        wait *= 2
        times.append(round(t, 9))
        if t >= window:
            recovered = t
    survives = recovered is not None
    stall = (recovered - start) if survives else (t - start)
    return {
        "outage_s": window,
        "retransmit_at_s": times,
        "retransmissions": len(times),
        # rounded like the retransmit times it is one of (1.4, not the sum's 1.4000000000000001)
        "recovered_at_s": round(recovered, 9) if survives else None,
        "stall_s": round(stall, 9),
        "session_survives": survives,
        "app_survives": None if timeout is None else bool(survives and stall <= timeout),
    }


def sessions(downtime_s, app_timeouts_s, **tcp_options) -> pd.DataFrame:
    """One row per application timeout: the stall TCP imposes and whether the application lives."""
    rows = []
    for timeout in app_timeouts_s:
        r = tcp(downtime_s, app_timeout_s=timeout, **tcp_options)
        rows.append({"app_timeout_s": float(timeout), "stall_s": r["stall_s"],
                     "retransmissions": r["retransmissions"], "session_survives": r["session_survives"],
                     "app_survives": r["app_survives"]})
    return pd.DataFrame(rows)
