"""Evaluating a selection end to end on a tiny model and 60 Dolly rows: stored results, a paired difference that
matches the stored per-sample losses, IterIT's in-run model, token matching, cancellation, and a worker killed
with SIGKILL mid-run whose job then finishes without training a finished model again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from curation.errors import Cancelled, CurationError
from curation.evaluation import EvaluateConfig, carve, create_evaluation, report, results, run_evaluation
from curation.methods import runner
from curation.services import jobs
from curation.workspace import runs
from curation.workspace.arrays import load_array
from tests.shared_data import ROOT

FAST = {"max_length": 128, "epochs": 1, "decontaminate": False, "bootstrap_resamples": 200}


def _run(ws, tiny_models, method_budget: int = 10) -> int:
    carve(ws, rows=12, seed=0)
    run_id = runner.start_run(ws, "random", budget=method_budget,
                              models={"engine": "fake", "target": str(tiny_models["chat"])})
    runner.run_selection(ws, run_id)
    return run_id


def _losses(ws, evaluation_id: int, role: str, subset: int, seed: int) -> np.ndarray:
    valid = results.valid_rows(ws, evaluation_id)
    return np.asarray(load_array(ws.root / f"evaluations/{evaluation_id}/{role}-{subset}-{seed}.npy"), float)[valid]


def test_an_evaluate_job_stores_every_model_and_the_paired_difference(dolly_workspace, tiny_models):
    ws = dolly_workspace(60)
    run_id = _run(ws, tiny_models)
    evaluation_id = create_evaluation(ws, run_id, config=EvaluateConfig(random_subsets=2, train_seeds=2, **FAST))
    job_id = jobs.submit(ws, "evaluate", {"evaluation_id": evaluation_id})
    assert jobs.run_pending(ws) == 1
    job = jobs.get(ws, job_id)
    assert job.status == "done", job.error
    assert job.result["models"] == 1 + 2 + 2 * 2 and job.done == job.total
    rep = report(ws, evaluation_id)
    assert rep.complete and rep.evaluation.status == "done"
    by_role = {}
    for m in rep.models:
        by_role.setdefault(m.key.role, []).append(m)
    selected = runs.iteration(ws, run_id).selected
    assert all(m.n_train + m.skipped == len(selected) for m in by_role["selection"])  # skips counted, not hidden
    assert {m.n_train for m in by_role["selection"] + by_role["random"]} == {by_role["selection"][0].n_train}
    assert all(m.skipped == 0 for m in by_role["random"])  # drawn from trainable rows only: equal budgets
    assert by_role["base"][0].n_train == 0
    held = rep.evaluation.heldout
    assert held["rows"] == 12 and held["valid_rows"] + held["unscorable"] == 12
    # the stored difference is the mean of (selection - random) over the stored per-sample losses, paired by seed
    diffs = [_losses(ws, evaluation_id, "selection", 0, s) - _losses(ws, evaluation_id, "random", r, s)
             for r in range(2) for s in range(2)]
    iv = rep.differences["selection"]
    assert iv.mean == pytest.approx(float(np.mean(diffs)), abs=1e-9)
    assert iv.low <= iv.mean <= iv.high and (iv.pairs, iv.samples) == (4, held["valid_rows"])
    for m in rep.models:  # each row's loss is the mean of its own file over the compared rows
        assert m.heldout_loss == pytest.approx(float(_losses(ws, evaluation_id, m.key.role, m.key.subset_index,
                                                             m.key.seed).mean()), rel=1e-6)


def test_cancelled_between_models_keeps_what_finished(dolly_workspace, tiny_models, capsys):
    ws = dolly_workspace(60)
    run_id = _run(ws, tiny_models)
    evaluation_id = create_evaluation(ws, run_id, config=EvaluateConfig(random_subsets=1, train_seeds=1, **FAST))
    stored = lambda: len(results.models(ws, evaluation_id))  # noqa: E731
    with pytest.raises(Cancelled):
        run_evaluation(ws, evaluation_id, should_stop=lambda: stored() >= 1)
    assert stored() == 1 and results.get(ws, evaluation_id).status == "cancelled"
    assert report(ws, evaluation_id).differences == {}
    from curation.cli import main

    assert main(["-w", str(ws.root), "evaluate", "--resume", str(evaluation_id)]) == 0  # the CLI finishes it
    assert stored() == 3
    out = capsys.readouterr().out
    assert "selection seed 0" in out and "random 0 seed 0" in out and "selection - random: " in out
    assert main(["-w", str(ws.root), "heldout", "--rows", "3"]) == 2  # a split exists already: one-line error


def test_iterit_in_run_model_and_token_matched_subsets(dolly_workspace, tiny_models, monkeypatch):
    from curation.model import ScoreConfig, TrainConfig, load_model, save_checkpoint, score_records, train
    from curation.workspace import samples

    ws = dolly_workspace(60)
    carve(ws, rows=12, seed=0)
    pool = [sid for sid in samples.ids(ws) if sid not in set(results_heldout(ws))]
    selected = pool[:12]
    run_id = runs.create(ws, name="iterit", method="iterit", config={"max_length": 128, "epochs": 1},
                         budget={"kind": "samples", "value": 12}, seed=0, models={"target": str(tiny_models["chat"])})
    lm = load_model(str(tiny_models["chat"]), device="cpu")
    records = list(samples.get_many(ws, selected).values())
    train(lm, records, config=TrainConfig(max_length=128, max_steps=2), seed=0)
    name = runner.checkpoint_name(run_id, 0)
    save_checkpoint(ws, lm, name)
    runs.add_iteration(ws, run_id, 0, selected, checkpoint=name)
    flagged = []

    def fake_find(ws_, eval_records, *, cosine, sample_ids):  # the decontamination hook's contract
        flagged.append((len(eval_records), cosine, len(sample_ids)))
        from types import SimpleNamespace

        return [SimpleNamespace(eval_index=0), SimpleNamespace(eval_index=0)]

    monkeypatch.setattr("curation.evaluation.decontamination.find_contamination", fake_find)
    config = EvaluateConfig(random_subsets=2, train_seeds=1, token_matched=True, include_base=False,
                            **{**FAST, "decontaminate": True})
    evaluation_id = create_evaluation(ws, run_id, config=config)
    rep = run_evaluation(ws, evaluation_id)
    roles = sorted(m.key.role for m in rep.models)
    assert roles == ["in_run", "random", "random", "selection"]
    assert set(rep.differences) == {"selection", "in_run"} and rep.differences["in_run"].pairs == 2
    held = rep.evaluation.heldout
    assert held["contaminated"] == 1 and flagged[0][:2] == (12, 0.9)
    found = samples.get_many(ws, results_heldout(ws))
    held_records = [found[s] for s in results_heldout(ws)]
    scored = score_records(lm, held_records, config=ScoreConfig(max_length=128, ifd=False))
    expected = scored.ok & (np.arange(12) != 0)  # scorable, less the row the hook flagged
    valid = results.valid_rows(ws, evaluation_id)
    assert valid.tolist() == expected.tolist() and held["valid_rows"] == int(expected.sum())
    assert held["unscorable"] == int((~scored.ok).sum())
    # the in-run row is the checkpoint itself, scored on the held-out set
    in_run = next(m for m in rep.models if m.key.role == "in_run")
    direct = scored.nll[valid]
    assert in_run.heldout_loss == pytest.approx(float(np.mean(direct)), rel=1e-4)
    selection = next(m for m in rep.models if m.key.role == "selection")
    for m in rep.models:
        if m.key.role == "random":  # token matched: within one row of the selection's trained tokens
            assert abs(m.n_tokens - selection.n_tokens) <= 128
    # the in-run model alone stands for the method: nothing is fine-tuned, the random models are reused
    again = run_evaluation(ws, create_evaluation(ws, run_id, config=replace(config, retrain_selection=False)))
    assert sorted((m.key.role, m.reused_from) for m in again.models) == [
        ("in_run", None), ("random", evaluation_id), ("random", evaluation_id)]
    assert set(again.differences) == {"in_run"}
    assert again.differences["in_run"].mean == pytest.approx(rep.differences["in_run"].mean, abs=1e-5)
    plain = runner.start_run(ws, "random", budget=5, models={"engine": "fake", "target": str(tiny_models["chat"])})
    runner.run_selection(ws, plain)
    with pytest.raises(CurationError, match="no in-run model"):
        create_evaluation(ws, plain, config=replace(config, retrain_selection=False))


def results_heldout(ws):
    from curation.evaluation import heldout_ids

    return heldout_ids(ws)


def test_a_worker_killed_mid_evaluation_resumes_without_redoing_finished_models(dolly_workspace, tiny_models,
                                                                              monkeypatch):
    ws = dolly_workspace(60)
    run_id = _run(ws, tiny_models)
    config = EvaluateConfig(random_subsets=3, train_seeds=2, **{**FAST, "epochs": 3})
    evaluation_id = create_evaluation(ws, run_id, config=config)
    job_id = jobs.submit(ws, "evaluate", {"evaluation_id": evaluation_id})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "curation", "-w", str(ws.root), "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while len(results.models(ws, evaluation_id)) < 2 and time.time() < deadline and worker.poll() is None:
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
    before = {m.key: m.created for m in results.models(ws, evaluation_id)}
    planned = 1 + 2 + 3 * 2
    assert 2 <= len(before) < planned, "the worker must die mid-evaluation"
    assert jobs.get(ws, job_id).status == "running"  # as a dead worker leaves it
    monkeypatch.setattr(jobs, "STALE_S", 0.0)
    assert jobs.requeue_stale(ws) == 1
    assert jobs.run_pending(ws) == 1
    assert jobs.get(ws, job_id).status == "done"
    after = {m.key: m.created for m in results.models(ws, evaluation_id)}
    assert len(after) == planned
    assert all(after[k] == t for k, t in before.items())  # finished models were not trained again
    assert min(t for k, t in after.items() if k not in before) > max(before.values())
    assert "selection" in report(ws, evaluation_id).differences


def test_the_page_view_shows_the_stored_models_and_intervals(dolly_workspace, tiny_models):
    from curation.services import evaluation_view

    ws = dolly_workspace(60)
    run_id = _run(ws, tiny_models)
    evaluation_id = create_evaluation(ws, run_id, config=EvaluateConfig(random_subsets=2, train_seeds=1, **FAST))
    rep = run_evaluation(ws, evaluation_id)
    table = evaluation_view.model_table(ws, evaluation_id)
    assert table["held-out loss"].tolist() == [m.heldout_loss for m in rep.models]
    vendi = runs.iteration(ws, run_id).metrics["vendi"]
    assert table.loc[table["role"] == "selection", "vendi"].tolist() == [vendi]
    diffs = evaluation_view.difference_table(ws, evaluation_id)
    assert diffs["difference vs random"].tolist() == [rep.differences["selection"].mean]
    fig = evaluation_view.loss_figure(ws, evaluation_id)
    points = {t.name: list(t.y) for t in fig.data}
    assert points["random"] == [m.heldout_loss for m in rep.models if m.key.role == "random"]
    randoms = np.mean(points["random"])
    iv = rep.differences["selection"]
    marker = next(t for t in fig.data if t.name == "selection vs random")
    assert marker.y[0] == pytest.approx(randoms + iv.mean)
    assert marker.error_y.array[0] == pytest.approx(iv.high - iv.mean)
    assert [e.evaluation_id for e in evaluation_view.evaluations_of(ws, run_id)] == [evaluation_id]


def test_held_out_rows_copied_from_the_training_rows_are_left_out(dolly_workspace, tiny_models, tmp_path):
    """The real decontamination hook: a held-out file with near-copies of selected (hence trained) rows, beside
    rows from elsewhere in Dolly; the copies, and only they, are excluded from every model's held-out loss."""
    import json

    from curation.workspace import samples
    from tests.shared_data import dolly_records

    ws = dolly_workspace(60)
    run_id = runner.start_run(ws, "random", budget=10, models={"engine": "fake", "target": str(tiny_models["chat"])})
    runner.run_selection(ws, run_id)
    short = lambda r: len(r.prompt) + len(r.response) < 300  # noqa: E731  (scorable at max length 128)
    selected = [r for r in samples.get_many(ws, runs.iteration(ws, run_id).selected).values() if short(r)][:3]
    assert len(selected) == 3
    copies = [{"instruction": r.prompt, "output": r.response} for r in selected]
    copies[0]["instruction"] = copies[0]["instruction"].upper()  # case changed
    copies[1]["output"] = "  " + copies[1]["output"].replace(" ", "  ")  # whitespace widened
    others = [r for r in dolly_records(200, skip=5000) if short(r)][:4]
    elsewhere = [{"instruction": r.prompt, "output": r.response} for r in others]
    rows = [elsewhere[0], copies[0], elsewhere[1], copies[1], elsewhere[2], copies[2], elsewhere[3]]
    path = tmp_path / "heldout.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = EvaluateConfig(random_subsets=1, train_seeds=1, include_base=False, heldout=str(path),
                            **{**FAST, "decontaminate": True})
    evaluation_id = create_evaluation(ws, run_id, config=config)
    rep = run_evaluation(ws, evaluation_id)
    valid = results.valid_rows(ws, evaluation_id)
    assert rep.evaluation.heldout["contaminated"] == 3 and rep.evaluation.heldout["unscorable"] == 0
    assert [i for i in range(len(rows)) if not valid[i]] == [1, 3, 5]  # the copies; every other row is compared


