"""`score --ray` and `select --resume RUN --ray` from the command line, on the session's local cluster."""

from __future__ import annotations

import numpy as np
import pytest

from curation.cli import main
from curation.model import ScoreConfig, load_model, score_samples
from curation.model.store import load_scores, setup_key
from curation.workspace import samples

pytestmark = pytest.mark.slow


def test_score_with_ray_stores_the_in_process_scores(ray_cluster, dolly_workspace, tiny_models, capsys):
    path = str(tiny_models["chat"])
    ws = dolly_workspace(40)
    assert main(["-w", str(ws.root), "score", "--model", path, "--device", "cpu", "--max-length", "128",
                 "--fp32", "--ray", "--ray-actors", "2"]) == 0
    assert "scored" in capsys.readouterr().out
    lm = load_model(path, device="cpu")
    config = ScoreConfig(max_length=128, autocast="off")
    ids = samples.ids(ws)
    stored = load_scores(ws, lm.model_key, ids, setup=setup_key(lm, config))
    ref = score_samples(dolly_workspace(40), lm, ids, config=config)  # a fresh workspace: in-process
    assert stored.status.tolist() == ref.status.tolist() and stored.ok.any()
    assert np.nanmax(np.abs(stored.ifd - ref.ifd)) <= 1e-4


def test_select_resume_takes_the_commands_backend(ray_cluster, dolly_workspace, capsys):
    from curation.methods import runner

    ws = dolly_workspace(30)
    run_id = runner.start_run(ws, "random", budget=5, models={"engine": "fake", "backend": "ray"})
    seen = []
    real = runner.make_engine

    def spy(w, records, models):
        seen.append(models)
        return real(w, records, models)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("curation.methods.engines.base.make_engine", spy)
        assert main(["-w", str(ws.root), "select", "--resume", str(run_id), "--ray", "off"]) == 0
    assert seen[0]["backend"] == "in_process" and seen[0]["engine"] == "fake"
