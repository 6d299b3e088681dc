"""The Duplicates page's cache key and threshold curve (curation.geometry.dedup_scan.state_key / curve), on ten
prompts with hand-made embeddings: rows 0 and 1 equal, rows 2-3-4 a chain at cosine 0.98 (2~3), 0.96 (3~4) and
0.94 (2~4); every other pair orthogonal."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from curation.formats import importer
from curation.geometry import dedup
from curation.geometry import dedup_scan as dup_store
from curation.geometry.embed import sample_text
from curation.workspace import decisions, samples

PROMPTS = ["capital of France?", "capital of France?", "boil an egg", "boil eggs", "how to boil an egg",
           "write a poem", "sort a list", "sum two numbers", "plant a tree", "tie a knot"]


def vectors(n: int, dim: int = 16) -> np.ndarray:
    X = np.eye(n, dim)
    X[1] = X[0]
    X[3] = 0.98 * X[2] + np.sqrt(1 - 0.98**2) * np.eye(dim)[14]
    X[4] = 0.96 * X[3] + np.sqrt(1 - 0.96**2) * np.eye(dim)[15]
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def save(ws, *, floor: float = 0.9, field: str = "prompt", near: bool = True) -> dup_store.SavedScan:
    """Scan the pool's prompts with the hand-made vectors and save it as the scan job would (no embeddings
    stored: the key and the curve need none)."""
    texts = [sample_text(r, "prompt") for _, r in samples.iter_records(ws)]
    base = dedup.scan_pool(ws, near=False)
    pool = dedup.PoolScan(ids=base.ids, scan=dedup.scan(vectors(len(texts)), texts, floor=floor), X=None,
                          response_chars=base.response_chars, protected=base.protected)
    dup_store.save(ws, pool, field=field, near=near)
    saved = dup_store.load(ws)
    assert saved is not None
    return saved


@pytest.fixture
def pool(ws, tmp_path):
    path = tmp_path / "dups.jsonl"
    path.write_text("".join(json.dumps({"instruction": p, "input": "", "output": f"answer {i}"}) + "\n"
                            for i, p in enumerate(PROMPTS)), encoding="utf-8")
    importer.import_source(ws, str(path))
    return ws


def test_the_curve_counts_groups_and_drops_by_hand(pool):
    thresholds, dropped, groups = dup_store.curve(save(pool).pool.scan)
    assert len(thresholds) == 21 and thresholds[0] == 0.9 and thresholds[-1] == 1.0
    assert np.allclose(np.diff(thresholds), 0.005)
    at = {t: (d, g) for t, d, g in zip(thresholds, dropped, groups)}
    # 0.90-0.95: {0,1} and the chain {2,3,4}; 0.97: {0,1}, {2,3}; 0.99: {0,1} only
    assert at[0.9] == at[0.95] == (3, 2)
    assert at[0.97] == (2, 2)
    assert at[0.99] == (1, 1)
    assert dup_store.curve(save(pool, floor=0.95).pool.scan)[0][0] == 0.95  # starts at the floor


def test_the_state_key_changes_with_everything_a_load_reads(pool, tmp_path):
    """The page keeps its preview per key: each change that can alter `load`'s result must change it."""
    save(pool)
    seen = [dup_store.state_key(pool)]
    assert dup_store.state_key(pool) == seen[0]  # nothing happened: the same key, the cached preview stands
    ids = samples.ids(pool)

    def changed() -> None:
        key = dup_store.state_key(pool)
        assert key not in seen
        seen.append(key)

    time.sleep(0.01)
    save(pool)  # scanned again
    changed()
    decisions.record(pool, [ids[3]], "reject")  # leaves both pairs of row 3
    changed()
    decisions.undo_last(pool)
    changed()
    decisions.record(pool, [ids[2]], "pin")  # protects row 2
    changed()
    time.sleep(0.01)
    dup_store.keep_all(pool, ids[2:5])
    changed()
    time.sleep(0.01)
    dup_store.forget_keep_all(pool)
    changed()
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"instruction": "one more", "input": "", "output": "x"}) + "\n", encoding="utf-8")
    importer.import_source(pool, str(more))
    changed()
    assert dup_store.load(pool).stale