def test_a_second_run_at_the_same_budget_reuses_the_random_models(dolly_workspace, tiny_models, monkeypatch):
    ws = dolly_workspace(60)
    first = _run(ws, tiny_models)
    second = runner.start_run(ws, "longest", budget=10, models={"engine": "fake", "target": str(tiny_models["chat"])})
    runner.run_selection(ws, second)
    config = EvaluateConfig(random_subsets=3, train_seeds=2, each_random_once=True, **{**FAST, "max_length": 1024})
    a = create_evaluation(ws, first, config=config)
    run_evaluation(ws, a)
    from curation import model as model_api

    trained: list[int] = []
    real_train = model_api.train
    monkeypatch.setattr(model_api, "train",
                        lambda lm, rows, **kw: trained.append(len(rows)) or real_train(lm, rows, **kw))
    b = create_evaluation(ws, second, config=config)
    rep = run_evaluation(ws, b)
    # each_random_once: random subset r trained once, with seed r mod 2; base + 2 selection seeds + 3 random
    keys = sorted((m.key.role, m.key.subset_index, m.key.seed) for m in rep.models)
    assert keys == [("base", 0, 0), ("random", 0, 0), ("random", 1, 1), ("random", 2, 0),
                    ("selection", 0, 0), ("selection", 0, 1)]
    assert {m.n_train for m in rep.models if m.key.role != "base"} == {10}  # both selections fit: equal subsets
    assert len(trained) == 2  # only the two selection models: the random models and the base model are reused
    for m in rep.models:
        if m.key.role in ("random", "base"):
            assert m.reused_from == a and m.seconds == 0.0
            assert np.array_equal(_losses(ws, b, m.key.role, m.key.subset_index, m.key.seed),
                                  _losses(ws, a, m.key.role, m.key.subset_index, m.key.seed))
        else:
            assert m.reused_from is None
    # the difference pairs each random model with the selection model of its seed
    pairs = [_losses(ws, b, "selection", 0, r % 2) - _losses(ws, b, "random", r, r % 2) for r in range(3)]
    iv = rep.differences["selection"]
    assert iv.pairs == 3 and iv.mean == pytest.approx(float(np.mean(pairs)), abs=1e-9)
    # another training seed is another model: nothing is reused
    c = create_evaluation(ws, second, config=EvaluateConfig(random_subsets=1, train_seeds=1, seed=5,
                                                            **{**FAST, "max_length": 1024}))
    assert [m.reused_from for m in run_evaluation(ws, c).models if m.key.role != "base"] == [None, None]


