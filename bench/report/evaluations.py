"""Section 3: does the selection train a better model than random? Every comparison is the product's own
evaluation (`curation.evaluation`): the target (SmolLM2-135M-Instruct, LoRA) is fine-tuned on each method's
selection with S seeds and on R same-size random subsets of the pool (each trained once, seed r mod S), and every
model scores one evaluation file (held-out Dolly rows, then the self-instruct seed tasks). The random models are
trained once per budget and reused by every method's evaluation (same rows, settings, seed: same fingerprint).
Here each method's difference against random is computed per evaluation set from the stored per-sample losses."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.report.data import EVAL_SETS, Pool
from bench.report.settings import Settings
from bench.report.store import ResultStore

# the three papers first (IterIT first: its in-run models need scoring only, and it trains the shared random models)
EVAL_METHODS = ("iterit", "diverse_evol", "learning_pct", "longest", "static_ifd", "cluster_random")


def _config(settings: Settings, eval_path: Path):
    from curation.evaluation import EvaluateConfig

    return EvaluateConfig(random_subsets=settings.random_subsets, train_seeds=settings.train_seeds,
                          each_random_once=True, heldout=str(eval_path), epochs=settings.eval_epochs,
                          max_length=settings.max_length, batch_size=settings.train_batch,
                          bootstrap_resamples=settings.bootstrap_resamples)


def _units(settings: Settings, selections: dict, budget: int) -> list[tuple[str, str, dict, object]]:
    """(store key, method, its selection run, config changes) of every evaluation at one budget."""
    out = []
    for method in EVAL_METHODS:
        runs_ = selections.get(method, {}).get(budget, [])
        for i, run in enumerate(runs_):
            changes = {"retrain_selection": False} if method == "iterit" else {}
            out.append((f"{method}/{i}", method, run, changes))
            if method in settings.token_matched and i == 0:
                out.append((f"{method}/token_matched", method, run, {"token_matched": True}))
    return out


def run_budget(pool: Pool, selections: dict, eval_path: Path, settings: Settings, store: ResultStore, budget: int,
               deadline: float | None) -> list[str]:
    """Create and run every evaluation at `budget` (resumable); returns the units left for a later invocation."""
    from curation.cli import ProgressPrinter
    from curation.evaluation import create_evaluation, results, run_evaluation

    base = _config(settings, eval_path)
    left = []
    for unit, _method, run, changes in _units(settings, selections, budget):
        key = f"eval/{pool.name}/{budget}/{unit}"
        eid = store.get(key)
        if eid is None:
            eid = create_evaluation(pool.ws, run["run_id"], config=replace(base, **changes))
            store.put(key, eid)
        if results.get(pool.ws, eid).status == "done":
            continue
        if deadline is not None and time.time() > deadline:
            left.append(key)
            continue
        print(f"  {key} (evaluation {eid}) ...", flush=True)
        started = time.time()
        run_evaluation(pool.ws, eid, progress=ProgressPrinter(f"{key}"))
        store.put(f"{key}/seconds", round(time.time() - started, 1))
    return left


def summarise(pool: Pool, settings: Settings, store: ResultStore, ranges: dict, budget: int) -> dict:
    """Per method: per evaluation set, the paired difference against random (and against token-matched random)
    with its 95% interval, the mean held-out loss of its models, and what its models trained on."""
    from curation.evaluation import results

    ws = pool.ws
    finished: dict[str, dict] = {}
    for key, eid in store.data.items():
        prefix = f"eval/{pool.name}/{budget}/"
        if key.startswith(prefix) and not key.endswith("/seconds") and results.get(ws, eid).status == "done":
            finished[key[len(prefix):]] = results.report(ws, eid)
    out: dict = {"budget": budget, "methods": {}, "random": {}, "base": {}}
    for method in EVAL_METHODS:
        reps = [rep for unit, rep in finished.items() if unit.split("/")[0] == method and unit.split("/")[1].isdigit()]
        role = "in_run" if method == "iterit" else "selection"
        if not reps or (role == "in_run" and len(reps) != len(settings.iterit_seeds)):
            continue  # IterIT's seeds are its runs: compared once all are scored
        row = {"models": [], "vs_random": {}, "vs_token_matched": {}, "evaluations": [r.evaluation.evaluation_id
                                                                                      for r in reps]}
        method_models = [m for rep in reps for m in rep.models if m.key.role == role]
        row["models"] = [{"n_train": m.n_train, "n_tokens": m.n_tokens, "loss": m.heldout_loss} for m in method_models]
        tm = finished.get(f"{method}/token_matched")
        for name, (lo, hi) in ranges.items():
            row["vs_random"][name] = _difference(ws, reps, role, lo, hi, settings)
            if tm is not None:
                row["vs_token_matched"][name] = _difference(ws, [tm], role, lo, hi, settings)
                row["token_matched_models"] = [{"n_train": m.n_train, "n_tokens": m.n_tokens}
                                               for m in tm.models if m.key.role == "random"]
        out["methods"][method] = row
    out["not_run"] = [m for m in EVAL_METHODS if m not in out["methods"]]
    any_rep = next(iter(finished.values()), None)
    if any_rep is not None:
        for name, (lo, hi) in ranges.items():
            out["random"][name] = _role_losses(ws, any_rep, "random", lo, hi)
            out["base"][name] = _role_losses(ws, any_rep, "base", lo, hi)
        out["random_models"] = [{"n_train": m.n_train, "n_tokens": m.n_tokens}
                                for m in any_rep.models if m.key.role == "random"]
        out["valid"] = {name: int(_mask(ws, [any_rep], lo, hi).sum()) for name, (lo, hi) in ranges.items()}
        out["heldout_info"] = any_rep.evaluation.heldout
    own = [m for rep in finished.values() for m in rep.models if m.seconds > 0 and not m.reused_from]
    out["model_seconds"] = {"trained": [m.seconds for m in own if m.key.role in ("selection", "random")],
                            "scored_only": [m.seconds for m in own if m.key.role in ("base", "in_run")]}
    out["seconds"] = {k.split("/", 3)[3][:-len("/seconds")]: v for k, v in store.data.items()
                      if k.startswith(f"eval/{pool.name}/{budget}/") and k.endswith("/seconds")}
    return out


def _mask(ws, reps: list, lo: int, hi: int) -> np.ndarray:
    """Rows of one evaluation set every listed evaluation compares on (scorable, not contaminated)."""
    from curation.evaluation import results

    valid = np.logical_and.reduce([results.valid_rows(ws, r.evaluation.evaluation_id) for r in reps])
    in_set = np.zeros(len(valid), bool)
    in_set[lo:hi] = True
    return valid & in_set


def _losses(ws, model, mask: np.ndarray) -> np.ndarray:
    from curation.workspace.arrays import load_array

    return np.asarray(load_array(ws.root / model.losses_path), np.float64)[mask]


def _difference(ws, reps: list, role: str, lo: int, hi: int, settings: Settings) -> dict | None:
    """Method minus random, paired by seed (IterIT: run seed s's in-run model), over the set's rows."""
    from curation.evaluation import pair_by_seed, paired_bootstrap

    mask = _mask(ws, reps, lo, hi)
    if not mask.any():
        return None
    if role == "in_run":  # one evaluation per IterIT run; run i has seed i
        method = np.stack([_losses(ws, next(m for m in rep.models if m.key.role == role), mask) for rep in reps])
    else:
        picks = sorted((m for m in reps[0].models if m.key.role == role), key=lambda m: m.key.seed)
        method = np.stack([_losses(ws, m, mask) for m in picks])
    randoms = sorted((m for m in reps[0].models if m.key.role == "random"), key=lambda m: m.key.subset_index)
    random = np.stack([_losses(ws, m, mask) for m in randoms])
    seeds = np.array([m.key.seed for m in randoms])
    iv = paired_bootstrap(pair_by_seed(method, random, seeds), resamples=settings.bootstrap_resamples)
    return {"mean": iv.mean, "low": iv.low, "high": iv.high, "pairs": iv.pairs, "samples": iv.samples,
            "method_loss": float(method.mean()), "random_loss": float(random.mean())}


def _role_losses(ws, rep, role: str, lo: int, hi: int) -> dict:
    mask = _mask(ws, [rep], lo, hi)
    per_model = [float(_losses(ws, m, mask).mean()) for m in rep.models if m.key.role == role]
    return {"losses": per_model, "samples": int(mask.sum())}


__all__ = ["EVAL_METHODS", "EVAL_SETS", "run_budget", "summarise"]
