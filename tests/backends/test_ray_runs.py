"""The Ray backend under failure and across backends: a killed actor, a run resumed on Ray."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from curation.backends import BackendConfig, ray_data, resolve_backend
from curation.errors import Cancelled, CurationError
from curation.geometry.embed import EmbedConfig, Encoder, embed_pool, sample_text, store_spec
from curation.geometry.embed_cache import EmbeddingStore, text_keys
from curation.methods import runner
from curation.methods.engines.base import make_engine
from curation.workspace import runs, samples
from curation.workspace.arrays import load_array

pytestmark = pytest.mark.slow


class CrashOnce(ray_data.EmbedActor):
    """Kills its own worker process on its first batch that does not hold row 0 (once: a marker file)."""

    marker = ""

    def __call__(self, batch):
        if not os.path.exists(self.marker) and int(np.min(batch["idx"])) > 0:
            open(self.marker, "w").close()
            os._exit(1)
        return super().__call__(batch)


def test_a_killed_actor_is_retried_and_each_sample_stored_once(ray_cluster, dolly_workspace, tmp_path, monkeypatch):
    ws = dolly_workspace(160)
    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers get CrashOnce by value
    CrashOnce.marker = str(tmp_path / "crashed")
    monkeypatch.setattr(ray_data, "EmbedActor", CrashOnce)
    config = EmbedConfig()
    backend = resolve_backend(BackendConfig(kind="ray", actors=1, batch_rows=32))
    X = embed_pool(ws, config, encode=backend.encode_fn(config))
    assert os.path.exists(CrashOnce.marker)  # the worker did die mid-pass

    texts = [sample_text(r) for _, r in samples.iter_records(ws)]
    store = EmbeddingStore.for_workspace(ws, store_spec(config))
    stored = np.concatenate([load_array(p) for p in store.folder.glob("*.keys.npy")])
    assert len(stored) == len(np.unique(stored)) == len(np.unique(text_keys(texts)))  # every text once
    ref = Encoder(config).encode(texts)
    assert np.min(np.sum(X * ref, axis=1)) >= 0.9999


def _diverse_evol(ws, models):
    return runner.start_run(ws, "diverse_evol", budget=24, models=models, seed=3,
                            config={"rounds": 1, "epochs": 1, "max_length": 96})


def test_a_run_started_in_process_resumes_on_ray_to_the_same_picks(ray_cluster, dolly_workspace, tiny_models):
    models = {"target": str(tiny_models["chat"]), "device": "cpu"}
    whole = dolly_workspace(100)
    ref_run = _diverse_evol(whole, models)
    runner.run_selection(whole, ref_run)
    reference = [it.selected for it in runs.iterations(whole, ref_run)]
    assert len(reference) == 2  # the first pick, then one round fine-tuned and re-embedded

    ws = dolly_workspace(100)
    run_id = _diverse_evol(ws, models)
    done = []
    with pytest.raises(Cancelled):
        runner.run_selection(ws, run_id, progress=lambda d, t, m: done.append(m),
                             should_stop=lambda: any(m.startswith("iteration 1/") for m in done))
    assert len(runs.iterations(ws, run_id)) == 1

    on_ray = BackendConfig(kind="ray", actors=2, batch_rows=25).to_models()
    engines = []

    def factory(w, records, stored):
        engines.append(make_engine(w, records, {**stored, **on_ray}))
        return engines[-1]

    runner.run_selection(ws, run_id, engine_factory=factory)
    assert engines[0].backend.kind == "ray"
    assert [it.selected for it in runs.iterations(ws, run_id)] == reference


def test_a_workers_error_is_one_clear_line(ray_cluster, tmp_path):
    backend = resolve_backend(BackendConfig(kind="ray"))
    with pytest.raises(CurationError, match="the Ray embedding pass failed: .*cannot load embedding model"):
        backend.encode(EmbedConfig(model=str(tmp_path / "no-such-model")), ["a text"])
