"""Units and input checks of the pre-copy model.

Memory is counted in 4 KiB pages, the x86 base page size that vMotion, Xen
and QEMU track dirtiness with. Rates are per second, links in gigabits per
second (10^9 bit/s, as Ethernet speeds are quoted), sizes in MiB or GiB
(2^20 or 2^30 bytes). Every name carries its unit: ``_mib``, ``_gbps``, ``_s``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import InvalidInput

PAGE_BYTES = 4096
PAGES_PER_MIB = 2**20 // PAGE_BYTES
#: What an all-zero page costs on the wire instead of its 4096 bytes. QEMU's
#: ``save_zero_page`` (``migration/ram.c``) writes an 8-byte page header and one
#: fill byte; the model counts the 8-byte header only, as Gudkov's predictor
#: does (qemu-devel, 2023, "Migration time prediction using calc-dirty-rate").
#: The missing byte is 1/4096 of a page. vMotion's handling of zero pages is
#: not published.
ZERO_PAGE_BYTES = 8

#: Share of a link's bit rate left for vMotion's own data: TCP over Ethernet
#: with a 1500-byte MTU carries 1448 payload bytes (1500 minus 20 IP, 20 TCP
#: and 12 timestamp-option bytes, RFC 791, RFC 9293, RFC 7323) per 1538 bytes
#: on the wire (plus 14 header, 4 FCS, 8 preamble and 12 inter-frame gap bytes,
#: IEEE 802.3). 1448 / 1538 = 0.941. vMotion's own protocol overhead is not
#: published; it is left out.
EFFICIENCY = round(1448 / 1538, 3)


def mib_to_pages(mib):
    return np.asarray(mib, dtype=float) * PAGES_PER_MIB


def pages_to_mib(pages):
    return np.asarray(pages, dtype=float) / PAGES_PER_MIB


def gbps_to_pages_per_s(gbps):
    return np.asarray(gbps, dtype=float) * 1e9 / 8 / PAGE_BYTES


def pages_per_s_to_gbps(pages_per_s):
    return np.asarray(pages_per_s, dtype=float) * PAGE_BYTES * 8 / 1e9


def bandwidth_gbps(link_gbps=10.0, nics=1, efficiency=EFFICIENCY):
    """The rate vMotion sends memory at: ``nics`` links of ``link_gbps`` each, times ``efficiency``.

    What this assumes: each vMotion VMkernel adapter has its own uplink, and
    one adapter fills its link at any speed. That is vSphere 7.0 Update 2 and
    later, where one adapter saturates 25, 40 and 100 GbE links (vSphere 7.0
    docs, "Networking Best Practices for vSphere vMotion"); earlier releases
    fill 1 and 10 GbE with one adapter. vSphere 6 got less from one adapter on
    a faster link: VMware KB 323379 measured 18, 28 and 36 Gb/s with 1, 2 and
    3 adapters on one 40 GbE link. For vSphere 6 above 10 GbE this model is
    optimistic.
    """
    link = number("link_gbps", link_gbps, positive=True)
    n = number("nics", nics, positive=True, integer=True)
    eff = number("efficiency", efficiency, positive=True, maximum=1.0)
    out = link * n * eff
    return float(out) if out.ndim == 0 else out


def number(name: str, value, *, positive: bool = False, minimum: float | None = None,
           maximum: float | None = None, integer: bool = False, allow_inf: bool = False) -> np.ndarray:
    """``value`` (a number or an array of numbers) as a float array, or a one-line :class:`InvalidInput`."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise InvalidInput(f"{name} must be a number, not {value!r}.")
    if isinstance(value, numbers.Number):
        arr = np.asarray(value, dtype=float)
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{name} must be a number or an array of numbers, not {value!r}.") from None
        if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
            raise InvalidInput(f"{name} must be a number or an array of numbers, not {_short(value)}.")
        arr = arr.astype(float)
    bad = np.isnan(arr) | (np.isinf(arr) & (not allow_inf))
    if bad.any():
        raise InvalidInput(f"{name} must be a finite number, not {_first(arr, bad)}.")
    if positive and (arr <= 0).any():
        raise InvalidInput(f"{name} must be greater than 0, not {_first(arr, arr <= 0)}.")
    if minimum is not None and (arr < minimum).any():
        raise InvalidInput(f"{name} must be at least {minimum:g}, not {_first(arr, arr < minimum)}.")
    if maximum is not None and (arr > maximum).any():
        raise InvalidInput(f"{name} must be at most {maximum:g}, not {_first(arr, arr > maximum)}.")
    if integer and (np.isfinite(arr) & (arr != np.round(arr))).any():
        raise InvalidInput(f"{name} must be a whole number, not {_first(arr, arr != np.round(arr))}.")
    return arr


def scalar(name: str, value, **rules) -> float:
    """One number, checked as :func:`number` checks it, as a float."""
    return float(number(name, value, **rules))


def _first(arr: np.ndarray, mask) -> str:
    """The first offending value, as a person wrote it: 10000000, not 1e+07."""
    v = float(np.atleast_1d(arr)[np.atleast_1d(mask)][0])
    return str(int(v)) if np.isfinite(v) and v == round(v) and abs(v) < 1e15 else f"{v:g}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
