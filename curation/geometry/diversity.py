"""Greedy K-Center (farthest-first traversal) over float32 embeddings (the Vendi score: geometry/vendi.py).

K-Center keeps one running vector `best[i]` = squared distance from point i to its nearest centre and,
per pick, makes one fused pass over X: distance to the new centre, min-update, argmax. That is O(N) extra
memory and k passes over N x d, which is memory-bound: DiverseEvol's dense N x N matrix (22 GB at 52k) is
never built. Distances are sum((x - c)^2) with the differences and the sum in float64, never the expanded
|x|^2 + |c|^2 - 2 x.c: exact duplicates are exactly 0 apart (no cancellation, no NaN) and the picks equal
a float64 brute-force reference. Ties go to the lowest index. The cosine metric runs the same kernel on
L2-normalised rows (|x - c|^2 = 2 - 2 cos, so the order is identical) and reports 1 - cos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from curation.errors import Cancelled, CurationError

METRICS = ("l2", "cosine")
# when the int8 shadow pays (bench/bench_kcenter.py; Xeon, 2 cores, d = 384): at 10k rows, k = 2,000 it runs in
# 0.38 s against 0.60 s plain, at k = 200 in 0.09 s against 0.065 s (quantising is a one-off cost per row)
SHADOW_MIN_ROWS = 20_000
SHADOW_MIN_PICKS = 500


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
    parallel: bool | None = None,
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
    per pass. None: on when N >= SHADOW_MIN_ROWS or k >= SHADOW_MIN_PICKS (quantising once costs what a few
    hundred passes save). `parallel` runs each pass on every core (numba threads; the same picks); None: when
    a micro-benchmark on this machine says it is faster (geometry/kcenter_kernels.py).
    `device` "auto" uses torch on CUDA when present; the CPU kernels are exact.
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
        use_shadow = (n >= SHADOW_MIN_ROWS or k >= SHADOW_MIN_PICKS) if shadow is None else shadow
        order, picked_d2, radius_d2 = _kcenter_cpu(X, k, best, first, use_shadow, parallel, progress,
                                                   should_stop)
    scale = _to_distance(metric)
    return KCenterResult(order=order, distances=scale(picked_d2), radius=float(scale(np.array([radius_d2]))[0]),
                         metric=metric)


def _kcenter_cpu(X: np.ndarray, k: int, best: np.ndarray, first: int | None, shadow: bool, parallel: bool | None,
                 progress: Any, should_stop: Any) -> tuple[np.ndarray, np.ndarray, float]:
    from curation.geometry.kcenter_kernels import update_kernel  # numba: the torch path runs without it

    order = np.empty(k, dtype=np.int64)
    picked = np.empty(k, dtype=np.float64)
    arg = _argmax_available(best) if first is None else first
    update = update_kernel(X, shadow=shadow, parallel=parallel)  # None: serial or multi-core, as measured
    with threadpool_limits(1):  # BLAS threads off: per-pick passes lose 2-4x on 2 shared cores otherwise
        for p in range(k):
            if should_stop is not None and should_stop():
                raise Cancelled("K-Center cancelled")
            order[p], picked[p] = arg, best[arg]
            best[arg] = -1.0
            arg = update(X[arg], best)
            if progress is not None and (p + 1 == k or (p + 1) % max(1, k // 100) == 0):
                progress(p + 1, k, "K-Center")
    return order, picked, max(_radius_of(best), 0.0)


def _argmax_available(best: np.ndarray) -> int:
    return int(np.argmax(best))  # numpy returns the first (lowest) index of the maximum


def _radius_of(best: np.ndarray) -> float:
    return float(best.max()) if len(best) else 0.0


def _start_distances(X: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Squared distance of every row to its nearest start row: one FAISS 1-NN search, then exact re-check."""
    from curation.geometry.index import knn
    from curation.geometry.kcenter_kernels import sq_dist_rows

    centres = np.ascontiguousarray(X[start])
    _, nearest = knn(X, centres, 1, metric="l2")
    return sq_dist_rows(X, centres, nearest[:, 0].astype(np.int64))


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
