"""``vmkping`` in the lab: does a VMkernel adapter reach an address, with frames of a given size?

On ESXi, ``vmkping -I vmk1 -d -s 8972 10.10.0.12`` sends ICMP echo requests from adapter vmk1 with
the don't-fragment bit set (``-d``) and 8,972 data bytes (``-s``): 8,972 + 8 (ICMP) + 20 (IP) = 9,000 bytes,
a full jumbo frame (esxcli network diag ping: ``--interface``, ``--df``, ``--size``; lesson 01b). A reply proves
the path carries such frames end to end; none, with small pings answered, points at an MTU on the way. The lab
answers from the same network model its migrations' traffic meets (labkit/sim/launcher/netpath.go), so a ping
proves or disproves what a migration will meet.

On a real host it runs in the ESXi shell, not through the vSphere API: :func:`vmkping` says so for a session
that is not the lab's.
"""
from __future__ import annotations

import dataclasses

from . import labapi
from .errors import InvalidInput


@dataclasses.dataclass(frozen=True)
class Ping:
    """One vmkping: what was sent, what came back, and the lines vmkping would print."""

    host: str
    interface: str
    target: str
    size: int
    df: bool
    transmitted: int
    received: int
    lines: tuple[str, ...]
    error: str = ""
    netstack: str = "defaultTcpipStack"

    @property
    def ok(self) -> bool:
        """Every request answered."""
        return self.received == self.transmitted

    @property
    def command(self) -> str:
        """The vmkping command line; an adapter on another TCP/IP stack than the default one names it (``-S``)."""
        stack = f" -S {self.netstack}" if self.netstack != "defaultTcpipStack" else ""
        return f"vmkping{stack} -I {self.interface}{' -d' if self.df else ''} -s {self.size} {self.target}"

    def __str__(self) -> str:
        return "\n".join([f"[{self.host}]# {self.command}", *self.lines])

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def vmkping(session, host, target: str, *, interface: str = "vmk1", size: int = 56, df: bool = False,
            count: int = 3) -> Ping:
    """Ping ``target`` (an IPv4 address) from VMkernel adapter ``interface`` of ``host`` (a HostSystem or its
    name), with ``size`` data bytes (0 to 65,507) and, with ``df``, the don't-fragment bit set.

    Raises InvalidInput for a bad size or count, LabkitError for an unknown host or adapter and for a session
    that is not on the lab world.
    """
    name = getattr(host, "name", host)
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"host must be a HostSystem or its name, not {host!r}.")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 65507:
        raise InvalidInput(f"size must be a whole number of data bytes from 0 to 65507, not {size!r}.",
                           fix="for a 9,000-byte jumbo frame give size=8972 (9000 - 28 bytes of IP and ICMP headers)")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
        raise InvalidInput(f"count must be from 1 to 100, not {count!r}.")
    answer = labapi.get(session, "vmkping", host=name, interface=interface, target=target, size=size,
                        df=int(bool(df)), count=count)
    return Ping(host=answer["host"], interface=answer["interface"], target=answer["target"], size=answer["size"],
                df=answer["df"], transmitted=answer["transmitted"], received=answer["received"],
                lines=tuple(answer["lines"]), error=answer.get("error", ""),
                netstack=answer.get("netstack") or "defaultTcpipStack")
