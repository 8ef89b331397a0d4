"""Compare two RAM dumps page by page: "nothing lost" shown, not assumed."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

PAGE = 4096
CHUNK_PAGES = 16384   # 64 MiB at a time


@dataclasses.dataclass(frozen=True)
class MemoryDiff:
    pages: int          # pages compared
    differ: int         # pages whose bytes differ
    first: int | None   # the first differing page number, if any


def compare(a: Path, b: Path) -> MemoryDiff:
    """Pages of two equal-size dumps whose bytes differ."""
    x = np.memmap(a, dtype=np.uint8, mode="r")
    y = np.memmap(b, dtype=np.uint8, mode="r")
    if x.size != y.size or x.size % PAGE:
        raise ValueError(f"dumps differ in size or are not whole pages: {x.size} and {y.size} bytes")
    pages = x.size // PAGE
    differ, first = 0, None
    for start in range(0, pages, CHUNK_PAGES):
        end = min(start + CHUNK_PAGES, pages)
        xs = x[start * PAGE:end * PAGE].reshape(-1, PAGE)
        ys = y[start * PAGE:end * PAGE].reshape(-1, PAGE)
        bad = np.flatnonzero((xs != ys).any(axis=1))
        if bad.size and first is None:
            first = int(start + bad[0])
        differ += int(bad.size)
    return MemoryDiff(pages, differ, first)
