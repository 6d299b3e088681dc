"""Similarity search over L2-normalised float32 vectors: FAISS k-NN and range search, plus an exact
blocked all-pairs search for duplicate detection.

FAISS: exact inner product (`IndexFlatIP`) by default; IVF or HNSW for pools over about a million rows,
where exact all-pairs work (N^2 d) stops being affordable. `ivf_fp16` and `ivf_sq8` store each vector in 16
or 8 bits per dimension (half or a quarter of IVF-flat's copy: 0.77 or 0.4 GB instead of 1.5 GB at 1M x 384)
for callers that re-score the candidates they return against the float32 rows. fp16 codes have a bounded error
(`fp16_margin`), so a range search at t minus that margin, re-scored, finds the pairs IVF-flat finds at t (up
to float32 rounding at t itself); 8-bit codes are clamped to a trained range, so they suit a k-NN graph, not a
threshold. On a machine with faiss-gpu and a CUDA device the index moves to the GPU; otherwise faiss-cpu.
Queries run in chunks so memory stays bounded.

`similar_pairs(X, t)` finds every pair with cosine >= t exactly, faster than FAISS's flat range search:
it multiplies upper-triangle blocks in bf16 (fp16 on CUDA) with fp32 accumulation, keeps candidates at
t - eps, where eps bounds the low-precision error (3u + d 2^-23 for unit rows, u the unit round-off),
and re-checks each candidate in float64. Nothing at or above t can be missed; every pair returned
is verified. On a CPU without native bf16 it multiplies in fp32.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from curation.errors import Cancelled, CurationError

Progress = Callable[[int, int, str], None]
KINDS = ("auto", "flat", "ivf", "ivf_fp16", "ivf_sq8", "hnsw")
_SQ_TYPES = {"ivf_fp16": "QT_fp16", "ivf_sq8": "QT_8bit"}


@dataclass(frozen=True)
class IndexConfig:
    kind: str = "auto"  # "auto": flat below `approx_above` rows, IVF above
    metric: str = "ip"  # "ip" (cosine on unit rows) | "l2"
    approx_above: int = 1_000_000
    nlist: int | None = None  # IVF lists; None: 4 sqrt(N)
    nprobe: int = 16
    hnsw_m: int = 32
    ef_search: int = 128
    gpu: str = "auto"  # "auto" | "never"
    seed: int = 0


def normalize(X: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 copy of X with unit rows (zero rows raise: they have no direction)."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise CurationError(f"expected a 2-D array of embeddings, got shape {X.shape}")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if (norms == 0).any():
        raise CurationError(f"row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is a zero vector")
    return np.ascontiguousarray(X / norms, dtype=np.float32)


UNIT_TOLERANCE = 1e-4  # |squared norm - 1| of a row taken as unit: float32 rounding, not a real scale
_CHECK_ROWS = 65_536


def unit_rows(X: np.ndarray) -> np.ndarray:
    """X itself when it is C-contiguous float32 with unit rows already (the embedding stores keep them so: no
    1.5 GB copy at a million rows; read-only callers only), else `normalize(X)`."""
    if isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 2 and X.flags.c_contiguous:
        for start in range(0, len(X), _CHECK_ROWS):
            block = X[start:start + _CHECK_ROWS]
            if not np.all(np.abs(np.einsum("ij,ij->i", block, block) - 1.0) <= UNIT_TOLERANCE):
                break
        else:
            return X
    return normalize(X)


def gpu_count() -> int:
    """CUDA devices faiss can use (0 with faiss-cpu)."""
    import faiss

    return int(faiss.get_num_gpus()) if hasattr(faiss, "get_num_gpus") else 0


def build_index(xb: np.ndarray, config: IndexConfig = IndexConfig()) -> Any:
    """A FAISS index holding xb (float32 [N, d]); trained first when IVF."""
    import faiss

    xb = np.ascontiguousarray(xb, dtype=np.float32)
    n, d = xb.shape
    kind = config.kind
    if kind == "auto":
        kind = "ivf" if n > config.approx_above else "flat"
    if kind not in KINDS:
        raise CurationError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")
    metric = faiss.METRIC_INNER_PRODUCT if config.metric == "ip" else faiss.METRIC_L2
    index: Any  # faiss index classes share no base class in its stubs
    if kind == "flat":
        index = faiss.IndexFlatIP(d) if config.metric == "ip" else faiss.IndexFlatL2(d)
    elif kind in ("ivf", *_SQ_TYPES):
        nlist = config.nlist or max(1, min(int(4 * np.sqrt(n)), n // 39 or 1))
        quantizer = faiss.IndexFlatIP(d) if config.metric == "ip" else faiss.IndexFlatL2(d)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, d, nlist, metric)
        else:
            qtype = getattr(faiss.ScalarQuantizer, _SQ_TYPES[kind])
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, qtype, metric)
        rng = np.random.default_rng(config.seed)
        train = xb if n <= 256 * nlist else xb[np.sort(rng.choice(n, 256 * nlist, replace=False))]
        index.cp.seed = config.seed
        index.train(train)
        index.nprobe = min(config.nprobe, nlist)
    else:
        index = faiss.IndexHNSWFlat(d, config.hnsw_m, metric)
        index.hnsw.efSearch = config.ef_search
    if config.gpu == "auto" and gpu_count() > 0 and kind != "hnsw":
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(xb)
    return index


def knn(xq: np.ndarray, xb_or_index: Any, k: int, *, metric: str = "ip", chunk: int = 16384,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(D, I) of the k nearest rows of the database for every query row, queried in chunks.

    D is inner product (metric "ip") or squared L2 distance ("l2"); rows of I are -1 where fewer than k exist.
    """
    xq = np.ascontiguousarray(xq, dtype=np.float32)
    index = xb_or_index
    if isinstance(xb_or_index, np.ndarray):
        index = build_index(xb_or_index, IndexConfig(kind="flat", metric=metric))
    D = np.empty((len(xq), k), dtype=np.float32)
    I = np.empty((len(xq), k), dtype=np.int64)  # noqa: E741 (FAISS naming)
    for s in range(0, len(xq), chunk):
        if should_stop is not None and should_stop():
            raise Cancelled("search cancelled")
        D[s:s + chunk], I[s:s + chunk] = index.search(xq[s:s + chunk], k)
        if progress is not None:
            progress(min(s + chunk, len(xq)), len(xq), "k-NN search")
    return D, I


