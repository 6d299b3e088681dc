"""Every selection the report needs, made by the library's runner (curation.methods.runner) and timed.

The engine is wrapped (`TimedEngine`, passed through the runner's `engine_factory` hook) so each run records
seconds spent loading models, training, scoring, embedding with the model and with the reference embedder;
"selection" is the rest of the run's wall time (K-Center, k-means, TF-IDF greedy, sorting, persisting).
A run killed half-way is resumed from its last persisted iteration by calling the runner again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from bench.report.data import Pool
from bench.report.settings import Settings
from bench.report.store import ResultStore

CATEGORIES = ("load", "train", "score", "embed_model", "embed_reference")


class TimedEngine:
    """Delegates to a real engine and adds up the time of each kind of call (nested calls counted once)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _timed(self, category: str, rows: int, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self._stack.append(0.0)
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            nested = self._stack.pop()
            self.seconds[category] += elapsed - nested
            self.rows[category] += rows
            if self._stack:
                self._stack[-1] += elapsed

    def base(self, role: str) -> Any:
        return self._timed("load", 0, self.inner.base, role)

    def load(self, name: str, role: str) -> Any:
        return self._timed("load", 0, self.inner.load, name, role)

    def save(self, model: Any, name: str) -> str:
        return self._timed("load", 0, self.inner.save, model, name)

    def train(self, model: Any, rows: np.ndarray, settings: Any, **kwargs: Any) -> dict:
        epochs = getattr(settings, "stop_after_epochs", 0) or settings.epochs  # LP1_app stops after epoch 1
        return self._timed("train", len(rows) * epochs, self.inner.train, model, rows, settings, **kwargs)

    def score(self, model: Any, rows: np.ndarray, **kwargs: Any) -> Any:
        return self._timed("score", len(rows), self.inner.score, model, rows, **kwargs)

    def embed(self, model: Any, rows: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self._timed("embed_model", len(rows), self.inner.embed, model, rows, **kwargs)

    def reference_embeddings(self, rows: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self._timed("embed_reference", len(rows), self.inner.reference_embeddings, rows, **kwargs)


def run_method(pool: Pool, store: ResultStore, method: str, budget: int, *, config: dict | None = None,
               seed: int = 0, models: dict | None = None, tag: str = "") -> dict:
    """One selection run (cached in `store`); returns its selections per iteration, metrics and timings."""
    from curation.methods import runner
    from curation.methods.engines.base import make_engine
    from curation.workspace import runs, samples

    key = f"sel/{pool.name}/{tag or method}/{budget}/{seed}"
    entry = store.get(key)
    if entry and entry.get("done"):
        return entry
    if entry is None:
        run_id = runner.start_run(pool.ws, method, budget=budget, config=config or {}, seed=seed, models=models)
        store.put(key, {"run_id": run_id, "done": False})
    else:  # interrupted: the runner resumes after the last persisted iteration
        run_id = entry["run_id"]
    engines: list[TimedEngine] = []

    def factory(ws: Any, records: list, run_models: dict) -> TimedEngine:
        engines.append(TimedEngine(make_engine(ws, records, run_models)))
        return engines[-1]

    print(f"  {key} ...", flush=True)
    started = time.time()
    runner.run_selection(pool.ws, run_id, engine_factory=factory)
    wall = time.time() - started
    row_of = {s: i for i, s in enumerate(samples.ids(pool.ws))}
    its = runs.iterations(pool.ws, run_id)
    eng = engines[-1]
    seconds = {c: round(eng.seconds.get(c, 0.0), 2) for c in CATEGORIES}
    seconds["selection"] = round(max(0.0, wall - sum(seconds.values())), 2)
    result = {"run_id": run_id, "done": True, "method": method, "budget": budget, "seed": seed,
              "config": config or {}, "wall": round(wall, 2), "resumed": entry is not None,
              "seconds": seconds, "rows": {c: int(eng.rows.get(c, 0)) for c in CATEGORIES},
              "iterations": [{"rows": [row_of[s] for s in it.selected],
                              "metrics": {k: v for k, v in it.metrics.items() if isinstance(v, (int, float))}}
                             for it in its]}
    store.put(key, result)
    print(f"  {key}: {wall:.0f} s", flush=True)
    return result


def method_configs(settings: Settings) -> dict[str, dict]:
    m = {"max_length": settings.max_length}
    return {"iterit": {**m, "epochs": settings.iterit_epochs},
            "diverse_evol": {**m, "rounds": settings.de_rounds, "epochs": settings.de_epochs},
            "learning_pct": {**m, "score": "lp1_app"}, "static_ifd": m}


def lp_trajectory(pool: Pool, run: dict) -> np.ndarray:
    """[N, E+1] perplexities P_0..P_E a learning-percentage run recorded (its scores frame, row order)."""
    from curation.workspace import runs

    it = runs.iteration(pool.ws, run["run_id"])
    frame = runs.scores(pool.ws, it).sort_values("row")
    cols = sorted((c for c in frame.columns if c.startswith("ppl_")), key=lambda c: int(c.split("_")[1]))
    return frame[cols].to_numpy(np.float64)


def file_trajectory(trajectory: np.ndarray) -> np.ndarray:
    """The trajectory as `trajectories_file` takes it: the loader refuses NaN, so an unscorable row becomes
    P_0 = 1, P_1 = 0, i.e. LP1_app = 1, which sorts after every scorable row (a real LP1_app is < 1) exactly
    where the method puts NaN. select_all checks that the file reproduces the run's own selection."""
    out = np.array(trajectory, np.float64)
    bad = ~np.isfinite(out).all(axis=1)
    out[bad] = 0.0
    out[bad, 0] = 1.0
    return out


def select_all(pool: Pool, settings: Settings, store: ResultStore, cache: Any) -> dict[str, dict[int, list]]:
    """{method: {budget: [result per seed]}} for the baselines, the ablations and the three methods, every budget.

    DiverseEvol runs once per budget (its rounds give the Vendi curve). Learning percentage trains its selector
    once, at the largest budget; the other budgets reuse the recorded trajectories through the method's own
    `trajectories_file` setting (the same selection as retraining, at no cost). IterIT runs once per seed: its
    result is the run's own model, so its seeds are run seeds.
    """
    from curation.methods.diverse_evol import DiverseEvolConfig, pool_sizes
    from curation.workspace.arrays import save_array

    cfg = method_configs(settings)
    budgets = settings.budgets(len(pool))
    out: dict[str, dict[int, list]] = defaultdict(dict)
    top = max(budgets)
    round_sizes = pool_sizes(DiverseEvolConfig(rounds=settings.de_rounds), top)  # random and K-Center there too
    for b in sorted(set(budgets) | set(round_sizes)):
        out["random"][b] = [run_method(pool, store, "random", b, seed=s) for s in range(settings.train_seeds)]
        out["kcenter"][b] = [run_method(pool, store, "kcenter", b)]
    for b in budgets:
        for method in ("longest", "cluster_random"):
            out[method][b] = [run_method(pool, store, method, b)]
        out["static_ifd"][b] = [run_method(pool, store, "static_ifd", b, config=cfg["static_ifd"])]
    for b in sorted(budgets, reverse=True):
        out["diverse_evol"][b] = [run_method(pool, store, "diverse_evol", b, config=cfg["diverse_evol"])]
    lp_main = run_method(pool, store, "learning_pct", top, config=cfg["learning_pct"])
    out["learning_pct"][top] = [lp_main]
    traj_path = cache / f"lp_trajectory_{pool.name}.npy"
    if not traj_path.exists():
        save_array(traj_path, file_trajectory(lp_trajectory(pool, lp_main)))
    from_file = {**cfg["learning_pct"], "trajectories_file": str(traj_path)}
    for b in budgets:
        if b != top:
            out["learning_pct"][b] = [run_method(pool, store, "learning_pct", b, config=from_file)]
    check = run_method(pool, store, "learning_pct", top, config=from_file, tag="learning_pct_from_file")
    if check["iterations"][-1]["rows"] != lp_main["iterations"][-1]["rows"]:
        raise AssertionError("learning_pct from its recorded trajectories selected differently from the run")
    for b in sorted(budgets, reverse=True):  # the largest pays the base model's IFD pass (timing table)
        out["iterit"][b] = [run_method(pool, store, "iterit", b, config=cfg["iterit"], seed=s)
                            for s in settings.iterit_seeds]
    out["iterit"] = dict(sorted(out["iterit"].items()))
    return dict(out)


def selection_at(results: dict[str, dict[int, list]], method: str, budget: int) -> list[list[int]]:
    """Selected rows of `method` at `budget` (one list per seed); DiverseEvol's from its run of that budget, else
    the round of that size of its run at the largest budget."""
    if method == "diverse_evol" and budget not in results.get(method, {}):
        out = []
        for runs_ in results.get(method, {}).values():
            for it in runs_[0]["iterations"]:
                if len(it["rows"]) == budget:
                    out.append(it["rows"])
        return out[:1]
    return [r["iterations"][-1]["rows"] for r in results.get(method, {}).get(budget, [])]
