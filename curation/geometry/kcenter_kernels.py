"""K-Center's per-pick pass: best = min(best, |x - c|^2) over every available row, then (argmax, max).

One pass reads all of X (or its int8 shadow), so K-Center is memory-bound. The serial kernels stream it on
one core; the parallel ones split the rows into one block per thread (numba `prange`), each block keeps its
own (argmax, max) with the lowest index first, and the blocks are reduced in order, lowest block first: every
row gets the same float64 sum as in the serial kernel, so the picks are identical. Which is faster depends on
the machine (cores, memory bandwidth, what else runs), so `update_kernel` times both on a slice of the data
once per process and shape, and uses the winner.

Distances are sum((x - c)^2) with the differences and the sum in float64: exact duplicates are exactly 0 apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import numpy as np

_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}  # vectorise the row sum; no NaN/inf shortcuts
Update = Callable[[np.ndarray, np.ndarray], int]  # (centre row c, best) -> next pick
_CHOICE: dict[tuple[int, bool, int], bool] = {}  # (d, shadow, threads) -> parallel wins


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _block(X, c, best, lo, hi):
    arg, top = -1, -np.inf
    d = X.shape[1]
    for i in range(lo, hi):
        b = best[i]
        if b >= 0.0:
            s = 0.0
            for j in range(d):
                t = np.float64(X[i, j]) - np.float64(c[j])
                s += t * t
            if s < b:
                b = s
                best[i] = s
        if b > top:
            top, arg = b, i
    return arg, top


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _block_shadow(Q, scale, err, X, c, best, lo, hi):
    """`_block` reading the int8 copy: |x - c| >= |s q - c| - err, so a row whose lower bound is not below
    its current best cannot change; only the others get the exact float64 distance from X."""
    d = Q.shape[1]
    shrink = 1.0 - (d + 8) * 2.0**-24  # worst-case float32 rounding of the sum of d squares, even unvectorised
    arg, top = -1, -np.inf
    for i in range(lo, hi):
        b = best[i]
        if b >= 0.0:
            s32 = np.float32(0.0)
            si = scale[i]
            for j in range(d):
                t = si * np.float32(Q[i, j]) - c[j]
                s32 += t * t
            low = np.sqrt(np.float64(s32) * shrink) - err[i]
            if low <= 0.0 or low * low < b:
                s = 0.0
                for j in range(d):
                    t64 = np.float64(X[i, j]) - np.float64(c[j])
                    s += t64 * t64
                if s < b:
                    b = s
                    best[i] = s
        if b > top:
            top, arg = b, i
    return arg, top


@numba.njit(cache=True, nogil=True)
def update(X, c, best):
    """Serial pass; returns (argmax, max) of best, lowest index first."""
    return _block(X, c, best, 0, X.shape[0])


@numba.njit(cache=True, nogil=True)
def update_shadow(Q, scale, err, X, c, best):
    return _block_shadow(Q, scale, err, X, c, best, 0, X.shape[0])


@numba.njit(cache=True, nogil=True)
def _reduce(args, tops):
    arg, top = -1, -np.inf
    for b in range(len(args)):  # in block order: the lowest index wins a tie, as in the serial pass
        if tops[b] > top:
            top, arg = tops[b], args[b]
    return arg, top


@numba.njit(cache=True, nogil=True, parallel=True)
def update_parallel(X, c, best, blocks):
    n = X.shape[0]
    args, tops = np.empty(blocks, np.int64), np.empty(blocks, np.float64)
    for b in numba.prange(blocks):
        args[b], tops[b] = _block(X, c, best, b * n // blocks, (b + 1) * n // blocks)
    return _reduce(args, tops)


@numba.njit(cache=True, nogil=True, parallel=True)
def update_shadow_parallel(Q, scale, err, X, c, best, blocks):
    n = X.shape[0]
    args, tops = np.empty(blocks, np.int64), np.empty(blocks, np.float64)
    for b in numba.prange(blocks):
        args[b], tops[b] = _block_shadow(Q, scale, err, X, c, best, b * n // blocks, (b + 1) * n // blocks)
    return _reduce(args, tops)


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def sq_dist_rows(X, C, nearest):
    """|X[i] - C[nearest[i]]|^2 in float64 (the exact re-check of FAISS's nearest start centre)."""
    n, d = X.shape
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        s = 0.0
        for j in range(d):
            t = np.float64(X[i, j]) - np.float64(C[nearest[i], j])
            s += t * t
        out[i] = s
    return out


def quantise(X: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row int8 copy q, scale s (x ~ s q) and a bound on |x - s q|, padded for the rounding of s q
    itself (the kernel may fuse it into an FMA, so the bound covers both ways). Chunked: temporaries stay
    a few MB whatever N."""
    q = np.empty(X.shape, dtype=np.int8)
    scale = np.empty(len(X), dtype=np.float32)
    err = np.empty(len(X))
    for s in range(0, len(X), chunk):
        rows = X[s:s + chunk]
        sc = (np.abs(rows).max(axis=1) / 127.0).astype(np.float32)
        safe = np.where(sc > 0, sc, 1.0).astype(np.float32)
        q[s:s + chunk] = np.clip(np.rint(rows / safe[:, None]), -127, 127)
        scale[s:s + chunk] = sc
        exact = rows.astype(np.float64)
        approx = q[s:s + chunk].astype(np.float32) * sc[:, None]
        err[s:s + chunk] = (np.linalg.norm(exact - approx, axis=1) * (1 + 1e-6)
                            + np.linalg.norm(exact, axis=1) * 2.0**-21)
    return q, scale, err


def update_kernel(X: np.ndarray, *, shadow: bool, parallel: bool | None = None,
                  quantised: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Update:
    """The per-pick pass over X as `update(c, best) -> next pick`; `parallel` None: whichever measured faster.
    `quantised`: X's int8 shadow when the caller has it already."""
    threads = numba.get_num_threads()
    if parallel is None:
        parallel = threads > 1 and len(X) >= 4096 and _parallel_wins(X, shadow, threads)
    blocks = max(1, threads * 4)
    if shadow:
        q, scale, err = quantise(X) if quantised is None else quantised
        if parallel:
            return lambda c, best: int(update_shadow_parallel(q, scale, err, X, c, best, blocks)[0])
        return lambda c, best: int(update_shadow(q, scale, err, X, c, best)[0])
    if parallel:
        return lambda c, best: int(update_parallel(X, c, best, blocks)[0])
    return lambda c, best: int(update(X, c, best)[0])


def _parallel_wins(X: np.ndarray, shadow: bool, threads: int, rows: int = 65_536, passes: int = 5) -> bool:
    """Time both kernels on the first rows of X (a copy of best each pass, so nothing of the caller's moves)."""
    key = (X.shape[1], shadow, threads)
    if key not in _CHOICE:
        sample = np.ascontiguousarray(X[:rows])
        quantised = quantise(sample) if shadow else None  # once for both kernels
        timings = []
        for parallel in (False, True):
            kernel = update_kernel(sample, shadow=shadow, parallel=parallel, quantised=quantised)
            best = np.full(len(sample), np.inf)
            kernel(sample[0], best.copy())  # compile (or load from numba's cache) outside the timing
            started = time.perf_counter()
            for p in range(passes):
                kernel(sample[p + 1], best)
            timings.append(time.perf_counter() - started)
        _CHOICE[key] = timings[1] < 0.9 * timings[0]  # a clear win only: the serial pass leaves a core free
    return _CHOICE[key]
