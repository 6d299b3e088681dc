"""The embeddings shipped with the bundled Dolly-15k: made by today's default embedder, equal to what
sentence-transformers computes for those texts, and added to the cache by the import (only when their spec is
the installed embedder's), so a first map costs no encoding."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from curation.formats import bundled_pools, importer
from curation.geometry import embed
from curation.geometry.embed_cache import EmbeddingStore, text_keys
from curation.workspace import samples

POOL = bundled_pools.POOLS["dolly-15k"]


@pytest.fixture(scope="module")
def shipped():
    found = bundled_pools.shipped_vectors(POOL)
    assert found is not None, "run scripts/build_bundled_vectors.py dolly-15k"
    return found


def test_shipped_vectors_belong_to_the_installed_default_embedder(shipped):
    """A new embedder package or max length makes them another model's: rebuild them (the script's docstring)."""
    spec, keys, vectors = shipped
    assert spec == embed.store_spec()
    assert len(keys) == len(np.unique(keys)) == POOL.rows and vectors.shape == (POOL.rows, spec.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


@pytest.mark.slow
def test_shipped_vectors_equal_sentence_transformers_fp32(shipped):
    """The reference: sentence-transformers itself, fp32, on bundled rows of every length (longest included)."""
    from sentence_transformers import SentenceTransformer

    _, keys, vectors = shipped
    texts = [r.text() for r in bundled_pools.records(POOL)]
    by_length = np.argsort([len(t) for t in texts])
    rows = sorted({*by_length[:4].tolist(), *by_length[-4:].tolist(), *range(0, POOL.rows, 997)})
    chosen = [texts[i] for i in rows]
    model = SentenceTransformer(embed.resolve_model(embed.DEFAULT_MODEL)[0], device="cpu")
    reference = model.encode(chosen, normalize_embeddings=True, batch_size=8).astype(np.float64)
    at = {int(k): i for i, k in enumerate(keys)}
    mine = vectors[[at[int(k)] for k in text_keys(chosen)]].astype(np.float64)
    cosines = np.einsum("nd,nd->n", mine, reference)
    assert cosines.min() > 0.9999, cosines.min()


def test_importing_the_pool_fills_the_cache_so_the_map_encodes_nothing(ws, shipped):
    spec, _, vectors = shipped
    report = importer.import_source(ws, "dolly-15k")
    assert report.vectors_seeded == POOL.rows
    assert "embeddings shipped with the pool added to the cache: 14989" in report.summary()

    def no_encoding(*_args, **_kw):
        raise AssertionError("the cache should hold every sample")

    X = embed.embed_pool(ws, encode=no_encoding)
    texts = [r.text() for _, r in samples.iter_records(ws)]
    expected = dict(zip(text_keys([r.text() for r in bundled_pools.records(POOL)]).tolist(), vectors))
    np.testing.assert_array_equal(X, np.stack([expected[k] for k in text_keys(texts).tolist()]))
    assert importer.import_source(ws, "dolly-15k").vectors_seeded == 0  # already there: no second shard
    assert len(list(EmbeddingStore.for_workspace(ws, spec).folder.glob("*.keys.npy"))) == 1


def test_another_embedders_spec_gets_nothing_seeded(ws, monkeypatch, shipped):
    spec, _, _ = shipped
    newer = dataclasses.replace(spec, revision=spec.revision + ".post1")
    monkeypatch.setattr(embed, "store_spec", lambda *a, **k: newer)
    assert importer.import_source(ws, "dolly-15k").vectors_seeded == 0
    assert not (ws.root / "embeddings").exists() or not list((ws.root / "embeddings").rglob("*.keys.npy"))


def test_a_plain_file_of_the_same_rows_is_not_seeded(ws):
    """Seeding belongs to the bundled pool's import: the user's own file embeds (and is timed) as usual."""
    from tests.shared_data import DOLLY

    assert importer.import_source(ws, str(DOLLY)).vectors_seeded == 0
