"""Queueing a selection run for the worker: the `select` job and, behind it, the `timeline` job that computes
the run's same-size random Vendi baseline. The Select page, its resume button and `select --background` all
queue through here, so none of them forgets the baseline.

Starting a worker is left to the caller: the app honours its test switch (pages._common.start_worker), the CLI
calls `jobs.ensure_worker`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation.errors import CurationError
from curation.methods.budgets import Budget
from curation.services import jobs
from curation.workspace import runs
from curation.workspace.db import Workspace

RUN_JOB_KINDS = ("select", "timeline")  # a run's jobs; the Select page's job panel follows these
RESUMABLE = ("failed", "cancelled", "interrupted")  # interrupted: "running" but its process is gone


@dataclass(frozen=True)
class QueuedRun:
    run_id: int
    select_job: int
    timeline_job: int


def queue_run(ws: Workspace, method: str, *, budget: str | int | Budget, config: Any = None, seed: int = 0,
              models: dict[str, str] | None = None, name: str = "") -> QueuedRun:
    """Create a run (curation.methods.runner.start_run: checks the method, config and budget) and queue it."""
    from curation.methods import runner

    run_id = runner.start_run(ws, method, budget=budget, config=config, seed=seed, models=models, name=name)
    return _queue(ws, run_id)


def queue_resume(ws: Workspace, run_id: int, *, backend: dict[str, str] | None = None) -> QueuedRun:
    """Queue an unfinished run again: it continues after its last saved iteration, then its baseline updates.
    `backend` (BackendConfig.to_models() keys) overrides the run's stored backend for this execution only."""
    run = runs.get(ws, run_id)
    if run.status == "done":
        raise CurationError(f"run {run_id} is already done")
    if run.owner:  # a live process runs it: a second runner would fight it over the iterations
        raise CurationError(f"run {run_id} is being run by {run.owner}; wait, or cancel it")
    return _queue(ws, run_id, backend)


def can_resume(ws: Workspace, run: runs.Run) -> bool:
    """Whether to offer "Resume": it stopped (failed, cancelled, or its process died) and no job will take it up."""
    if run.status not in RESUMABLE or run.owner:
        return False
    queued = [j for j in jobs.list_jobs(ws, limit=200, active_only=True)
              if j.kind == "select" and j.params.get("run_id") == run.run_id]
    # an interrupted run's "running" job died with its worker; a queued one will resume it by itself
    return not [j for j in queued if j.status == "queued" or run.status != "interrupted"]


def queue_baseline(ws: Workspace, run_id: int) -> int:
    """Queue only the run's random Vendi baseline (for iterations saved before it was computed)."""
    return jobs.submit(ws, "timeline", {"run_id": run_id})


def _queue(ws: Workspace, run_id: int, backend: dict[str, str] | None = None) -> QueuedRun:
    select = jobs.submit(ws, "select", {"run_id": run_id, **({"backend": backend} if backend else {})})
    timeline = queue_baseline(ws, run_id)  # one worker, oldest first: it runs after the run
    return QueuedRun(run_id=run_id, select_job=select, timeline_job=timeline)


def active_kinds(ws: Workspace, run_id: int) -> set[str]:
    """Kinds of this run's jobs ("select", "timeline") that are queued or running now."""
    return {j.kind for j in jobs.list_jobs(ws, limit=200, active_only=True)
            if j.kind in RUN_JOB_KINDS and j.params.get("run_id") == run_id}
