"""Similarity search over L2-normalised float32 vectors: FAISS k-NN and range search.

FAISS: exact inner product (`IndexFlatIP`) by default; IVF or HNSW for pools over about a million rows,
where exact all-pairs work (N^2 d) stops being affordable. `ivf_fp16` and `ivf_sq8` store each vector in 16
or 8 bits per dimension (half or a quarter of IVF-flat's copy: 0.77 or 0.4 GB instead of 1.5 GB at 1M x 384)
for callers that re-score the candidates they return against the float32 rows. fp16 codes have a bounded error
(`fp16_margin`), so a range search at t minus that margin, re-scored, finds the pairs IVF-flat finds at t (up
to float32 rounding at t itself); 8-bit codes are clamped to a trained range, so they suit a k-NN graph, not a
threshold. On a machine with faiss-gpu and a CUDA device the index moves to the GPU; otherwise faiss-cpu.
Queries run in chunks so memory stays bounded.

The exact all-pairs search for duplicates is `curation.geometry.all_pairs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from curation.errors import Cancelled, CurationError

Progress = Callable[[int, int, str], None]
Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # (rows, rows, similarities)
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
    elif kind in ("ivf", *_SQ_TYPES):
        _add_to_sized_lists(index, xb)
    else:
        index.add(xb)
    return index


def _add_to_sized_lists(index: Any, xb: np.ndarray, chunk: int = 65_536) -> None:
    """`index.add(xb)` for a CPU IVF index, with each inverted list allocated once at its final size: FAISS grows
    the lists as rows arrive (vector doubling: up to twice the codes, 0.3-0.7 GB more at 1M x 384 fp16). The rows
    are assigned to lists first, and the assignment is reused for the add, so no row is assigned twice."""
    import faiss

    lists = faiss.downcast_InvertedLists(index.invlists)  # a new CPU IVF index holds in-memory array lists
    assign = np.empty(len(xb), np.int64)
    for start in range(0, len(xb), chunk):
        assign[start:start + chunk] = index.quantizer.search(xb[start:start + chunk], 1)[1][:, 0]
    for list_no, size in enumerate(np.bincount(assign, minlength=index.nlist).tolist()):
        if size:
            lists.resize(list_no, size)  # allocates the list's final size ...
            lists.resize(list_no, 0)  # ... and a vector shrunk keeps its capacity for the add below
    index.add_core(len(xb), faiss.swig_ptr(xb), None, faiss.swig_ptr(assign))


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
                 should_stop: Callable[[], bool] | None = None) -> Pairs:
    """Every (query, database row, similarity) with inner product >= threshold, as three flat arrays in (query,
    row) order: `assemble_pairs(range_search_parts(...))` (see there)."""
    return assemble_pairs(range_search_parts(xq, index, threshold, chunk=chunk, upper_only=upper_only,
                                             exact_rows=exact_rows, margin=margin, progress=progress,
                                             should_stop=should_stop))


def range_search_parts(xq: np.ndarray, index: Any, threshold: float, *, chunk: int = 4096, upper_only: bool = False,
                       exact_rows: np.ndarray | None = None, margin: float = 0.0, progress: Progress | None = None,
                       should_stop: Callable[[], bool] | None = None) -> list[Pairs]:
    """The range search's pairs, chunk by chunk, each sorted and held compactly (32-bit rows): a caller that
    drops the index before `assemble_pairs` never holds the index and the int64 pairs at once (at a million rows
    with 40 near-copies each: 0.5 GB of chunks beside the index, then 0.8 GB of pairs without it).

    `upper_only` (a search of the indexed rows themselves): only query < database row, so each pair is held once
    and no self-match at all. `exact_rows` (the float32 database rows) with `margin`: the index is searched at
    threshold - margin and each candidate re-scored as the float32 inner product of its two rows, kept at
    >= threshold (an `ivf_fp16` index with `fp16_margin`: the pairs and similarities IVF-flat would give, from half
    its memory)."""
    import faiss

    if gpu_count() > 0 and not hasattr(index, "range_search_preassigned"):  # GPU indexes lack range search
        index = faiss.index_gpu_to_cpu(index) if hasattr(faiss, "index_gpu_to_cpu") else index
    xq = np.ascontiguousarray(xq, dtype=np.float32)
    radius = float(np.nextafter(np.float32(threshold - margin), np.float32(-np.inf)))  # FAISS keeps ip > radius
    narrow = np.int32 if max(len(xq), int(index.ntotal)) < 2**31 else np.int64
    parts: list[Pairs] = []
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
    return parts


def assemble_pairs(parts: list[Pairs]) -> Pairs:
    """(int64 rows, int64 rows, float32 similarities) from `range_search_parts`, emptying `parts` as it goes (each
    chunk is freed once copied)."""
    total = sum(len(p[0]) for p in parts)
    out: Pairs = (np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.float32))
    at = 0
    while parts:
        part = parts.pop(0)
        for column, values in zip(out, part):
            column[at:at + len(values)] = values
        at += len(part[0])
    return out
