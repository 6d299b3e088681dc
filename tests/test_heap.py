"""Returning freed memory to the OS (curation.heap): on glibc a freed 400 MB buffer leaves the resident set."""

from __future__ import annotations

import ctypes.util
import sys

import numpy as np
import pytest

from curation import heap


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
                    reason="glibc's malloc_trim")
def test_freed_small_allocations_go_back_to_the_os():
    heap.return_freed_memory()
    before = _rss_mb()
    # many 100 kB arrays (below glibc's mmap threshold: they live on the heap, which free() keeps), then freed
    # all but the last, which pins the heap's top so that free() alone cannot shrink it
    blocks = [np.ones(12_500) for _ in range(4_000)]
    keep = blocks[-1]
    del blocks
    held = _rss_mb()
    assert heap.return_freed_memory() is True
    after = _rss_mb()
    assert held - before > 300  # the 400 MB were resident
    assert after - before < 0.5 * (held - before), (before, held, after)
    assert keep.sum() == 12_500
