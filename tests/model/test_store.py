"""Scores cached in the workspace: keyed by weights and setup, computed once, read back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from curation.formats.importer import import_source
from curation.model import ScoreConfig, load_scores, score_records, score_samples, setup_key
from curation.model import store as store_module
from curation.workspace import samples
from tests.shared_data import DOLLY, write_jsonl_head


@pytest.fixture
def pool(ws, tmp_path):
    import_source(ws, write_jsonl_head(DOLLY, tmp_path / "dolly.jsonl", 30))
    return ws


def test_scores_are_cached_per_model_and_read_back_exactly(pool, tiny_chat, monkeypatch):
    ids = samples.ids(pool)
    config = ScoreConfig(max_length=96, pooling=("mean",), autocast="off")
    first = score_samples(pool, tiny_chat, ids[:20], config=config)
    records = samples.get_many(pool, ids[:20])
    direct = score_records(tiny_chat, [records[i] for i in ids[:20]], config=config)
    np.testing.assert_array_equal(first.status, direct.status)
    np.testing.assert_allclose(first.nll, direct.nll, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(first.ifd, direct.ifd, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(first.embeddings["mean"], direct.embeddings["mean"], atol=1e-6)
    assert (first.status == "truncated").any()  # Dolly has long contexts: they are stored as unscorable
    stored = pool.query("SELECT status, nll FROM sample_scores WHERE status != 'ok'")
    assert stored and all(r["nll"] is None for r in stored)

    calls = []
    real = store_module.score_records
    monkeypatch.setattr(store_module, "score_records", lambda lm, recs, **kw: calls.append(len(recs)) or
                        real(lm, recs, **kw))
    again = score_samples(pool, tiny_chat, ids[:20], config=config)
    assert calls == []  # nothing recomputed
    np.testing.assert_array_equal(again.nll, first.nll)
    np.testing.assert_array_equal(again.embeddings["mean"], first.embeddings["mean"])
    wider = score_samples(pool, tiny_chat, ids, config=config)  # only the 10 new samples run
    assert calls == [10]
    np.testing.assert_array_equal(wider.nll[:20], first.nll)
    score_samples(pool, tiny_chat, ids[:5], config=ScoreConfig(max_length=96, uncertainty=True, autocast="off"))
    scorable = int((first.status[:5] == "ok").sum())
    assert calls == [10, scorable]  # uncertainty was never stored for them (unscorable ones need nothing)
    tiny_chat.model_key = "other-weights"
    score_samples(pool, tiny_chat, ids[:3], config=config)
    assert calls == [10, scorable, 3]

    loaded = load_scores(pool, "other-weights", ids[:4], setup=setup_key(tiny_chat, config), poolings=("mean",))
    assert loaded.status.tolist()[3] == "missing" and np.isnan(loaded.embeddings["mean"][3]).all()
