"""Decontamination: find pool samples that duplicate rows of an evaluation set, and keep them out of training.

Two tests, both complete. Exact: the compared texts are equal under `curation.records.normalise` (the rule exact
dedup uses), matched by a 64-bit hash. Near: cosine >= a threshold between the eval rows' embeddings and the pool's,
with the encoder the pool was embedded with and the workspace's embedding cache (eval texts are cached beside the
pool's, keyed by their text). The near search is exhaustive: FAISS flat inner product (exact up to float32 rounding,
searched a little below the threshold) with every candidate re-checked in float64, or blocked numpy products when
FAISS is absent. So every pair at or above the threshold is found, and no pair below it is reported.

Rejections are ordinary decisions with origin "decontaminate" and a reason naming the eval row and the cosine,
so `undo --origin decontaminate` takes a whole decontamination back.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from curation.errors import CurationError, InputError
from curation.geometry.embed import FIELDS, EmbedConfig, embed_in_workspace, embed_pool, sample_text
from curation.geometry.embed_cache import text_keys
from curation.records import Record, normalise

if TYPE_CHECKING:
    from curation.workspace.db import Workspace

ORIGIN = "decontaminate"
SEARCH_MARGIN = 1e-5  # float32 inner products of unit rows err by far less (d * 2^-24 ~ 2e-5 at worst for d=384)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DecontaminationConfig:
    cosine: float = 0.9  # near duplicates: cosine >= this between eval row and sample
    field: str = "text"  # what is embedded and compared ("text": whole conversation, "prompt": system+user)
    exact: bool = True  # also match identical normalised texts, whatever their cosine


@dataclass(frozen=True)
class ContaminationPair:
    eval_index: int  # 0-based position in the eval records
    eval_line: int  # where that row starts in the eval file (1-based)
    sample_id: str
    cosine: float  # float64 cosine of the two embeddings
    exact: bool  # identical normalised text


@dataclass(frozen=True)
class EvalSet:
    """An evaluation file read into records, each with the line it starts on."""

    name: str  # the file's name, as reasons quote it
    records: tuple[Record, ...]
    lines: tuple[int, ...]


def read_eval_file(path: str | Path, *, schema: str | None = None) -> EvalSet:
    """Every row of an eval file (any format the importer reads); the first unreadable row raises `InputError`
    naming the file and line: a benchmark with a silently skipped row would be checked incompletely."""
    from curation.formats import loaders, schemas

    if not Path(path).exists():  # else a bare name would be looked up on the hub
        raise InputError("no such file or folder", source=str(path))
    items = list(loaders.read_rows(path))
    for item in items:
        if isinstance(item, loaders.Problem):
            raise InputError(item.message, source=item.source, line=item.line, kind=item.kind)
    rows = [item for item in items if isinstance(item, loaders.Row)]
    if not rows:
        raise InputError("holds no rows", source=str(path), kind="empty")
    name = schemas.resolve_schema(schema) if schema else schemas.detect_schema([r.data for r in rows[:100]],
                                                                               source=str(path))
    records = []
    for row in rows:
        try:
            records.append(schemas.to_record(row.data, name))
        except InputError as exc:
            raise InputError(str(exc), source=row.source, line=row.line, kind=exc.kind) from None
    return EvalSet(name=Path(path).name, records=tuple(records), lines=tuple(r.line for r in rows))


def find_contamination(
    ws: Workspace,
    eval_records: Sequence[Record],
    *,
    cosine: float | None = None,
    config: DecontaminationConfig = DecontaminationConfig(),
    eval_lines: Sequence[int] | None = None,
    sample_ids: Sequence[str] | None = None,
    embed_config: EmbedConfig = EmbedConfig(),
    progress: Progress | None = None,
) -> list[ContaminationPair]:
    """Every (eval row, sample) pair that is an exact or near duplicate, highest cosine first.

    `cosine` overrides `config.cosine`. `sample_ids`: the samples checked (e.g. a run's selection); None: every
    sample not rejected. `eval_lines`: each eval row's line in its file (default: position + 1).
    """
    threshold = config.cosine if cosine is None else float(cosine)
    if not 0 < threshold <= 1:
        raise CurationError(f"cosine must be in (0, 1], got {threshold}")
    if config.field not in FIELDS:
        raise CurationError(f"unknown text field {config.field!r}; use one of {', '.join(FIELDS)}")
    lines = list(eval_lines) if eval_lines is not None else list(range(1, len(eval_records) + 1))
    if len(lines) != len(eval_records):
        raise CurationError(f"{len(lines)} eval lines for {len(eval_records)} eval records")
    all_ids, pool_texts, pool_X = _pool(ws, config.field, embed_config, progress)
    rows = _rows_checked(ws, all_ids, sample_ids)
    if not len(eval_records) or not len(rows):
        return []
    eval_texts = [sample_text(r, config.field) for r in eval_records]
    eval_X = _embed_eval(ws, eval_texts, embed_config, progress)
    X = pool_X[rows]
    checked_texts = [pool_texts[r] for r in rows]
    qi, pj, near_sims = near_pairs(eval_X, X, threshold, progress=progress)
    searched = dict(zip((qi * len(rows) + pj).tolist(), near_sims.tolist()))
    if config.exact:
        ei, ej = _exact_pairs(eval_texts, checked_texts)
        qi, pj = _union(qi, pj, ei, ej, len(rows))
    exact = [normalise(eval_texts[q]) == normalise(checked_texts[p]) for q, p in zip(qi, pj)]
    # the search's own cosine where it found the pair, so a pair kept at >= threshold never reports less
    sims = [searched.get(k, s) for k, s in zip((qi * len(rows) + pj).tolist(), _cosines(eval_X, X, qi, pj))]
    pairs = [ContaminationPair(eval_index=int(q), eval_line=int(lines[q]), sample_id=all_ids[rows[p]],
                               cosine=float(s), exact=bool(e)) for q, p, s, e in zip(qi, pj, sims, exact)]
    return sorted(pairs, key=lambda c: (-c.cosine, c.eval_index, c.sample_id))


def near_pairs(queries: np.ndarray, base: np.ndarray, threshold: float, *, block: int = 4096,
               progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query row, base row, float64 cosine) of every pair of rows, made unit, with cosine >= threshold."""
    from curation.geometry import index

    queries, base = index.normalize(queries), index.normalize(base)
    if importlib.util.find_spec("faiss") is not None:
        flat = index.build_index(base, index.IndexConfig(kind="flat"))
        qi, pj, _ = index.range_search(queries, flat, threshold - SEARCH_MARGIN, progress=progress)
    else:  # the same candidates by blocked products: memory stays at one block of queries x base
        found_q, found_p = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for start in range(0, len(queries), block):
            q, p = np.nonzero(queries[start:start + block] @ base.T >= threshold - SEARCH_MARGIN)
            found_q.append(q + start)
            found_p.append(p)
        qi, pj = np.concatenate(found_q), np.concatenate(found_p)
    qi, pj = qi.astype(np.int64), pj.astype(np.int64)
    sims = _cosines(queries, base, qi, pj)
    keep = sims >= threshold
    return qi[keep], pj[keep], sims[keep]


def reject_contaminated(ws: Workspace, pairs: Iterable[ContaminationPair], eval_name: str, *,
                        actor: str | None = None) -> int:
    """Reject every sample in `pairs` that is not rejected yet, one decision each (origin "decontaminate"), with
    the reason naming its closest eval row. Returns how many samples it rejected."""
    from curation.workspace import decisions

    closest: dict[str, ContaminationPair] = {}
    for pair in pairs:
        best = closest.get(pair.sample_id)
        if best is None or (pair.cosine, pair.exact) > (best.cosine, best.exact):
            closest[pair.sample_id] = pair
    already = set(decisions.ids_with(ws, status="rejected"))
    todo = [sid for sid in closest if sid not in already]
    if todo:
        decisions.record(ws, todo, "reject", origin=ORIGIN, reasons=[reason(closest[s], eval_name) for s in todo],
                         actor=actor)
    return len(todo)


def reason(pair: ContaminationPair, eval_name: str) -> str:
    """E.g. "duplicates eval row 17 of mmlu.jsonl (cosine 0.94)"; the row is named by its line in the file."""
    how = " exactly" if pair.exact else ""
    return f"duplicates eval row {pair.eval_line} of {eval_name}{how} (cosine {pair.cosine:.2f})"


def without_contaminated(sample_ids: Sequence[str], pairs: Iterable[ContaminationPair]) -> list[str]:
    """`sample_ids` minus every sample in a pair, order kept (what evaluation excludes instead of rejecting)."""
    dirty = {p.sample_id for p in pairs}
    return [s for s in sample_ids if s not in dirty]


def refuse_if_contaminated(pairs: Sequence[ContaminationPair], eval_name: str) -> None:
    """Raise `CurationError` naming the first pairs, for users who prefer to stop rather than exclude."""
    if pairs:
        shown = "; ".join(f"{p.sample_id} {reason(p, eval_name)}" for p in pairs[:3])
        more = f" and {len(pairs) - 3} more" if len(pairs) > 3 else ""
        raise CurationError(f"{len(pairs)} samples duplicate rows of {eval_name}: {shown}{more}")


# -- internals ------------------------------------------------------------------------------------
def _pool(ws: Workspace, field: str, embed_config: EmbedConfig,
          progress: Progress | None) -> tuple[list[str], list[str], np.ndarray]:
    """Ids, compared texts and embeddings of every sample, in the workspace's row order."""
    from curation.workspace import samples

    ids, texts = [], []
    for sid, record in samples.iter_records(ws):
        ids.append(sid)
        texts.append(sample_text(record, field))
    if not ids:
        raise CurationError(f"workspace {ws.root} has no samples; import some first")
    X = embed_pool(ws, embed_config, field=field, progress=progress)
    if len(X) != len(ids):  # an import landed between the two reads
        raise CurationError("the pool changed while it was being read; run again")
    return ids, texts, X


def _rows_checked(ws: Workspace, all_ids: list[str], sample_ids: Sequence[str] | None) -> np.ndarray:
    from curation.workspace import decisions

    row_of = {sid: r for r, sid in enumerate(all_ids)}
    if sample_ids is None:
        rejected = set(decisions.ids_with(ws, status="rejected"))
        return np.array([r for r, sid in enumerate(all_ids) if sid not in rejected], dtype=np.int64)
    missing = [s for s in sample_ids if s not in row_of]
    if missing:
        raise CurationError(f"no sample with id {missing[0]}" + (f" (and {len(missing) - 1} more)"
                                                                 if len(missing) > 1 else ""))
    return np.array(sorted({row_of[s] for s in sample_ids}), dtype=np.int64)


def _embed_eval(ws: Workspace, texts: list[str], embed_config: EmbedConfig, progress: Progress | None) -> np.ndarray:
    """The eval rows' vectors from the encoder and cache the pool's vectors came from."""
    return embed_in_workspace(ws, texts, embed_config, progress=progress)


def _exact_pairs(eval_texts: Sequence[str], pool_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(eval row, pool row) of every pair with equal normalised text, matched by hash."""
    by_key: dict[int, list[int]] = {}
    for p, key in enumerate(text_keys(normalise(t) for t in pool_texts).tolist()):
        by_key.setdefault(key, []).append(p)
    qi, pj = [], []
    for q, key in enumerate(text_keys(normalise(t) for t in eval_texts).tolist()):
        for p in by_key.get(key, ()):
            qi.append(q)
            pj.append(p)
    return np.array(qi, dtype=np.int64), np.array(pj, dtype=np.int64)


def _union(qi: np.ndarray, pj: np.ndarray, ei: np.ndarray, ej: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    keys = np.unique(np.concatenate([qi * n + pj, ei * n + ej]))
    return keys // n, keys % n


def _cosines(A: np.ndarray, B: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    if not len(i):
        return np.zeros(0)
    return np.einsum("nd,nd->n", A[i].astype(np.float64), B[j].astype(np.float64))