def test_fingerprint_treats_last_turn_and_every_turn_alike_only_on_single_turn_rows():
    """On rows with one assistant turn, 'last' and 'all_assistant' train the same tokens: one model, one
    fingerprint. On multi-turn rows they differ, and so do other settings (here: the seed)."""
    from curation.evaluation import reuse
    from curation.evaluation.evaluate import EvaluateConfig
    from curation.evaluation.results import ModelKey
    from curation.model import TrainConfig

    rows, ids = np.array([2, 0]), ["a", "b", "c"]

    def print_(train_on: str, single: bool, seed: int = 0) -> str:
        return reuse.fingerprint(ModelKey("random", 0, seed), config=EvaluateConfig(), rows=rows, pool_ids=ids,
                                 train_config=TrainConfig(train_on=train_on), heldout_sha="h", dtype="",
                                 single_turn=single)

    assert print_("last", True) == print_("all_assistant", True)
    assert print_("last", False) != print_("all_assistant", False)
    assert print_("all_assistant", True) != print_("all_assistant", True, seed=1)
    assert reuse.fingerprint(ModelKey("in_run"), config=EvaluateConfig(), rows=None, pool_ids=ids,
                             train_config=TrainConfig(), heldout_sha="h", dtype="") == ""


def test_scoring_precision_is_fp32_unless_asked_and_bf16_losses_are_never_shared_with_fp32_ones(monkeypatch):
    """fp32 scoring by default (bf16 autocast moves a row's loss by ~0.03); "auto" scores in bf16 only where the
    hardware has it; a bf16-scored model gets its own fingerprint, while fp32 ones keep the form stored before
    the setting existed (the sha256 of the settings written out here by hand)."""
    import hashlib
    import json
    from types import SimpleNamespace

    import torch

    from curation.evaluation import evaluate, reuse
    from curation.evaluation.results import ModelKey
    from curation.model import TrainConfig

    def lm(dtype, native: bool):
        return SimpleNamespace(dtype=dtype, device=torch.device("cpu"), extra={"native_bf16": native})

    exact, fast = EvaluateConfig(), EvaluateConfig(score_precision="auto")
    assert exact.score_precision == "fp32"
    assert not evaluate.scores_in_bf16(lm(torch.float32, True), exact)
    assert evaluate.scores_in_bf16(lm(torch.float32, True), fast)
    assert not evaluate.scores_in_bf16(lm(torch.float32, False), fast)  # emulated bf16: fp32 is faster
    assert evaluate.scores_in_bf16(lm(torch.bfloat16, False), exact)  # bf16 weights compute in bf16 anyway
    with pytest.raises(CurationError, match="score_precision"):
        EvaluateConfig(score_precision="fp16")

    seen = []
    monkeypatch.setattr("curation.model.score_records",
                        lambda lm_, held, config, progress, should_stop: seen.append(config.autocast)
                        or SimpleNamespace(nll=np.zeros(len(held))))
    evaluate._score(None, [], replace(exact, max_length=128), None, None)
    evaluate._score(None, [], replace(fast, max_length=128), None, None)
    assert seen == ["off", "auto"]

    def base(scored_bf16: bool) -> str:
        return reuse.fingerprint(ModelKey("base"), config=exact, rows=None, pool_ids=[], train_config=TrainConfig(),
                                 heldout_sha="h", dtype="", scored_bf16=scored_bf16)

    stored = {"model": "", "device": "", "dtype": "", "max_length": None, "heldout": "h"}
    assert base(False) == hashlib.sha256(json.dumps(stored, sort_keys=True).encode()).hexdigest()
    assert base(True) != base(False)
