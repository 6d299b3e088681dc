"""The methods with real (tiny, randomly initialised) causal LMs through the model engine, on real Dolly rows.

Fewer and slower than the contract test: they check that the real engine is wired right (training, scoring,
embedding, checkpoints) and DiverseEvol's defining behaviour, the selection's Vendi rising round over round.
"""

from __future__ import annotations

import numpy as np
import pytest

from curation.methods import runner
from curation.workspace import runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ws(dolly_workspace):
    return dolly_workspace(240)


def _models(tiny_models):
    path = str(tiny_models["chat"])
    return {"target": path, "selector": path, "scorer": path, "device": "cpu"}


def test_diverse_evol_end_to_end_vendi_rises(ws, tiny_models):
    run_id = runner.start_run(ws, "diverse_evol", budget=48, models=_models(tiny_models),
                              config={"rounds": 3, "epochs": 1, "max_length": 128})
    runner.run_selection(ws, run_id)
    its = runs.iterations(ws, run_id)
    assert [len(it.selected) for it in its] == [12, 24, 36, 48]
    for before, after in zip(its, its[1:]):
        assert after.selected[: len(before.selected)] == before.selected  # the pool only grows
    vendi = [it.metrics["vendi"] for it in its]
    assert all(b > a for a, b in zip(vendi, vendi[1:])), vendi
    assert all(np.isfinite(it.metrics["train_loss"]) for it in its[:-1])
    frame = runs.scores(ws, its[-1])
    added = frame[frame["added_in_round"] == 3]
    assert len(added) == 12 and added["distance_to_selected"].notna().all()
    assert (ws.root / "checkpoints" / its[-2].checkpoint / "checkpoint.json").exists()


def test_iterit_and_learning_pct_with_a_real_model(ws, tiny_models):
    models = _models(tiny_models)
    it_run = runner.start_run(ws, "iterit", budget=20, models=models, config={"epochs": 2, "max_length": 128})
    runner.run_selection(ws, it_run)
    last = runs.iteration(ws, it_run)
    frame = runs.scores(ws, last)
    assert len(last.selected) == 20 and last.metrics["window"] == 60
    ok = frame["status"] == "ok"
    assert frame.loc[ok, "complexity"].notna().all() and frame.loc[~ok, "complexity"].isna().all()
    picked = frame[frame["selected"]]
    assert (picked.loc[picked["status"] == "ok", "complexity"] < 1).all()  # IFD >= 1 is never a candidate

    lp_run = runner.start_run(ws, "learning_pct", budget=20, models=models,
                              config={"score": "lp1_app", "max_length": 128})
    runner.run_selection(ws, lp_run)
    frame = runs.scores(ws, runs.iteration(ws, lp_run))
    scored = frame["ppl_0"].notna()
    assert scored.sum() > 100 and (frame.loc[scored, "ppl_1"] < frame.loc[scored, "ppl_0"]).mean() > 0.9
