"""Evaluations in the workspace: their rows, one row per finished model, per-sample losses, and the report.

    evaluations            one row per evaluation (run, iteration, settings, held-out set, status)
    evaluation_models      one row per fine-tuned (or loaded) model, inserted the moment it is scored
    evaluations/<id>/      heldout.jsonl (the held-out records, fixed at creation), valid.npy (the held-out rows
                           every model is compared on), <role>-<subset>-<seed>.npy (per-sample losses)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curation.errors import CurationError
from curation.evaluation.intervals import Interval, pair_by_seed, paired_bootstrap
from curation.workspace.arrays import load_array, save_array
from curation.workspace.db import Workspace

ROLES = ("base", "in_run", "selection", "random")
METHOD_ROLES = ("selection", "in_run")  # compared with the random models


@dataclass(frozen=True)
class Evaluation:
    evaluation_id: int
    run_id: int
    iteration: int
    config: dict[str, Any]
    heldout: dict[str, Any]
    status: str
    error: str
    created: float
    finished: float | None


@dataclass(frozen=True)
class ModelKey:
    role: str
    subset_index: int = 0
    seed: int = 0

    @property
    def label(self) -> str:
        if self.role == "random":
            return f"random {self.subset_index} seed {self.seed}"
        return f"{self.role} seed {self.seed}" if self.role == "selection" else self.role.replace("_", "-")

    @property
    def file_name(self) -> str:
        return f"{self.role}-{self.subset_index}-{self.seed}.npy"


@dataclass(frozen=True)
class ModelResult:
    key: ModelKey
    n_train: int
    n_tokens: int
    skipped: int
    heldout_loss: float
    losses_path: str
    seconds: float  # spent by this evaluation (0 for a model reused from another)
    created: float
    fingerprint: str = ""
    reused_from: int | None = None  # the evaluation that trained and scored it


@dataclass(frozen=True)
class Report:
    evaluation: Evaluation
    models: list[ModelResult]
    differences: dict[str, Interval] = field(default_factory=dict)  # method role -> difference vs random
    complete: bool = False


def folder(ws: Workspace, evaluation_id: int, name: str) -> str:
    """Workspace-relative path of one file of an evaluation."""
    return f"evaluations/{evaluation_id}/{name}"


def create(ws: Workspace, run_id: int, iteration: int, config: dict[str, Any], heldout: dict[str, Any]) -> int:
    with ws.transaction() as conn:
        cur = conn.execute("INSERT INTO evaluations(run_id, iteration, config, heldout, status, created)"
                           " VALUES (?,?,?,?,'created',?)",
                           (run_id, iteration, json.dumps(config), json.dumps(heldout), time.time()))
        return int(cur.lastrowid or 0)


def update(ws: Workspace, evaluation_id: int, *, status: str | None = None, error: str = "",
           heldout: dict[str, Any] | None = None) -> None:
    with ws.transaction() as conn:
        if heldout is not None:
            conn.execute("UPDATE evaluations SET heldout = ? WHERE evaluation_id = ?",
                         (json.dumps(heldout), evaluation_id))
        if status is not None:
            finished = time.time() if status in ("done", "failed", "cancelled") else None
            conn.execute("UPDATE evaluations SET status = ?, error = ?, finished = ? WHERE evaluation_id = ?",
                         (status, error, finished, evaluation_id))


def get(ws: Workspace, evaluation_id: int) -> Evaluation:
    rows = ws.query("SELECT * FROM evaluations WHERE evaluation_id = ?", (evaluation_id,))
    if not rows:
        raise CurationError(f"no evaluation {evaluation_id}")
    r = rows[0]
    return Evaluation(r["evaluation_id"], r["run_id"], r["iteration"], json.loads(r["config"]),
                      json.loads(r["heldout"]), r["status"], r["error"], r["created"], r["finished"])


def list_evaluations(ws: Workspace, run_id: int | None = None) -> list[Evaluation]:
    where, params = (" WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
    ids = [r[0] for r in ws.query(f"SELECT evaluation_id FROM evaluations{where} ORDER BY evaluation_id", params)]
    return [get(ws, i) for i in ids]


def add_model(ws: Workspace, evaluation_id: int, key: ModelKey, losses: np.ndarray, valid: np.ndarray, *,
              n_train: int, n_tokens: int, skipped: int, seconds: float, fingerprint: str = "",
              reused_from: int | None = None) -> ModelResult:
    """Store one scored model: its losses file first, then its row (a row always has its file)."""
    rel = folder(ws, evaluation_id, key.file_name)
    save_array(ws.path(*rel.split("/")), np.asarray(losses, np.float32))
    loss = float(np.mean(np.asarray(losses, np.float64)[valid])) if valid.any() else float("nan")
    now = time.time()
    with ws.transaction() as conn:
        conn.execute("INSERT INTO evaluation_models(evaluation_id, role, subset_index, seed, n_train, n_tokens,"
                     " skipped, heldout_loss, losses_path, seconds, created, fingerprint, reused_from)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (evaluation_id, key.role, key.subset_index, key.seed, n_train, n_tokens, skipped, loss, rel,
                      seconds, now, fingerprint, reused_from))
    return ModelResult(key, n_train, n_tokens, skipped, loss, rel, seconds, now, fingerprint, reused_from)


def models(ws: Workspace, evaluation_id: int) -> list[ModelResult]:
    rows = ws.query("SELECT * FROM evaluation_models WHERE evaluation_id = ? ORDER BY created", (evaluation_id,))
    return [_model_result(r) for r in rows]


def find_model(ws: Workspace, fingerprint: str) -> tuple[int, ModelResult] | None:
    """(evaluation id, model) of the first model stored with this fingerprint, if any."""
    rows = ws.query("SELECT * FROM evaluation_models WHERE fingerprint = ? ORDER BY created LIMIT 1", (fingerprint,))
    return (int(rows[0]["evaluation_id"]), _model_result(rows[0])) if rows and fingerprint else None


def _model_result(r: Any) -> ModelResult:
    return ModelResult(ModelKey(r["role"], r["subset_index"], r["seed"]), r["n_train"], r["n_tokens"], r["skipped"],
                       r["heldout_loss"] if r["heldout_loss"] is not None else float("nan"), r["losses_path"],
                       r["seconds"], r["created"], r["fingerprint"], r["reused_from"])


def valid_rows(ws: Workspace, evaluation_id: int) -> np.ndarray:
    """The held-out rows every model is compared on (scorable, not contaminated)."""
    path = ws.root / folder(ws, evaluation_id, "valid.npy")
    if not path.exists():
        raise CurationError(f"evaluation {evaluation_id} has not started yet")
    return np.asarray(load_array(path), bool)


def random_model_keys(config: dict[str, Any]) -> list[ModelKey]:
    """The random models an evaluation trains, subset-major: every subset with every training seed, or with
    `each_random_once` subset r once, with seed r mod train_seeds (R models instead of R x S)."""
    seeds, subsets = int(config["train_seeds"]), int(config["random_subsets"])
    if config.get("each_random_once"):
        return [ModelKey("random", r, r % seeds) for r in range(subsets)]
    return [ModelKey("random", r, s) for r in range(subsets) for s in range(seeds)]


def report(ws: Workspace, evaluation_id: int) -> Report:
    """Every finished model, and each method role's paired difference against random once its pairs exist."""
    evaluation = get(ws, evaluation_id)
    finished = models(ws, evaluation_id)
    planned = evaluation.heldout.get("planned_models")
    complete = evaluation.status == "done" or (planned is not None and len(finished) >= planned)
    differences: dict[str, Interval] = {}
    if finished:
        valid = valid_rows(ws, evaluation_id)
        seeds = int(evaluation.config["train_seeds"])
        random_keys = random_model_keys(evaluation.config)
        losses = {m.key: np.asarray(load_array(ws.root / m.losses_path), np.float64)[valid] for m in finished}
        if valid.any() and all(k in losses for k in random_keys):
            random = np.stack([losses[k] for k in random_keys])
            random_seeds = np.array([k.seed for k in random_keys])
            method_keys = {"selection": [ModelKey("selection", 0, s) for s in range(seeds)],
                           "in_run": [ModelKey("in_run")]}
            for role, keys in method_keys.items():
                if all(k in losses for k in keys):
                    diffs = pair_by_seed(np.stack([losses[k] for k in keys]), random, random_seeds)
                    differences[role] = paired_bootstrap(diffs, resamples=int(evaluation.config["bootstrap_resamples"]),
                                                         seed=int(evaluation.config["seed"]))
    return Report(evaluation=evaluation, models=finished, differences=differences, complete=complete)
