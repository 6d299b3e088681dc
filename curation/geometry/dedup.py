"""Exact and near duplicates: one search pass, groups by connected components, a keeper per group.

Exact duplicates are samples whose compared text is identical under `curation.records.normalise` (whole
conversations that are identical were already merged at import: same content id; what is left is, e.g.,
the same question with different answers). Near duplicates are pairs of embeddings with cosine >= a
threshold. `scan` runs the search once at a floor threshold (exact all-pairs search, see
`curation.geometry.all_pairs.similar_pairs`; IVF above pair_search.APPROX_ABOVE = 200k rows), so counts and groups
for any threshold above the floor come from the same pairs, instantly (the app's slider).

Groups are connected components of the pair graph at the chosen threshold (so A~B~C groups A and C even
when A and C are less similar; each drop's reason gives its own cosine to the keeper). In each group one
sample is kept by the keeper rule ("longest" response, "first" seen, highest "score"; ties go to the
first seen); pinned and approved samples are never dropped and are preferred as keepers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from curation import heap
from curation.errors import CurationError
from curation.geometry import all_pairs, index
from curation.geometry.pair_graph import Scan as Scan  # re-exported: Scan and ThresholdCount are this module's results
from curation.geometry.pair_graph import ThresholdCount as ThresholdCount
from curation.geometry.pair_graph import exact_pairs, merge_pairs, text_groups
from curation.geometry.pair_search import APPROX_ABOVE, plan_search
from curation.geometry.pair_search import METHODS as METHODS  # re-exported: the CLI lists them

if TYPE_CHECKING:
    from curation.geometry.embed import EmbedConfig
    from curation.workspace.db import Workspace

KEEPERS = ("longest", "first", "score")
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Drop:
    row: int  # the dropped sample's row
    keeper: int  # the row kept in its group
    cosine: float  # similarity of the two (1.0 for exact duplicates without embeddings)
    exact: bool  # identical compared text


def scan(
    X: np.ndarray | None,
    texts: Iterable[str],
    *,
    floor: float = 0.85,
    method: str = "auto",
    device: str = "auto",
    active: np.ndarray | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Scan:
    """One duplicate-search pass. X: unit-row embeddings of `texts` (None: exact duplicates only); `texts` may be
    any iterable (a generator: the texts are never held at once).

    `active` (bool [n]) leaves rows out of every pair (e.g. samples already rejected). `method` and `device`:
    see `near_pairs`. Pairs come out in (i, j) order.
    """
    groups_of = text_groups(texts)
    n = len(groups_of)
    i, j = exact_pairs(groups_of)
    sim = np.ones(len(i), dtype=np.float32)
    if X is not None:
        if len(X) != n:
            raise CurationError(f"{len(X)} embeddings for {n} texts")
        near = near_pairs(X, floor, method=method, device=device, progress=progress, should_stop=should_stop)
        i, j, sim = merge_pairs(n, (i, j, sim), near)
        del near
    else:
        i, j, sim = merge_pairs(n, (i, j, sim))
    if active is not None and not np.all(active):  # at a million rows each copy of the pairs is 0.8 GB
        keep = np.asarray(active, bool)[i] & np.asarray(active, bool)[j]
        i, j, sim = i[keep], j[keep], sim[keep]
    return Scan(n=n, floor=float(floor), i=i, j=j, sim=sim, text_group=groups_of)


def near_pairs(X: np.ndarray, threshold: float, *, method: str = "auto", device: str = "auto",
               approx_above: int = APPROX_ABOVE, progress: Progress | None = None,
               should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, cosine), i < j, of unit rows with cosine >= threshold.

    "exact" (default below `approx_above` rows, and at any size on a GPU or with device="torch"): torch
    blocked low-precision filter + float64 check, complete. "flat": FAISS IndexFlatIP range search (exact,
    slower; the reference). "ivf": FAISS IVF (approximate). `device` picks where (curation.geometry.pair_search).
    """
    X = index.unit_rows(X)  # the error margins and FAISS's inner products assume unit rows
    how = plan_search(len(X), X.shape[1], method=method, device=device, approx_above=approx_above)
    if how.method == "exact":
        return all_pairs.similar_pairs(X, threshold, device=how.device, block_mb=how.block_mb, progress=progress,
                                       should_stop=should_stop)
    if importlib.util.find_spec("faiss") is None:
        raise CurationError(f"method {how.method!r} needs faiss (pip install faiss-cpu); method 'exact' or "
                            "device 'torch' searches exactly with torch alone")
    # IVF holds fp16 codes (half IVF-flat's copy of X) and every candidate is re-scored against X: the pairs and
    # similarities of IVF-flat. The index is gone before the pairs are assembled: never both in memory.
    if how.method == "ivf":
        built = index.build_index(X, index.IndexConfig(kind="ivf_fp16"))
        parts = index.range_search_parts(X, built, threshold, upper_only=True, exact_rows=X,
                                         margin=index.fp16_margin(X.shape[1]), progress=progress,
                                         should_stop=should_stop)
        del built
        heap.return_freed_memory()  # the index's lists are small heap blocks: glibc keeps them unless trimmed
        return index.assemble_pairs(parts)
    return index.range_search(X, index.build_index(X, index.IndexConfig(kind=how.method)), threshold,
                              upper_only=True, progress=progress, should_stop=should_stop)


