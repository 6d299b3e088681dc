"""Runs and their iterations: written the moment each iteration completes, so a killed run resumes."""

from __future__ import annotations
import sqlite3

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from curation.errors import CurationError
from curation.workspace import run_lease
from curation.workspace.arrays import atomic_path
from curation.workspace.db import Workspace


@dataclass(frozen=True)
class Run:
    run_id: int
    name: str
    method: str
    config: dict[str, Any]
    budget: dict[str, Any]
    seed: int
    models: dict[str, Any]
    pool_hash: str
    status: str
    error: str
    created: float
    finished: float | None
    owner: str = ""  # "pid P on HOST since ..." while a live runner holds the lease (curation.workspace.run_lease)


@dataclass(frozen=True)
class Iteration:
    run_id: int
    iteration: int
    selected: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint: str = ""
    scores_path: str = ""
    created: float = 0.0


def create(ws: Workspace, *, name: str, method: str, config: dict, budget: dict, seed: int,
           models: dict | None = None, pool_hash: str = "") -> int:
    with ws.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO runs(name, method, config, budget, seed, models, pool_hash, status, created)"
            " VALUES (?,?,?,?,?,?,?,'created',?)",
            (name, method, json.dumps(config), json.dumps(budget), seed, json.dumps(models or {}), pool_hash,
             time.time()))
        return int(cur.lastrowid or 0)  # set by every INSERT


def set_status(ws: Workspace, run_id: int, status: str, error: str = "") -> None:
    finished = time.time() if status in ("done", "failed", "cancelled") else None
    with ws.transaction() as conn:
        conn.execute("UPDATE runs SET status = ?, error = ?, finished = ? WHERE run_id = ?",
                     (status, error, finished, run_id))


def get(ws: Workspace, run_id: int, *, lease_stale_s: float = run_lease.STALE_S) -> Run:
    """A run; "running" with no live owner reads as "interrupted" (its process died: resume it)."""
    rows = ws.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
    if not rows:
        raise CurationError(f"no run {run_id}")
    return _run(rows[0], lease_stale_s)


def list_runs(ws: Workspace, *, lease_stale_s: float = run_lease.STALE_S) -> list[Run]:
    return [_run(r, lease_stale_s) for r in ws.query("SELECT * FROM runs ORDER BY run_id")]


def add_iteration(ws: Workspace, run_id: int, iteration: int, selected: list[str], *,
                  metrics: dict | None = None, checkpoint: str = "",
                  scores: pd.DataFrame | None = None) -> Iteration:
    """Persist one completed iteration: pick order, metrics, and every sample's score components."""
    scores_path = ""
    if scores is not None:
        rel = f"runs/{run_id}/iteration_{iteration:03d}_scores.parquet"
        with atomic_path(ws.path(*rel.split("/"))) as tmp:
            scores.to_parquet(tmp, index=False)
        scores_path = rel
    now = time.time()
    with ws.transaction() as conn:
        conn.execute(
            "INSERT INTO iterations(run_id, iteration, selected, metrics, checkpoint, scores_path, created)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(run_id, iteration) DO UPDATE SET selected=excluded.selected,"
            " metrics=excluded.metrics, checkpoint=excluded.checkpoint, scores_path=excluded.scores_path,"
            " created=excluded.created",
            (run_id, iteration, json.dumps(selected), json.dumps(metrics or {}, default=float), checkpoint,
             scores_path, now))
    return Iteration(run_id, iteration, list(selected), dict(metrics or {}), checkpoint, scores_path, now)


def iterations(ws: Workspace, run_id: int) -> list[Iteration]:
    return [_iteration(r) for r in
            ws.query("SELECT * FROM iterations WHERE run_id = ? ORDER BY iteration", (run_id,))]


def iteration(ws: Workspace, run_id: int, number: int | None = None) -> Iteration:
    """One iteration; `None` (or -1) is the last completed one."""
    its = iterations(ws, run_id)
    if not its:
        get(ws, run_id)  # "no run N" before "no iteration yet"
        raise CurationError(f"run {run_id} has no completed iteration yet")
    if number is None or number == -1:
        return its[-1]
    for it in its:
        if it.iteration == number:
            return it
    raise CurationError(f"run {run_id} has no iteration {number} (it has {its[0].iteration}..{its[-1].iteration})")


def scores(ws: Workspace, it: Iteration) -> pd.DataFrame | None:
    if not it.scores_path:
        return None
    return pd.read_parquet(ws.root / it.scores_path)


def _run(r: sqlite3.Row, lease_stale_s: float) -> Run:
    held = run_lease.live(r, stale_s=lease_stale_s)
    status = "interrupted" if r["status"] == "running" and not held else r["status"]
    return Run(r["run_id"], r["name"], r["method"], json.loads(r["config"]), json.loads(r["budget"]), r["seed"],
               json.loads(r["models"]), r["pool_hash"], status, r["error"], r["created"], r["finished"],
               run_lease.describe(r) if held else "")


def _iteration(r: sqlite3.Row) -> Iteration:
    return Iteration(r["run_id"], r["iteration"], json.loads(r["selected"]), json.loads(r["metrics"]),
                     r["checkpoint"], r["scores_path"], r["created"])
