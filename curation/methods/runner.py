"""Runs: a method, its config, the pool, a seed and the models, executed iteration by iteration.

Each iteration is persisted (pick order, every sample's score components, metrics, checkpoint) the moment it
completes; `run_selection` on a run that was killed continues after its last persisted iteration. Human
decisions are snapshotted when the run starts (approved/pinned always in, rejected never), so a resumed run
sees the constraints the run started with, and a new run picks up decisions made since.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curation import heap
from curation.errors import Cancelled, CurationError
from curation.methods import registry
from curation.methods.base import COMPONENTS, Constraints, Pool, Previous, Progress, Step, StepContext
from curation.methods.budgets import Budget, Target, parse_budget, resolve
from curation.methods.engines.base import Engine, make_engine
from curation.model.checkpoints import checkpoint_dir
from curation.workspace import decisions, run_lease, runs, samples
from curation.workspace.arrays import atomic_write_text
from curation.workspace.db import Workspace

EngineFactory = Callable[[Workspace, list, dict], Engine]


def start_run(ws: Workspace, method: str, *, budget: str | int | Budget, config: Any = None, seed: int = 0,
              models: dict[str, str] | None = None, name: str = "") -> int:
    """Create a run (nothing is computed yet) and snapshot the human decisions it must respect."""
    selector = registry.get(method)
    if is_dataclass(config) and not isinstance(config, type):
        config = asdict(config)
    cfg = registry.make_config(method, config)
    parsed = parse_budget(budget)
    if samples.count(ws) == 0:
        raise CurationError("the workspace has no samples; import data first")
    models = {"engine": "model", **(models or {})}
    run_id = runs.create(ws, name=name or f"{method} {parsed}", method=selector.name, config=asdict(cfg),
                         budget=parsed.to_json(), seed=int(seed), models=models, pool_hash=samples.pool_hash(ws))
    _snapshot_constraints(ws, run_id)
    return run_id


def run_selection(ws: Workspace, run_id: int, *, progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None,
                  engine_factory: EngineFactory | None = None,
                  lease_stale_s: float = run_lease.STALE_S) -> runs.Run:
    """Run (or resume) a run to its end; returns the finished run. Cancellation raises `Cancelled`.

    Refused (CurationError) while another live process runs it: the run's lease (curation.workspace.run_lease).
    """
    run = runs.get(ws, run_id)
    selector = registry.get(run.method)
    cfg = registry.make_config(run.method, run.config)
    if run.pool_hash != samples.pool_hash(ws):
        raise CurationError(f"the pool changed since run {run_id} started (samples were imported); "
                            "start a new run")
    lease = run_lease.acquire(ws, run_id, stale_s=lease_stale_s).start()
    done = runs.iterations(ws, run_id)  # read under the lease: no other runner adds iterations now
    try:
        pool_ids, records = _pool_records(ws)
        engine = (engine_factory or make_engine)(ws, records, run.models)
        pool = Pool(ids=pool_ids, records=records, tokens=np.asarray(engine.token_counts(), np.int64))
        constraints = load_constraints(ws, run_id, pool_ids)
        target = resolve(Budget.from_json(run.budget), pool.tokens, required=constraints.required,
                         excluded=constraints.excluded)
        total = selector.n_iterations(cfg, target)
        ctx = StepContext(pool=pool, config=cfg, target=target, constraints=constraints, engine=engine,
                          seed=run.seed, state_dir=ws.path("runs", str(run_id), "state", "x").parent,
                          checkpoint_name=lambda i: checkpoint_name(run_id, i),
                          should_stop=should_stop)
        previous = _previous(ws, done[-1], pool_ids) if done else None
        for iteration in range(len(done), total):
            lease.check()
            ctx.check_stop()
            ctx.progress = _scaled_progress(progress, iteration, total, run.method)
            started = time.time()
            step = selector.step(ctx, iteration, previous)
            lease.check()  # a runner that looked dead while stepping must not overwrite its successor's work
            it = _persist(ws, run_id, iteration, step, ctx, run.method, time.time() - started)
            if step.checkpoint:
                _drop_old_checkpoints(ws, run_id, iteration, cfg)
            previous = _previous(ws, it, pool_ids)
            heap.return_freed_memory()  # a round's training leaves GBs of freed activations (curation.heap)
            if progress is not None:
                progress((iteration + 1) * 1000, total * 1000, f"iteration {iteration + 1}/{total} done")
    except Cancelled:
        lease.release("cancelled")
        raise
    except BaseException as exc:
        lease.release("failed", f"{type(exc).__name__}: {exc}"[:2000])
        raise
    lease.release("done")
    return runs.get(ws, run_id)


def selection(ws: Workspace, run_id: int, iteration: int | None = None) -> list[str]:
    """Selected sample ids of an iteration (the last completed one by default), in pick order."""
    return runs.iteration(ws, run_id, iteration).selected


# -- internals ------------------------------------------------------------------------------------------
def _pool_records(ws: Workspace) -> tuple[list[str], list]:
    ids, records = [], []
    for sid, record in samples.iter_records(ws):
        ids.append(sid)
        records.append(record)
    return ids, records


def _constraints_path(ws: Workspace, run_id: int) -> Path:
    return ws.path("runs", str(run_id), "constraints.json")


def _snapshot_constraints(ws: Workspace, run_id: int) -> None:
    required = sorted(set(decisions.ids_with(ws, status="approved")) | set(decisions.ids_with(ws, pinned=True)))
    rejected = set(decisions.ids_with(ws, status="rejected"))
    required = [s for s in required if s not in rejected]  # a pinned but rejected sample stays out
    atomic_write_text(_constraints_path(ws, run_id),
                      json.dumps({"required": required, "excluded": sorted(rejected)}, indent=1))


def load_constraints(ws: Workspace, run_id: int, pool_ids: list[str]) -> Constraints:
    """The run's snapshot of human decisions (taken when it started): approved/pinned forced in, rejected out."""
    path = _constraints_path(ws, run_id)
    if not path.exists():  # created by an older version, or killed before the snapshot: take it now
        _snapshot_constraints(ws, run_id)
    data = json.loads(path.read_text(encoding="utf-8"))
    row_of = {s: i for i, s in enumerate(pool_ids)}
    required = np.array(sorted(row_of[s] for s in data["required"] if s in row_of), dtype=np.int64)
    excluded = np.zeros(len(pool_ids), bool)
    excluded[[row_of[s] for s in data["excluded"] if s in row_of]] = True
    return Constraints(required=required, excluded=excluded)


