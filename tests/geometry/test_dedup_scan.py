"""The saved duplicate scan: a round trip equal to the scan, and what happens since (rejections, keep-all, keep
this, apply, undo, a grown pool) applied on load exactly as a fresh scan would see it."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from curation.errors import CurationError
from curation.formats import importer
from curation.geometry import dedup
from curation.geometry import dedup_scan as dup_store
from curation.geometry.embed import sample_text
from curation.geometry.embed_cache import EmbeddingStore, StoreSpec, text_keys
from curation.services import jobs
from curation.workspace import decisions, samples

SPEC = StoreSpec(model="test/synthetic", revision="1", max_length=64, dim=16)
PROMPTS = ["capital of France?", "capital of France?", "boil an egg", "boil eggs", "how to boil an egg",
           "write a poem", "sort a list", "sum two numbers", "plant a tree", "tie a knot"]


def vectors(n: int) -> np.ndarray:
    """Unit vectors, orthogonal except: rows 0 and 1 (the same prompt) are equal, and rows 2, 3, 4 form a chain
    (2~3 at cosine 0.98, 3~4 at 0.96, 2~4 at 0.94)."""
    X = np.eye(n, SPEC.dim)
    X[1] = X[0]
    X[3] = 0.98 * X[2] + np.sqrt(1 - 0.98**2) * np.eye(SPEC.dim)[14]
    X[4] = 0.96 * X[3] + np.sqrt(1 - 0.96**2) * np.eye(SPEC.dim)[15]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32)


@pytest.fixture
def scanned(ws, tmp_path):
    path = tmp_path / "dups.jsonl"
    path.write_text("".join(json.dumps({"instruction": p, "input": "", "output": f"answer {i} " * (i + 1)}) + "\n"
                            for i, p in enumerate(PROMPTS)), encoding="utf-8")
    importer.import_source(ws, str(path))
    texts = [sample_text(r, "prompt") for _, r in samples.iter_records(ws)]
    keys = text_keys(texts)
    X = vectors(len(texts))
    store = EmbeddingStore.for_workspace(ws, SPEC)
    store.add(keys, X)
    pool = dedup.scan_pool(ws, near=False)  # rows, lengths, protection (no model)
    pool = dedup.PoolScan(ids=pool.ids, scan=dedup.scan(X, texts, floor=0.9), X=X,
                          response_chars=pool.response_chars, protected=pool.protected)
    dup_store.save(ws, pool, field="prompt", near=True, text_keys=keys,
                   store={"store": f"embeddings/{SPEC.folder_name}", "spec": asdict(SPEC)})
    return pool, texts, X


def test_round_trip_equals_the_scan(ws, scanned):
    pool, _, X = scanned
    saved = dup_store.load(ws)
    assert not saved.stale and saved.field == "prompt" and saved.floor == 0.9 and saved.near
    for name in ("i", "j", "sim", "text_group"):
        np.testing.assert_array_equal(getattr(saved.pool.scan, name), getattr(pool.scan, name))
    assert saved.pool.ids == pool.ids
    np.testing.assert_array_equal(saved.pool.X, X)  # read back from the embedding cache
    thresholds = [0.9, 0.95, 0.97, 0.99, 1.0]
    assert saved.pool.scan.preview(thresholds) == pool.scan.preview(thresholds)
    groups = [g.tolist() for g in saved.pool.scan.groups(0.95)]
    assert groups == [[0, 1], [2, 3, 4]]  # the exact pair and the chain


def test_rejections_since_the_scan_leave_every_pair(ws, scanned):
    pool, texts, X = scanned
    decisions.record(ws, [pool.ids[3]], "reject")
    saved = dup_store.load(ws)
    active = np.ones(len(texts), bool)
    active[3] = False
    fresh = dedup.scan(X, texts, floor=0.9, active=active)  # what a new scan would find
    np.testing.assert_array_equal(saved.pool.scan.i, fresh.i)
    np.testing.assert_array_equal(saved.pool.scan.j, fresh.j)
    assert [g.tolist() for g in saved.pool.scan.groups(0.95)] == [[0, 1]]  # the chain broke at 3


def test_keep_all_dissolves_a_group_until_forgotten(ws, scanned):
    pool, _, _ = scanned
    chain = pool.ids[2:5]
    assert dup_store.keep_all(ws, chain) == 3
    assert dup_store.keep_all(ws, chain) == 0  # already marked
    saved = dup_store.load(ws)
    assert saved.n_distinct == 3 and [g.tolist() for g in saved.pool.scan.groups(0.9)] == [[0, 1]]
    assert dup_store.forget_keep_all(ws) == 3
    assert [g.tolist() for g in dup_store.load(ws).pool.scan.groups(0.95)] == [[0, 1], [2, 3, 4]]


def test_keep_one_rejects_the_rest_with_a_reason_and_undoes(ws, scanned):
    pool, _, _ = scanned
    chain = pool.ids[2:5]
    assert dup_store.keep_one(ws, chain, chain[1]) == [chain[0], chain[2]]
    for sid in (chain[0], chain[2]):
        state = decisions.state(ws, sid)
        assert (state.status, state.origin) == ("rejected", "dedup") and chain[1] in state.reason
    assert decisions.state(ws, chain[1]).status == "pending"
    assert sorted(dup_store.undo_last(ws)) == sorted([chain[0], chain[2]])
    assert decisions.counts(ws)["rejected"] == 0


def test_apply_on_the_saved_scan_equals_apply_on_the_fresh_one(ws, scanned):
    pool, _, _ = scanned
    expected = dedup.apply(ws, pool, 0.95, dry_run=True)
    assert pool.ids[0] in expected.dropped_ids  # row 1 has the longer response: the keeper
    decisions.record(ws, [pool.ids[0]], "approve")  # approved since: now protected, so it is the keeper
    saved = dup_store.load(ws)
    outcome = dedup.apply(ws, saved.pool, 0.95)
    assert set(outcome.dropped_ids) == (set(expected.dropped_ids) - {pool.ids[0]}) | {pool.ids[1]}
    assert len(outcome.dropped_ids) == 3  # one of the pair, two of the chain
    assert all(decisions.state(ws, s).origin == "dedup" for s in outcome.dropped_ids)


def test_a_grown_pool_makes_the_scan_stale(ws, scanned, tmp_path):
    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"instruction": "new one", "input": "", "output": "x"}) + "\n", encoding="utf-8")
    importer.import_source(ws, str(extra))
    saved = dup_store.load(ws)
    assert saved.stale and saved.pool.scan.n == len(PROMPTS)


def test_the_scan_job_finds_exact_duplicates_without_a_model(ws, scanned):
    job_id = jobs.submit(ws, "dedup_scan", {"field": "prompt", "floor": 0.9, "near": False})
    jobs.run_pending(ws)
    job = jobs.get(ws, job_id)
    assert job.status == "done", job.error
    assert job.result == {"rows": len(PROMPTS), "pairs": 1, "floor": 0.9}  # only "capital of France?" twice
    saved = dup_store.load(ws)
    assert not saved.near and saved.pool.X is None
    assert [g.tolist() for g in saved.pool.scan.groups(1.0)] == [[0, 1]]


def test_grouped_ids_for_the_data_filter(ws, scanned):
    pool, _, _ = scanned
    saved = dup_store.load(ws)
    # by hand from the vectors: at 0.97 only the equal pair and 2~3 (0.98); at 0.95 the whole chain 2-3-4
    assert dup_store.grouped_ids(saved, 0.97) == [pool.ids[k] for k in (0, 1, 2, 3)]
    assert dup_store.grouped_ids(saved, 0.95) == [pool.ids[k] for k in (0, 1, 2, 3, 4)]
    assert dup_store.grouped_ids(saved, 1.0) == [pool.ids[0], pool.ids[1]]
    decisions.record(ws, [pool.ids[1]], "reject")  # a rejected sample leaves its group
    assert dup_store.grouped_ids(dup_store.load(ws), 0.97) == [pool.ids[k] for k in (2, 3)]
    with pytest.raises(CurationError, match="scan again"):
        dup_store.grouped_ids(saved, 0.5)