def row_dots(A: np.ndarray, a: np.ndarray, B: np.ndarray, b: np.ndarray, block: int = 32_768) -> np.ndarray:
    """A[a[k]] . B[b[k]] for every k in float32, a block of rows at a time (two 50 MB gathers at d = 384, not
    two of the whole candidate list): within 1e-6 of float64 for unit rows."""
    out = np.empty(len(a), np.float32)
    for start in range(0, len(a), block):
        stop = start + block
        out[start:stop] = np.einsum("ij,ij->i", np.asarray(A[a[start:stop]], np.float32),
                                    np.asarray(B[b[start:stop]], np.float32))
    return out


def fp16_margin(d: int) -> float:
    """Bound on |q.x - q.fp16(x)| for unit q, x in d dimensions, as FAISS computes it: each component rounds
    within 2^-11 of itself (plus 2^-25 below fp16's normal range), so the product moves by at most
    2^-11 + 2^-25 sqrt(d); FAISS's float32 sums add at most d 2^-24 more (taken twice, for the exact side too)."""
    return 2.0 ** -11 + 2.0 ** -25 * float(np.sqrt(d)) + 2 * d * 2.0 ** -24 + 1e-6


def range_search(xq: np.ndarray, index: Any, threshold: float, *, chunk: int = 4096, upper_only: bool = False,
                 exact_rows: np.ndarray | None = None, margin: float = 0.0, progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query, database row, similarity) with inner product >= threshold, as three flat arrays in (query,
    row) order. `upper_only` (a search of the indexed rows themselves): only query < database row, kept chunk by
    chunk, so each pair is held once and no self-match at all. The chunks are held compactly (32-bit rows) and
    the index is released before the int64 result is assembled, when the caller passed its only reference: at a
    million rows with 40 near-copies each, 0.5 GB of chunks beside the index, then 0.8 GB of pairs without it.

    `exact_rows` (the float32 database rows) with `margin`: the index is searched at threshold - margin and each
    candidate re-scored as the float32 inner product of its two rows, kept at >= threshold (an `ivf_fp16` index
    with `fp16_margin`: the pairs and similarities IVF-flat would give, from half its memory)."""
    import faiss

    if gpu_count() > 0 and not hasattr(index, "range_search_preassigned"):  # GPU indexes lack range search
        index = faiss.index_gpu_to_cpu(index) if hasattr(faiss, "index_gpu_to_cpu") else index
    xq = np.ascontiguousarray(xq, dtype=np.float32)
    radius = float(np.nextafter(np.float32(threshold - margin), np.float32(-np.inf)))  # FAISS keeps ip > radius
    narrow = np.int32 if max(len(xq), int(index.ntotal)) < 2**31 else np.int64
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for s in range(0, len(xq), chunk):
        if should_stop is not None and should_stop():
            raise Cancelled("search cancelled")
        lims, sim, ids = index.range_search(xq[s:s + chunk], radius)
        r = s + np.repeat(np.arange(len(lims) - 1), np.diff(lims).astype(np.int64))
        keep = ids > r if upper_only else slice(None)
        r, c, v = r[keep].astype(narrow), ids[keep].astype(narrow), sim[keep].astype(np.float32)
        if exact_rows is not None:
            v = row_dots(xq, r, exact_rows, c)
            ok = v >= np.float32(threshold)
            r, c, v = r[ok], c[ok], v[ok]
        order = np.lexsort((c, r))  # a chunk covers a run of queries: sorted chunks concatenate in order
        parts.append((r[order], c[order], v[order]))
        del lims, sim, ids, r, c, v, order
        if progress is not None:
            progress(min(s + chunk, len(xq)), len(xq), "range search")
    del index  # the caller's reference, if it kept one, keeps it alive; otherwise its memory goes back now
    total = sum(len(p[0]) for p in parts)
    out: tuple[np.ndarray, np.ndarray, np.ndarray] = (np.empty(total, np.int64), np.empty(total, np.int64),
                                                     np.empty(total, np.float32))
    at = 0
    while parts:  # fill the result and free each chunk as it is copied
        part = parts.pop(0)
        for column, values in zip(out, part):
            column[at:at + len(values)] = values
        at += len(part[0])
    return out


# -- exact all-pairs search ----------------------------------------------------------------------------
def similar_pairs(X: np.ndarray, threshold: float, *, device: str = "auto", block_mb: int = 128,
                  progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, cosine) for every pair i < j of unit rows with cosine >= threshold, exactly (see module doc).

    Memory above X: one block of the similarity matrix (`block_mb`) plus a low-precision copy of X.
    """
    import torch

    X = np.ascontiguousarray(X, dtype=np.float32)
    n, d = X.shape
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    low = _low_precision(dev)
    unit = {torch.bfloat16: 2.0 ** -8, torch.float16: 2.0 ** -11, torch.float32: 2.0 ** -24}[low]
    eps = 3 * unit + unit * unit + d * 2.0 ** -23 + 1e-6  # inputs, products, output rounding, accumulation
    candidate = threshold - eps
    xl = torch.from_numpy(X).to(dev).to(low)
    xlt = xl.T.contiguous()
    bytes_per = 2 if low != torch.float32 else 4
    block = int(max(64, min(4096, block_mb * 2**20 // max(1, n * bytes_per))))
    bits = _as_int16_bits(candidate, low) if low != torch.float32 and candidate > 0 else None
    total_work, done_work = n * (n + 1) / 2, 0.0
    out_i, out_j, out_s = [], [], []
    with torch.inference_mode(), _fp32_accumulation(dev):
        for a in range(0, n, block):
            if should_stop is not None and should_stop():
                raise Cancelled("duplicate search cancelled")
            b = min(a + block, n)
            S = xl[a:b] @ xlt[:, a:]  # rows a..b against columns a..n: the upper triangle, block by block
            S[:, : b - a].triu_(1)  # drop the diagonal and below (zero is under any positive threshold)
            if bits is not None:  # positive 16-bit floats order like their bit patterns: an int16 compare
                view = S.view(torch.int16)
                rows = torch.nonzero(view.amax(dim=1) >= bits).flatten()
                r, c = torch.nonzero(view[rows] >= bits, as_tuple=True)
                r = rows[r]
            else:
                r, c = torch.nonzero(S >= candidate, as_tuple=True)
            gi, gj = (r + a).cpu().numpy(), (c + a).cpu().numpy()
            upper = gj > gi
            gi, gj, sims = _verify(X, gi[upper], gj[upper], threshold)
            out_i.append(gi)
            out_j.append(gj)
            out_s.append(sims)
            done_work += (b - a) * (n - a) - (b - a) ** 2 / 2
            if progress is not None:
                progress(int(done_work), int(total_work), "duplicate search")
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_s)


def _verify(X: np.ndarray, i: np.ndarray, j: np.ndarray, threshold: float,
            chunk: int = 16384) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep candidate pairs whose float64 cosine is >= threshold."""
    keep_i, keep_j, keep_s = [], [], []
    for s in range(0, len(i), chunk):
        ii, jj = i[s:s + chunk], j[s:s + chunk]
        sims = np.einsum("nd,nd->n", X[ii].astype(np.float64), X[jj].astype(np.float64))
        ok = sims >= threshold
        keep_i.append(ii[ok])
        keep_j.append(jj[ok])
        keep_s.append(sims[ok].astype(np.float32))
    if not keep_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate(keep_i).astype(np.int64), np.concatenate(keep_j).astype(np.int64),
            np.concatenate(keep_s))


@contextmanager
def _fp32_accumulation(dev):
    """cuBLAS may reduce fp16 products in fp16 unless told not to; the error margin assumes fp32 sums."""
    import torch

    if dev.type != "cuda":
        yield
        return
    flag = torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = flag


def _low_precision(dev):
    import torch

    if dev.type == "cuda":
        return torch.float16
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


def _as_int16_bits(value: float, dtype: Any) -> int:
    """Bit pattern (as int16) of the largest 16-bit float <= value, so `bits >= it` keeps all >= value."""
    import torch

    t = torch.tensor(value, dtype=torch.float32).to(dtype)
    if float(t) > value:  # rounded up: step one ulp down
        t = torch.tensor(int(t.view(torch.int16)) - 1, dtype=torch.int16).view(dtype)
    return int(t.view(torch.int16))
