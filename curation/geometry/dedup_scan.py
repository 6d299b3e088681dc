"""A duplicate scan kept in the workspace, so the Duplicates page's slider previews instantly after a reload.

`curation.geometry.dedup.scan_pool` finds every pair above a floor threshold in one pass. `scan_and_save` runs it (as a
job) and saves the pairs under `dedup/` with the ids of the rows and the embedding-cache keys of the compared
texts. `load` gives the scan back with what happened since: samples rejected since are left out of every pair
(as a fresh scan would leave them out), pinned and approved samples are protected, and pairs a reviewer marked
"keep both" are gone. The embeddings (for the cosine in each drop's reason) are read back from the embedding
cache, never stored twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from curation.errors import CurationError
from curation.geometry import dedup
from curation.workspace import decisions, samples
from curation.workspace.arrays import atomic_write_text, load_array, save_array
from curation.workspace.db import Workspace

DIR = "dedup"
ORIGIN = "dedup"
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SavedScan:
    pool: dedup.PoolScan  # pairs, ids, embeddings, lengths and protection as of now
    field: str
    floor: float
    near: bool  # False: exact duplicates only
    created: float
    stale: bool  # samples were imported after the scan: scan again to include them
    n_distinct: int  # pairs marked "keep both"


def _path(ws: Workspace, name: str) -> Path:
    return ws.path(DIR, name)


def save(ws: Workspace, pool: dedup.PoolScan, *, field: str, near: bool, text_keys: np.ndarray | None = None,
         store: dict | None = None) -> None:
    """Write a scan's pairs and rows; `meta.json` goes last and publishes the scan."""
    scan = pool.scan
    for name, array in (("i", scan.i), ("j", scan.j), ("sim", scan.sim), ("text_group", scan.text_group),
                        ("ids", np.asarray(pool.ids, dtype="U"))):
        save_array(_path(ws, f"scan_{name}.npy"), array)
    if text_keys is not None:
        save_array(_path(ws, "scan_keys.npy"), np.asarray(text_keys, np.uint64))
    meta = {"field": field, "floor": scan.floor, "near": near, "n": scan.n, "pairs": int(len(scan.i)),
            "created": time.time(), "keys": text_keys is not None, **(store or {})}
    atomic_write_text(_path(ws, "meta.json"), json.dumps(meta, indent=1))


