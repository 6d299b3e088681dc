"""`Engine.train` returns its losses as numbers (`TrainedRound`), for the fake engine and the model engine."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from curation.errors import CurationError
from curation.methods import runner
from curation.methods.engines.base import TrainedRound, TrainSettings
from curation.methods.engines.fake_engine import FakeEngine
from curation.model.checkpoints import checkpoint_dir, checkpoints_root
from curation.workspace import runs, samples


def test_train_loss_is_the_mean_of_the_last_tenth():
    assert TrainedRound(losses=(3.0, 2.0, 1.0), epochs=1).train_loss == 1.0  # under ten steps: the last
    twenty = tuple(float(x) for x in range(20, 0, -1))  # 20 .. 1
    assert TrainedRound(losses=twenty, epochs=2).train_loss == 1.5  # mean of the last 2: (2 + 1) / 2
    assert math.isnan(TrainedRound(losses=(), epochs=0).train_loss)
    assert TrainedRound(losses=twenty, epochs=2).steps == 20


def test_fake_engine_returns_one_loss_per_epoch(dolly_workspace):
    ws = dolly_workspace(40)
    records = [r for _, r in samples.iter_records(ws)]
    engine = FakeEngine(records, root=ws.root)
    rows = np.arange(10)
    model = engine.base("target")
    before = float(engine.score(model, rows, direct=False).nll.mean())
    result = engine.train(model, rows, TrainSettings(epochs=3), seed=0)
    assert isinstance(result, TrainedRound) and result.epochs == 3 and result.steps == 3
    assert before > result.losses[0] > result.losses[1] > result.losses[2]  # training lowers the trained NLL
    assert result.train_loss == result.losses[-1]
    stopped = engine.train(engine.base("target"), rows, TrainSettings(epochs=3, stop_after_epochs=1), seed=0)
    assert stopped.epochs == 1 and stopped.losses == result.losses[:1]


def test_run_metrics_take_the_returned_loss(dolly_workspace):
    ws = dolly_workspace(80)
    seen: list[TrainedRound] = []

    class Recording(FakeEngine):
        def train(self, *args, **kwargs):
            seen.append(super().train(*args, **kwargs))
            return seen[-1]

    run_id = runner.start_run(ws, "diverse_evol", budget=30, config={"rounds": 2, "epochs": 2},
                              models={"engine": "fake"})
    runner.run_selection(ws, run_id, engine_factory=lambda w, records, models: Recording(records, models, root=w.root))
    losses = [it.metrics.get("train_loss") for it in runs.iterations(ws, run_id)]
    trained = [x for x in losses if x is not None and np.isfinite(x)]
    assert trained and trained == [r.losses[-1] for r in seen][: len(trained)]


def test_checkpoint_paths_have_one_home(tmp_path):
    assert checkpoint_dir(tmp_path, "run1-iter000") == tmp_path / "checkpoints" / "run1-iter000"
    assert checkpoints_root(tmp_path) == tmp_path / "checkpoints"
    for bad in ("../x", "", "a/b", ".hidden"):
        with pytest.raises(CurationError, match="invalid checkpoint name"):
            checkpoint_dir(tmp_path, bad)
    engine = FakeEngine([], root=tmp_path)
    engine.save(engine.base("target"), "r1")
    assert (tmp_path / "checkpoints" / "r1" / "fake_model.json").exists() and engine.has("r1")


def test_runner_and_fake_engine_import_without_torch():
    code = ("import sys, curation.methods.runner, curation.methods.engines.fake_engine, curation.model.checkpoints, "
            "curation.methods.engines.model_engine, curation.services.run_queue; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_model_engine_returns_the_step_losses(dolly_workspace, tiny_models):
    """The model engine's losses are curation.model.train's, and stop_after_epochs keeps the full schedule."""
    from curation.methods.engines.model_engine import ModelEngine
    from curation.model import TrainConfig, load_model, train

    ws = dolly_workspace(30)
    records = [r for _, r in samples.iter_records(ws)]
    engine = ModelEngine(ws, records, {"target": str(tiny_models["chat"]), "device": "cpu"})
    rows = np.arange(12)
    settings = TrainSettings(epochs=3, batch_size=4, max_length=96, stop_after_epochs=1)
    epochs_seen: list[int] = []
    result = engine.train(engine.base("target"), rows, settings, seed=5,
                          on_epoch_end=lambda epoch, lm: epochs_seen.append(epoch))
    assert epochs_seen == [1] and result.epochs == 1
    # reference: the library trainer run for all 3 epochs; its first epoch is the engine's one (same schedule)
    full = train(load_model(str(tiny_models["chat"]), device="cpu"), [records[i] for i in rows], seed=5,
                 config=TrainConfig(epochs=3, batch_size=4, grad_accum=1, max_length=96, warmup_ratio=0.03))
    per_epoch = full.steps // 3
    assert result.steps == per_epoch == math.ceil(12 / 4)  # every short Dolly row fits in 96 tokens
    np.testing.assert_allclose(result.losses, full.losses[:per_epoch], rtol=1e-5)
    assert result.train_loss == pytest.approx(result.losses[-1])
