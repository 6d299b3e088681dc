"""Queueing a run: its `select` job, then the `timeline` job of its random baseline; resuming queues both again."""

from __future__ import annotations

import pytest

from curation.errors import CurationError
from curation.services import jobs, run_queue, timeline
from curation.workspace import runs


@pytest.fixture
def pool(dolly_workspace):
    return dolly_workspace(120)


def _queued(ws):
    return [(j.kind, j.params) for j in reversed(jobs.list_jobs(ws))]  # oldest first


def test_queue_run_queues_the_run_then_its_baseline(pool):
    queued = run_queue.queue_run(pool, "kcenter", budget="10%", seed=3, models={"engine": "fake"}, name="k")
    run = runs.get(pool, queued.run_id)
    assert (run.method, run.budget, run.seed, run.name, run.status) == (
        "kcenter", {"kind": "percent", "value": 10.0}, 3, "k", "created")
    assert _queued(pool) == [("select", {"run_id": run.run_id}), ("timeline", {"run_id": run.run_id})]
    assert [j.job_id for j in reversed(jobs.list_jobs(pool))] == [queued.select_job, queued.timeline_job]
    jobs.run_pending(pool)
    assert [jobs.get(pool, j).status for j in (queued.select_job, queued.timeline_job)] == ["done", "done"]
    assert len(runs.iteration(pool, run.run_id).selected) == 12
    assert set(timeline.load_baseline(pool, run.run_id)) == {12}  # the baseline of the run's one size


def test_a_bad_request_queues_nothing(pool):
    with pytest.raises(CurationError):
        run_queue.queue_run(pool, "kcenter", budget="lots", models={"engine": "fake"})
    assert jobs.list_jobs(pool) == [] and runs.list_runs(pool) == []


def test_queue_resume(pool):
    queued = run_queue.queue_run(pool, "random", budget=10, models={"engine": "fake"})
    jobs.cancel(pool, queued.select_job)
    jobs.cancel(pool, queued.timeline_job)
    runs.set_status(pool, queued.run_id, "cancelled")
    again = run_queue.queue_resume(pool, queued.run_id)
    assert _queued(pool)[2:] == [("select", {"run_id": queued.run_id}), ("timeline", {"run_id": queued.run_id})]
    jobs.run_pending(pool)
    assert jobs.get(pool, again.timeline_job).status == "done"
    assert runs.get(pool, queued.run_id).status == "done"
    with pytest.raises(CurationError, match="already done"):
        run_queue.queue_resume(pool, queued.run_id)
