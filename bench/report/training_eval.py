"""Section 3: does the selection train a better model? Fine-tune SmolLM2-135M-Instruct (LoRA, the engine's
defaults at a short max length) on each method's subset at equal budgets and measure the mean response loss
on a held-out Dolly split (disjoint from the pool) and on the self-instruct seed set."""

from __future__ import annotations

import time

import numpy as np

from bench.report.data import Pool
from bench.report.selections import selection_at
from bench.report.settings import Settings
from bench.report.store import ResultStore

TRAIN_METHODS = ("diverse_evol", "iterit", "learning_pct", "kcenter", "longest")


def eval_loss(lm, records: list, max_length: int) -> dict:
    """Mean (over samples) of the per-sample mean response NLL; unscorable samples (response cut away) skipped."""
    from curation.model import ScoreConfig, score_records

    result = score_records(lm, records, config=ScoreConfig(max_length=max_length, ifd=False))
    nll = np.asarray(result.nll, np.float64)[np.asarray(result.ok, bool)]
    return {"loss": float(nll.mean()), "n": int(len(nll))}


def _train_eval(pool: Pool, rows: list[int] | None, eval_sets: dict, settings: Settings, seed: int,
                max_steps: int | None = None) -> dict:
    from curation.model import TrainConfig, load_model, train

    lm = load_model()
    out: dict = {"n_train": 0 if rows is None else len(rows)}
    started = time.time()
    if rows is not None:
        config = TrainConfig(epochs=settings.train_epochs, max_length=settings.max_length,
                             batch_size=settings.train_batch, max_steps=max_steps)
        result = train(lm, [pool.records[r] for r in rows], config=config, seed=seed)
        out.update(steps=result.steps, train_seconds=round(result.seconds, 1),
                   tokens_per_s=round(result.tokens_per_second, 1), final_train_loss=float(np.mean(result.losses[-3:])),
                   skipped=len(result.skipped))
    for name, recs in eval_sets.items():
        out[name] = eval_loss(lm, recs, settings.max_length)
    out["seconds"] = round(time.time() - started, 1)
    return out


def evaluate(pool: Pool, results: dict, eval_sets: dict, settings: Settings, store: ResultStore,
             deadline: float | None = None, budgets: list[int] | None = None) -> dict:
    """{"base", "full", "budgets": {b: {method: [result per seed]}}}; every model cached in `store`. Budgets go
    largest first; past `deadline` (time.time()) no new model starts and the result says what is missing."""
    skipped: list[str] = []

    def cached(key: str, fn) -> dict | None:
        if key not in store:
            if deadline is not None and time.time() > deadline:
                skipped.append(key)
                return None
            print(f"  {key} ...", flush=True)
            store.put(key, fn())
            print(f"  {key}: {store.get(key)['seconds']} s", flush=True)
        return store.get(key)

    out: dict = {"base": cached("train/base", lambda: _train_eval(pool, None, eval_sets, settings, 0)),
                 "budgets": {}}
    top = max(settings.budgets(len(pool)))
    for b in sorted(budgets or settings.budgets(len(pool)), reverse=True):
        row: dict = {"random": []}
        for i, rows in enumerate(selection_at(results, "random", b)):
            seed = settings.random_seeds[i]
            row["random"].append(cached(f"train/{b}/random/{seed}", lambda rows=rows, seed=seed:
                                        _train_eval(pool, rows, eval_sets, settings, seed)))
        for method in TRAIN_METHODS:
            sels = selection_at(results, method, b)
            if sels:
                row[method] = [cached(f"train/{b}/{method}/0",
                                      lambda rows=sels[0]: _train_eval(pool, rows, eval_sets, settings, 0))]
        out["budgets"][b] = {m: [r for r in runs if r is not None] for m, runs in row.items()}
        out["budgets"][b] = {m: runs for m, runs in out["budgets"][b].items() if runs}
        if b == top and out["budgets"][b].get("random"):
            steps = int(out["budgets"][b]["random"][0].get("steps", 1))
            full = cached("train/full", lambda steps=steps: _train_eval(pool, list(range(len(pool))), eval_sets,
                                                                      settings, 0, max_steps=steps))
            if full is not None:
                out["full"], out["full_steps"] = full, steps
    out["budgets"] = {b: per for b, per in out["budgets"].items() if per}
    out["not_run"] = skipped
    return out
