"""Greedy K-Center (farthest-first traversal) and the Vendi score, over float32 embeddings.

K-Center keeps one running vector `best[i]` = squared distance from point i to its nearest centre and,
per pick, makes one fused pass over X: distance to the new centre, min-update, argmax. That is O(N) extra
memory and k passes over N x d, which is memory-bound: DiverseEvol's dense N x N matrix (22 GB at 52k) is
never built. Distances are sum((x - c)^2) with the differences and the sum in float64, never the expanded
|x|^2 + |c|^2 - 2 x.c: exact duplicates are exactly 0 apart (no cancellation, no NaN) and the picks equal
a float64 brute-force reference. Ties go to the lowest index. The cosine metric runs the same kernel on
L2-normalised rows (|x - c|^2 = 2 - 2 cos, so the order is identical) and reports 1 - cos.

Vendi (cosine kernel) uses the d x d Gram form: the non-zero eigenvalues of K/n = X X^T / n equal those of
X^T X / n, so it costs one N x d x d GEMM and a d x d eigendecomposition, for any N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from curation.errors import Cancelled, CurationError

METRICS = ("l2", "cosine")
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}  # vectorise the row sum; no NaN/inf shortcuts


@dataclass(frozen=True)
class KCenterResult:
    order: np.ndarray  # int64 [k]: picked row indices, in pick order
    distances: np.ndarray  # float64 [k]: each pick's distance to its nearest earlier centre (inf: none yet)
    radius: float  # covering radius: max distance from any candidate to its nearest centre afterwards
    metric: str


def kcenter(
    X: np.ndarray,
    k: int,
    *,
    start: Sequence[int] | np.ndarray = (),
    metric: str = "l2",
    first: int | None = None,
    candidates: np.ndarray | None = None,
    shadow: bool | None = None,
    device: str = "auto",
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> KCenterResult:
    """Pick `k` rows of X greedily, each the candidate farthest from all centres so far.

    `start` are rows already chosen (pinned or approved samples): centres from the outset, never picked.
    Without a start set the first pick is `first`, else the lowest available row (every distance is
    infinite; ties go to the lowest index). `candidates` (bool [N]) limits which rows may be picked and
    count for the radius.
    `shadow` keeps an int8 copy of X (N x d bytes, a quarter of X) and reads it instead of X on each pass,
    re-checking exactly the few rows whose bound says they might move: same picks, about 3x fewer bytes
    per pass. None: on when N >= 20,000. `device` "auto" uses torch on CUDA when present; the CPU kernels
    are exact and single-threaded.
    """
    X = _as_matrix(X)
    n = len(X)
    if metric not in METRICS:
        raise CurationError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if metric == "cosine":
        X = _normalised(X)
    start = np.unique(np.asarray(start, dtype=np.int64))
    if len(start) and (start.min() < 0 or start.max() >= n):
        raise CurationError(f"start index out of range for {n} rows")
    best = np.full(n, np.inf)
    if len(start):
        best = _start_distances(X, start)
        best[start] = -1.0  # centres: never picked
    if candidates is not None:
        best[~np.asarray(candidates, dtype=bool)] = -1.0
    available = int((best >= 0).sum())
    if not 0 <= k <= available:
        raise CurationError(f"cannot pick {k} of {available} available rows")
    if first is not None and not (0 <= first < n and best[first] >= 0):
        raise CurationError(f"first pick {first} is not an available row")
    if _use_torch(device):
        order, picked_d2, radius_d2 = _kcenter_torch(X, k, best, first, device, progress, should_stop)
    else:
        use_shadow = len(X) >= 20_000 if shadow is None else shadow
        order, picked_d2, radius_d2 = _kcenter_cpu(X, k, best, first, use_shadow, progress, should_stop)
    scale = _to_distance(metric)
    return KCenterResult(order=order, distances=scale(picked_d2), radius=float(scale(np.array([radius_d2]))[0]),
                         metric=metric)


def _kcenter_cpu(X, k, best, first, shadow, progress, should_stop):
    order = np.empty(k, dtype=np.int64)
    picked = np.empty(k, dtype=np.float64)
    arg = _argmax_available(best) if first is None else first
    if shadow:
        q, scale, err = _quantise(X)
    with threadpool_limits(1):  # one thread: per-pick passes lose 2-4x on 2 shared cores otherwise
        for p in range(k):
            if should_stop is not None and should_stop():
                raise Cancelled("K-Center cancelled")
            order[p], picked[p] = arg, best[arg]
            best[arg] = -1.0
            if shadow:
                arg, _ = _update_shadow(q, scale, err, X, X[arg], best)
            else:
                arg, _ = _update(X, X[arg], best)
            if progress is not None and (p + 1 == k or (p + 1) % max(1, k // 100) == 0):
                progress(p + 1, k, "K-Center")
    return order, picked, max(_radius_of(best), 0.0)


def _argmax_available(best: np.ndarray) -> int:
    return int(np.argmax(best))  # numpy returns the first (lowest) index of the maximum


def _radius_of(best: np.ndarray) -> float:
    return float(best.max()) if len(best) else 0.0


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _update(X, c, best):
    """best = min(best, |x - c|^2) for rows with best >= 0; returns (argmax, max) of best, lowest index first."""
    n, d = X.shape
    arg, top = -1, -np.inf
    for i in range(n):
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


def _quantise(X: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _update_shadow(Q, scale, err, X, c, best):
    """`_update` reading the int8 copy: |x - c| >= |s q - c| - err, so a row whose lower bound is not below
    its current best cannot change; only the others get the exact float64 distance from X."""
    n, d = Q.shape
    shrink = 1.0 - (d + 8) * 2.0**-24  # worst-case float32 rounding of the sum of d squares, even unvectorised
    arg, top = -1, -np.inf
    for i in range(n):
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


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _sq_dist_rows(X, C, nearest):
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


def _start_distances(X: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Squared distance of every row to its nearest start row: one FAISS 1-NN search, then exact re-check."""
    from curation.geometry.index import knn

    centres = np.ascontiguousarray(X[start])
    _, nearest = knn(X, centres, 1, metric="l2")
    return _sq_dist_rows(X, centres, nearest[:, 0].astype(np.int64))


