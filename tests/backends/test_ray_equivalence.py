"""The Ray backend against the in-process path (itself tested against references) on real Dolly rows."""

from __future__ import annotations

import numpy as np
import pytest

from curation.backends import BackendConfig, resolve_backend
from curation.geometry.embed import EmbedConfig, Encoder, embed_pool, sample_text
from curation.model import ScoreConfig, load_model, save_checkpoint, score_samples
from curation.model.scoring import embed_records, score_records
from curation.workspace import samples

pytestmark = pytest.mark.slow
RAY2 = BackendConfig(kind="ray", actors=2, batch_rows=16)


@pytest.fixture(scope="module")
def pool(dolly_workspace):
    return dolly_workspace(60)


def test_embeddings_match_in_process(ray_cluster, pool):
    config = EmbedConfig()
    X = embed_pool(pool, config, encode=resolve_backend(RAY2).encode_fn(config))
    texts = [sample_text(r) for _, r in samples.iter_records(pool)]
    ref = Encoder(config).encode(texts)
    assert X.shape == ref.shape == (60, 384)
    assert np.min(np.sum(X * ref, axis=1)) >= 0.9999  # unit rows: the dot product is the cosine


def test_scores_match_in_process_in_fp32(ray_cluster, pool, tiny_models):
    lm = load_model(str(tiny_models["chat"]), device="cpu")
    config = ScoreConfig(max_length=256, autocast="off", pooling=("mean",))
    ids = samples.ids(pool)
    got = score_samples(pool, lm, ids, config=config, compute=resolve_backend(RAY2, ws_root=pool.root).score_fn())
    records = samples.get_many(pool, ids)
    ref = score_records(lm, [records[i] for i in ids], config=config, sample_ids=ids)
    assert got.status.tolist() == ref.status.tolist() and got.ok.sum() >= 30
    ok = ref.ok
    for name in ("nll", "nll_direct", "ifd"):
        assert np.max(np.abs(getattr(got, name)[ok] - getattr(ref, name)[ok])) <= 1e-4, name
    assert np.array_equal(got.n_tokens, ref.n_tokens)
    np.testing.assert_allclose(got.embeddings["mean"], ref.embeddings["mean"], atol=1e-4)
    n_rows = pool.query("SELECT COUNT(*) FROM sample_scores WHERE model_key = ?", (lm.model_key,))[0][0]
    assert n_rows == len(ids)  # the driver stored each sample once


def test_checkpoint_and_in_memory_weights_reach_the_workers(ray_cluster, pool, tiny_models):
    """A saved checkpoint loads from its folder; weights changed in memory travel through the object store."""
    import torch

    lm = load_model(str(tiny_models["chat"]), device="cpu")
    with torch.no_grad():
        for p in lm.model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    lm.model_key = "perturbed@step1"  # as a training round renames its weights
    records = [r for _, r in samples.iter_records(pool)][:24]
    backend = resolve_backend(BackendConfig(kind="ray", batch_rows=8), ws_root=pool.root)
    from curation.backends import model_ref

    assert model_ref.describe(lm, pool.root)["kind"] == "object"
    got = backend.embed_records(lm, records, pooling="mean", max_length=96)
    ref = embed_records(lm, records, pooling="mean", max_length=96)
    cos = np.sum(got * ref, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.9999

    save_checkpoint(pool, lm, "ray-test")
    assert model_ref.describe(lm, pool.root)["kind"] == "checkpoint"
    got = backend.embed_records(lm, records, pooling="last", max_length=96)
    ref = embed_records(lm, records, pooling="last", max_length=96)
    cos = np.sum(got * ref, 1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.9999