def scan_and_save(ws: Workspace, *, field: str = "prompt", floor: float = 0.85, near: bool = True,
                  progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> SavedScan:
    """Scan the pool (embedding what is not embedded yet) and keep the result for the Duplicates page."""
    from curation.geometry.embed import EmbedConfig, sample_text, store_spec
    from curation.geometry.embed_cache import text_keys

    if not 0 < floor <= 1:
        raise CurationError(f"the scan's floor must be in (0, 1], got {floor}")
    pool = dedup.scan_pool(ws, field=field, floor=floor, near=near, progress=progress, should_stop=should_stop)
    keys, store = None, None
    if near:
        spec = store_spec(EmbedConfig())
        keys = text_keys(sample_text(record, field) for _, record in samples.iter_records(ws))
        if spec is not None:
            store = {"store": f"embeddings/{spec.folder_name}", "spec": asdict(spec)}
    save(ws, pool, field=field, near=near, text_keys=keys, store=store)
    del pool  # read back below: holding both would double the pairs and the embeddings
    loaded = load(ws)
    assert loaded is not None
    return loaded


@dataclass(frozen=True, eq=False)
class ScanFiles:
    """What a saved scan holds (fixed until the next scan), read once: the app keeps it per `stamp`, so a page
    rerun reads only the decisions made since."""

    meta: dict
    ids: list[str]
    index: pd.Index  # id -> row, hashed once
    i: np.ndarray
    j: np.ndarray
    sim: np.ndarray
    text_group: np.ndarray
    response_chars: np.ndarray
    X: np.ndarray | None  # the compared texts' embeddings (near scans), from the embedding cache


def stamp(ws: Workspace) -> int | None:
    """Changes with every scan saved (None: never scanned): a cache key for `read_files`."""
    meta_path = ws.root / DIR / "meta.json"
    return meta_path.stat().st_mtime_ns if meta_path.exists() else None


def state_key(ws: Workspace) -> tuple:
    """Changes whenever `load` could return something else: a new scan, a decision, a "keep both" mark, an
    import (cheap: file times and two table maxima)."""
    distinct = ws.root / DIR / "distinct.json"
    row = ws.query("SELECT (SELECT COALESCE(MAX(event_id), 0) FROM decisions), (SELECT COUNT(*) FROM samples)")[0]
    return stamp(ws), distinct.stat().st_mtime_ns if distinct.exists() else None, int(row[0]), int(row[1])


def saved_floor(ws: Workspace) -> float | None:
    """The saved scan's floor threshold from its meta file alone (None: never scanned)."""
    meta_path = ws.root / DIR / "meta.json"
    return float(json.loads(meta_path.read_text(encoding="utf-8"))["floor"]) if meta_path.exists() else None


def read_files(ws: Workspace) -> ScanFiles | None:
    meta_path = ws.root / DIR / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    ids = [str(s) for s in load_array(_path(ws, "scan_ids.npy"))]
    # the scan covers the pool's first len(ids) samples (samples are append-only): check the ends, read lengths
    ends = ws.query("SELECT id FROM samples ORDER BY rowid LIMIT 1 OFFSET ?", (max(len(ids) - 1, 0),))
    if ids and (not ends or ends[0][0] != ids[-1] or ws.query("SELECT id FROM samples ORDER BY rowid LIMIT 1")[0][0]
                != ids[0]):
        raise CurationError("the saved duplicate scan does not match this workspace's samples: scan again")
    cur = ws.connect().cursor()
    cur.row_factory = None
    chars = np.array([r[0] for r in cur.execute("SELECT response_chars FROM samples ORDER BY rowid LIMIT ?",
                                                (len(ids),))], np.int64)
    return ScanFiles(meta=meta, ids=ids, index=pd.Index(ids), i=load_array(_path(ws, "scan_i.npy")),
                     j=load_array(_path(ws, "scan_j.npy")), sim=load_array(_path(ws, "scan_sim.npy")),
                     text_group=load_array(_path(ws, "scan_text_group.npy")), response_chars=chars,
                     X=_embeddings(ws, meta) if meta.get("near") else None)


def load(ws: Workspace, files: ScanFiles | None = None) -> SavedScan | None:
    """The saved scan as of now (None when the pool was never scanned); `files`: its `read_files`, if kept."""
    files = files if files is not None else read_files(ws)
    if files is None:
        return None
    meta, ids, i, j = files.meta, files.ids, files.i, files.j
    stale = samples.count(ws) != len(ids)
    status, pinned = _states(ws, files.index)
    keep = status != "rejected"
    distinct = _distinct_keys(ws, ids)
    sim = files.sim
    if not keep.all() or len(distinct):  # else the saved arrays as they are: no 0.8 GB copy at a million rows
        keep_pair = keep[i] & keep[j]
        if len(distinct):
            keep_pair &= ~np.isin(i * len(ids) + j, distinct)
        i, j, sim = i[keep_pair], j[keep_pair], sim[keep_pair]
    scan = dedup.Scan(n=len(ids), floor=float(meta["floor"]), i=i, j=j, sim=sim, text_group=files.text_group)
    protected = pinned | (status == "approved")
    pool = dedup.PoolScan(ids=ids, scan=scan, X=files.X, response_chars=files.response_chars, protected=protected)
    return SavedScan(pool=pool, field=meta["field"], floor=float(meta["floor"]), near=bool(meta["near"]),
                     created=float(meta["created"]), stale=stale or (bool(meta["near"]) and files.X is None),
                     n_distinct=len(distinct))


def grouped_ids(saved: SavedScan, threshold: float) -> list[str]:
    """Ids of the samples in a duplicate group (two or more, rejected samples left out) at `threshold`."""
    if threshold < saved.floor:
        raise CurationError(f"the scan kept pairs at cosine >= {saved.floor:.3f}; scan again for {threshold:.3f}")
    labels = saved.pool.scan.labels(threshold)
    in_group = np.bincount(labels)[labels] > 1
    return [saved.pool.ids[k] for k in np.flatnonzero(in_group)]


def curve(scan: dedup.Scan, step: float = 0.005) -> tuple[list[float], list[int], list[int]]:
    """Thresholds from the scan's floor to 1 (`step` apart), with the samples dropped and the groups at each."""
    thresholds = [float(t) for t in np.round(np.arange(scan.floor, 1.0 + 1e-9, step), 3)]
    counts = scan.preview(thresholds)
    return thresholds, [c.dropped for c in counts], [c.groups for c in counts]


def _states(ws: Workspace, index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(status, pinned) of the scanned rows: only decided samples are read (the rest are pending, unpinned)."""
    status = np.full(len(index), "pending", dtype=object)
    pinned = np.zeros(len(index), bool)
    rows = ws.query("SELECT sample_id, status, pinned FROM sample_state WHERE status != 'pending' OR pinned != 0")
    if rows:
        sample_ids, states, pins = zip(*rows)
        pos = index.get_indexer(list(sample_ids))
        found = pos >= 0  # decided samples imported after the scan are not in it
        status[pos[found]] = np.asarray(states, dtype=object)[found]
        pinned[pos[found]] = np.asarray(pins, bool)[found]
    return status, pinned


def _embeddings(ws: Workspace, meta: dict) -> np.ndarray | None:
    from curation.geometry.embed_cache import EmbeddingStore, StoreSpec

    if not meta.get("keys") or not meta.get("store") or not (ws.root / meta["store"] / "meta.json").exists():
        return None
    try:
        return EmbeddingStore(ws.root / meta["store"], StoreSpec(**meta["spec"])).get(
            load_array(_path(ws, "scan_keys.npy")))
    except CurationError:
        return None


# -- what a reviewer decides on the page -------------------------------------------------------------------
def _distinct_pairs(ws: Workspace) -> list[list[str]]:
    path = ws.root / DIR / "distinct.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def _distinct_keys(ws: Workspace, ids: Sequence[str]) -> np.ndarray:
    """Pair keys (i * n + j, i < j) of the "keep both" pairs among these rows."""
    row = {s: r for r, s in enumerate(ids)}
    keys = [min(row[a], row[b]) * len(ids) + max(row[a], row[b])
            for a, b in _distinct_pairs(ws) if a in row and b in row]
    return np.asarray(sorted(set(keys)), dtype=np.int64)


def keep_all(ws: Workspace, group_ids: Sequence[str]) -> int:
    """"Keep both": these samples are not duplicates of each other; their pairs leave every later preview."""
    pairs = {tuple(p) for p in _distinct_pairs(ws)}
    added = {tuple(sorted(p)) for p in combinations(dict.fromkeys(group_ids), 2)} - pairs
    if added:
        atomic_write_text(ws.path(DIR, "distinct.json"), json.dumps(sorted([list(p) for p in pairs | added])))
    return len(added)


def forget_keep_all(ws: Workspace) -> int:
    """Drop every "keep both" mark (their pairs count as duplicates again)."""
    n = len(_distinct_pairs(ws))
    atomic_write_text(ws.path(DIR, "distinct.json"), "[]")
    return n


def keep_one(ws: Workspace, group_ids: Sequence[str], keeper_id: str) -> list[str]:
    """"Keep this": reject the rest of the group, one decision batch, each reason naming the kept sample."""
    if keeper_id not in group_ids:
        raise CurationError(f"{keeper_id} is not in this group")
    others = [s for s in dict.fromkeys(group_ids) if s != keeper_id]
    if others:
        decisions.record(ws, others, "reject", origin=ORIGIN,
                         reason=f"duplicate of {keeper_id}, kept by a reviewer")
    return others


def undo_last(ws: Workspace) -> list[str]:
    """Undo the last duplicate decision (a whole "apply to all" at once)."""
    return decisions.undo_last(ws, origin=ORIGIN)