def _use_torch(device: str) -> bool:
    if device == "cpu":
        return False
    if device == "torch":  # the GPU code path, run on the CPU (tests)
        return True
    import torch

    return device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())


def _kcenter_torch(X: np.ndarray, k: int, best_np: np.ndarray, first: int | None, device: str, progress: Any,
                   should_stop: Any, chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray, float]:
    """Same algorithm with torch (CUDA when present); float32 distances, chunked so temporaries stay small."""
    import torch

    dev = torch.device("cpu" if device == "torch" else ("cuda" if device == "auto" else device))
    Xt = torch.from_numpy(X).to(dev)
    best = torch.from_numpy(best_np).to(dev, dtype=torch.float64)
    order = np.empty(k, dtype=np.int64)
    picked = np.empty(k, dtype=np.float64)
    arg = int(torch.argmax(best)) if first is None else first  # torch.argmax: first maximal index
    for p in range(k):
        if should_stop is not None and should_stop():
            raise Cancelled("K-Center cancelled")
        order[p], picked[p] = arg, float(best[arg])
        best[arg] = -1.0
        c = Xt[arg]
        for s in range(0, len(Xt), chunk):
            d2 = (Xt[s:s + chunk] - c).pow(2).sum(dim=1, dtype=torch.float64)
            part = best[s:s + chunk]
            torch.where(part >= 0, torch.minimum(part, d2), part, out=part)
        arg = int(torch.argmax(best))
        if progress is not None and (p + 1 == k or (p + 1) % max(1, k // 100) == 0):
            progress(p + 1, k, "K-Center")
    return order, picked, max(float(best.max()), 0.0)


def _to_distance(metric: str) -> Callable[[np.ndarray], np.ndarray]:
    if metric == "cosine":
        return lambda d2: np.asarray(d2, dtype=np.float64) / 2.0  # |x - c|^2 / 2 = 1 - cos on unit vectors
    return lambda d2: np.sqrt(np.asarray(d2, dtype=np.float64))


def _as_matrix(X: np.ndarray) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise CurationError(f"expected a 2-D array of embeddings, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise CurationError("embeddings contain NaN or infinite values")
    return X


def _normalised(X: np.ndarray) -> np.ndarray:
    """Unit rows in float32; zero rows stay zero (callers mask them out as candidates)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.ascontiguousarray(X / np.where(norms > 0, norms, 1.0), dtype=np.float32)


# -- Vendi score ---------------------------------------------------------------------------------------
def vendi_score(X: np.ndarray, *, q: float = 1.0, normalize: bool = True, chunk: int = 16384) -> float:
    """Vendi score of the rows of X with the cosine kernel: exp of the order-q entropy of eig(K / n).

    1 when all rows are the same direction, n when they are orthogonal. Computed from the d x d Gram
    matrix X^T X (or X X^T when n < d), in float64 over row chunks (so X may be a memmap). Eigenvalues
    below d * eps * max are rounding noise and carry no mass (as the package drops non-positive ones).
    """
    n = len(X)
    if n == 0:
        raise CurationError("the Vendi score of an empty set is undefined")
    if n < X.shape[1]:
        rows = _rows64(X, normalize)
        return _vendi_from_gram(rows @ rows.T, n, q)
    return _vendi_from_gram(_gram(X, normalize=normalize, chunk=chunk), n, q)


def vendi_curve(X: np.ndarray, order: Sequence[int] | np.ndarray, sizes: Sequence[int], *,
                q: float = 1.0, normalize: bool = True) -> np.ndarray:
    """Vendi score of the first `s` rows of `order` for each `s` in `sizes` (a growing selection, e.g. one
    size per DiverseEvol iteration). The Gram matrix grows incrementally: one pass over the picks in all."""
    order = np.asarray(order, dtype=np.int64)
    size_arr = np.asarray(sizes, dtype=np.int64)
    if len(size_arr) and (np.any(np.diff(size_arr) < 0) or size_arr[0] < 1 or size_arr[-1] > len(order)):
        raise CurationError("sizes must grow, from 1 up to the length of the order")
    gram = np.zeros((X.shape[1], X.shape[1]))
    out, done = np.empty(len(size_arr)), 0
    for i, size in enumerate(size_arr):
        gram += _gram(X[order[done:size]], normalize=normalize, chunk=16384)
        done = size
        out[i] = _vendi_from_gram(gram, int(size), q)
    return out


def _rows64(X: np.ndarray, normalize: bool) -> np.ndarray:
    rows = np.asarray(X, dtype=np.float64)
    if normalize:
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        if (norms == 0).any():
            raise CurationError("a zero vector has no cosine similarity; drop it first")
        rows = rows / norms
    return rows


def _gram(X: np.ndarray, *, normalize: bool, chunk: int) -> np.ndarray:
    d = X.shape[1]
    gram = np.zeros((d, d), dtype=np.float64)
    for s in range(0, len(X), chunk):
        block = _rows64(X[s:s + chunk], normalize)
        gram += block.T @ block
    return gram


def _vendi_from_gram(gram: np.ndarray, n: int, q: float) -> float:
    eig = np.linalg.eigvalsh(gram / n)
    p = eig[eig > max(eig.max(), 0.0) * len(eig) * np.finfo(np.float64).eps]
    if q == 1:
        entropy = -np.sum(p * np.log(p))
    elif np.isinf(q):
        entropy = -np.log(p.max())
    else:
        entropy = np.log(np.sum(p ** q)) / (1 - q)
    return float(np.exp(entropy))