def plan(
    scan_result: Scan,
    threshold: float,
    *,
    X: np.ndarray | None = None,
    keeper: str = "longest",
    response_chars: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    protected: np.ndarray | None = None,
) -> list[Drop]:
    """What a dedup at `threshold` drops, one `Drop` per sample, in row order."""
    if keeper not in KEEPERS:
        raise CurationError(f"unknown keeper rule {keeper!r}; use one of {', '.join(KEEPERS)}")
    n = scan_result.n
    rank = _keeper_rank(n, keeper, response_chars, scores)
    protected = np.zeros(n, bool) if protected is None else np.asarray(protected, bool)
    labels = scan_result.labels(threshold)
    rows = np.flatnonzero(np.bincount(labels)[labels] > 1)  # in row order: so are the drops
    if not len(rows):
        return []
    group = labels[rows]
    # each group keeps its first row by: protected (approved or pinned) first, best rank, then first seen
    order = np.lexsort((rows, -rank[rows], ~protected[rows], group))
    heads = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    kept_of = np.zeros(int(labels.max()) + 1, np.int64)
    kept_of[group[heads]] = rows[heads]
    kept = kept_of[group]
    dropped = (rows != kept) & ~protected[rows]
    row, keeper_row = rows[dropped], kept[dropped]
    exact = scan_result.text_group[row] == scan_result.text_group[keeper_row]
    cosine = np.ones(len(row)) if X is None else index.row_dots(X, row, X, keeper_row).astype(np.float64)
    return [Drop(row=int(r), keeper=int(k), cosine=float(c), exact=bool(e))
            for r, k, c, e in zip(row.tolist(), keeper_row.tolist(), cosine.tolist(), exact.tolist())]


def reason(drop: Drop, keeper_id: str) -> str:
    """The decision's reason, e.g. "near duplicate of 1a2b..., cosine 0.97"."""
    if drop.exact:
        return f"exact duplicate of {keeper_id}"
    return f"near duplicate of {keeper_id}, cosine {drop.cosine:.2f}"


def _keeper_rank(n: int, keeper: str, response_chars: np.ndarray | None, scores: np.ndarray | None) -> np.ndarray:
    if keeper == "first":
        return np.zeros(n)
    values = response_chars if keeper == "longest" else scores
    if values is None:
        raise CurationError(f"keeper rule {keeper!r} needs {'response lengths' if keeper == 'longest' else 'scores'}")
    values = np.asarray(values, dtype=np.float64)
    if len(values) != n:
        raise CurationError(f"{len(values)} keeper values for {n} samples")
    return np.where(np.isnan(values), -np.inf, values)


# -- the workspace -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolScan:
    ids: list[str]  # row order of the workspace
    scan: Scan
    X: np.ndarray | None  # the compared embeddings (None: exact duplicates only)
    response_chars: np.ndarray
    protected: np.ndarray  # pinned or approved: never dropped


@dataclass(frozen=True)
class Outcome:
    drops: list[Drop]
    dropped_ids: list[str]
    reasons: list[str]
    batch: str | None  # decision batch id (None on a dry run or when nothing is dropped)


def scan_pool(ws: Workspace, *, field: str = "prompt", floor: float = 0.85, method: str = "auto", near: bool = True,
              embed_config: EmbedConfig | None = None, progress: Progress | None = None,
              should_stop: Callable[[], bool] | None = None) -> PoolScan:
    """Scan a workspace's pool (rejected samples left out). `near=False`: exact duplicates only, no model."""
    from curation.geometry.embed import EmbedConfig, embed_pool, sample_text
    from curation.workspace import samples

    frame = samples.frame(ws, texts=False)  # the texts of a million samples are 2.3 GB here: streamed below
    X = embed_pool(ws, embed_config or EmbedConfig(), field=field, progress=progress,
                   should_stop=should_stop) if near else None
    texts = (sample_text(record, field) for _, record in samples.iter_records(ws))  # read once, never all held
    result = scan(X, texts, floor=floor, method=method, active=(frame["status"] != "rejected").to_numpy(),
                  progress=progress, should_stop=should_stop)
    protected = (frame["pinned"] | (frame["status"] == "approved")).to_numpy()
    return PoolScan(ids=frame["id"].tolist(), scan=result, X=X,
                    response_chars=frame["response_chars"].to_numpy(), protected=protected)


def apply(ws: Workspace, pool: PoolScan, threshold: float, *, keeper: str = "longest", scores: np.ndarray | None = None,
          dry_run: bool = False) -> Outcome:
    """Reject every non-keeper at `threshold`, one decision per sample with its reason (origin "dedup")."""
    from curation.workspace import decisions

    drops = plan(pool.scan, threshold, X=pool.X, keeper=keeper, response_chars=pool.response_chars,
                 scores=scores, protected=pool.protected)
    ids = [pool.ids[d.row] for d in drops]
    reasons = [reason(d, pool.ids[d.keeper]) for d in drops]
    batch = None
    if ids and not dry_run:
        batch = decisions.record(ws, ids, "reject", origin="dedup", reasons=reasons)
    return Outcome(drops=drops, dropped_ids=ids, reasons=reasons, batch=batch)
