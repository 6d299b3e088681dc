"""The Explore map's jobs: embed, a PCA first look, then UMAP; the first look is shown until UMAP is done."""

from __future__ import annotations

import numpy as np

from curation.geometry import maps
from curation.services import jobs, map_queue, map_selection


def test_queue_map_submits_embed_then_pca_then_umap_once(ws):
    first = map_queue.queue_map(ws, preview=True)
    again = map_queue.queue_map(ws, preview=True)  # a double click
    assert first == again
    queued = sorted(jobs.list_jobs(ws, active_only=True), key=lambda j: j.job_id)
    assert [(j.kind, j.params) for j in queued] == [
        ("embed", {"config": {}, "field": "text"}),
        ("umap", {"field": "text", "map": {"method": "pca"}}),
        ("umap", {"field": "text", "map": {"preview": True}})]


def _map(ws, rng, ids, config):
    X = rng.standard_normal((len(ids), 8)).astype(np.float32)
    return maps.build(ws, X, ids=ids, text_keys=np.arange(len(ids), dtype=np.uint64), source="test/text",
                      config=config)


def test_umap_replaces_the_pca_first_look_whatever_the_order(ws):
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(40)]
    pca = _map(ws, rng, ids, maps.MapConfig(method="pca"))
    assert maps.current(ws, ids).key == pca.key
    assert "PCA first look" in map_selection.map_caption(40, pca.meta, preview=False)
    umap_preview = _map(ws, rng, ids, maps.MapConfig(preview=True, n_epochs=5))
    assert maps.current(ws, ids).key == umap_preview.key
    newer_pca = _map(ws, rng, ids, maps.MapConfig(method="pca", seed=1))  # a later first look never wins
    assert maps.current(ws, ids).key == umap_preview.key
    full = _map(ws, rng, ids, maps.MapConfig(n_epochs=6))
    assert maps.current(ws, ids).key == full.key
    assert newer_pca.key != pca.key