def _previous(ws: Workspace, it: runs.Iteration, pool_ids: list[str]) -> Previous:
    row_of = {s: i for i, s in enumerate(pool_ids)}
    order = np.array([row_of[s] for s in it.selected], dtype=np.int64)
    return Previous(iteration=it.iteration, order=order, scores=runs.scores(ws, it), checkpoint=it.checkpoint)


def _scaled_progress(progress: Progress | None, iteration: int, total: int, method: str) -> Progress | None:
    if progress is None:
        return None

    def report(done: int, of: int, message: str) -> None:
        frac = min(1.0, done / of) if of else 0.0
        progress(int((iteration + frac) * 1000), total * 1000,
                 f"{method} iteration {iteration + 1}/{total}: {message}")

    return report


def scores_frame(step: Step, ctx: StepContext, iteration: int, method: str) -> pd.DataFrame:
    """One row per sample: selected flag, rank, the pick's gain and reason, and every score component."""
    n = len(ctx.pool)
    rank = np.full(n, -1, np.int64)
    rank[step.order] = np.arange(len(step.order))
    gain = np.full(n, np.nan)
    gain[step.order] = step.gains
    reason = np.full(n, "", dtype=object)
    reason[step.order] = step.reasons
    frame = pd.DataFrame({"sample_id": ctx.pool.ids, "row": np.arange(n), "selected": rank >= 0, "rank": rank,
                          "gain": gain, "reason": reason.astype(str), "iteration": iteration, "method": method,
                          "excluded": ctx.constraints.excluded})
    for name in COMPONENTS:
        frame[name] = np.asarray(step.components.get(name, np.full(n, np.nan)), dtype=np.float64)
    for name, values in step.components.items():
        if name not in COMPONENTS:
            frame[name] = values
    return frame


def _persist(ws: Workspace, run_id: int, iteration: int, step: Step, ctx: StepContext, method: str,
             seconds: float) -> runs.Iteration:
    order = np.asarray(step.order, np.int64)
    if len(np.unique(order)) != len(order):
        raise AssertionError(f"{method} picked a sample twice")  # a method bug, not a user error
    metrics = {**selection_metrics(ctx, order), **step.metrics, "seconds": round(seconds, 3)}
    return runs.add_iteration(ws, run_id, iteration, [ctx.pool.ids[i] for i in order], metrics=metrics,
                              checkpoint=step.checkpoint, scores=scores_frame(step, ctx, iteration, method))


RBF_FEATURES = 1024  # random features of the non-saturating Vendi: its ceiling, and its cost per iteration


def selection_metrics(ctx: StepContext, order: np.ndarray) -> dict[str, Any]:
    """Vendi (fixed reference embedder; the paper's cosine kernel and an RBF kernel that does not saturate at the
    embedding width, its gamma set once from the pool), size, tokens and mean response length of a selection."""
    from curation.geometry.vendi import VendiKernel, rbf_gamma, vendi_score

    chars = ctx.pool.response_chars[order]
    out: dict[str, Any] = {"n_selected": int(len(order)), "tokens": int(ctx.pool.tokens[order].sum()),
                           "mean_response_chars": float(chars.mean()) if len(order) else 0.0}
    if len(order):
        X = ctx.engine.reference_embeddings(order, should_stop=ctx.should_stop)
        pool_sample = np.random.default_rng(0).choice(len(ctx.pool), min(len(ctx.pool), 2000), replace=False)
        gamma = rbf_gamma(ctx.engine.reference_embeddings(np.sort(pool_sample), should_stop=ctx.should_stop))
        rbf = VendiKernel("rbf", gamma=gamma, rff_dim=RBF_FEATURES)
        out.update(vendi=vendi_score(X), vendi_kernel="cosine", vendi_rbf=vendi_score(X, kernel=rbf),
                   vendi_rbf_kernel=rbf.label())
    return out


def checkpoint_name(run_id: int, iteration: int) -> str:
    """The workspace checkpoint (curation.model.checkpoints) holding a run's model after an iteration."""
    return f"run{run_id}-iter{iteration:03d}"


def _drop_old_checkpoints(ws: Workspace, run_id: int, iteration: int, cfg: Any) -> None:
    """With keep_checkpoints="last", only the newest iteration's model stays on disk (it is what a resume needs)."""
    if getattr(cfg, "keep_checkpoints", "last") != "last":
        return
    for old in range(iteration):
        folder = checkpoint_dir(ws.root, checkpoint_name(run_id, old))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)


def target_for(ws: Workspace, run_id: int, tokens: np.ndarray) -> Target:
    """The resolved target of a run (for displays: how many samples a budget means)."""
    run = runs.get(ws, run_id)
    pool_ids = samples.ids(ws)
    c = load_constraints(ws, run_id, pool_ids)
    return resolve(Budget.from_json(run.budget), tokens, required=c.required, excluded=c.excluded)
