"""What the Select page's run views show: the timeline's table, the comparison table, the run pickers."""

from __future__ import annotations

from curation.services import jobs, run_queue, runs_view
from curation.services.timeline import IterationDiff
from curation.workspace import runs


def _run(run_id: int, status: str = "done") -> runs.Run:
    return runs.Run(run_id=run_id, name=f"r{run_id}", method="kcenter", config={}, budget={}, seed=0, models={},
                    pool_hash="", status=status, error="", created=0.0, finished=None)


def test_run_choices_newest_first_with_default_and_exclusion():
    listed = [_run(1), _run(2), _run(3)]
    assert runs_view.run_choices(listed) == ([3, 2, 1], 0)
    assert runs_view.run_choices(listed, default=1) == ([3, 2, 1], 2)
    assert runs_view.run_choices(listed, default=9, exclude=3) == ([2, 1], 0)
    assert runs_view.run_label(_run(2, "failed")) == "run 2: r2 (kcenter, failed)"


def test_iteration_table_puts_the_random_vendi_beside_the_runs():
    steps = [IterationDiff(0, 10, list("abcdefghij"), [], 0, {"vendi": 4.0, "train_loss": 1.5}),
             IterationDiff(1, 20, list("klmnopqrst"), [], 10, {"vendi": 6.0})]
    baseline = {10: (3.0, 2.5, 3.5)}
    table = runs_view.iteration_table(steps, baseline)
    assert table[["iteration", "selected", "added", "dropped", "kept"]].values.tolist() == [[0, 10, 10, 0, 0],
                                                                                          [1, 20, 10, 0, 10]]
    assert table["vendi (cosine)"].tolist() == [4.0, 6.0] and table["random vendi (cosine)"].tolist()[0] == 3.0
    assert table["random vendi (cosine)"].isna().tolist() == [False, True] and table["train loss"].tolist()[0] == 1.5
    assert runs_view.baseline_missing(steps, baseline) and not runs_view.baseline_missing(steps[:1], baseline)
    assert runs_view.baseline_missing(steps, None)


def test_active_kinds_follow_a_runs_jobs(dolly_workspace):
    ws = dolly_workspace(50)
    queued = run_queue.queue_run(ws, "random", budget=5, models={"engine": "fake"})
    other = run_queue.queue_run(ws, "random", budget=6, models={"engine": "fake"})
    assert run_queue.active_kinds(ws, queued.run_id) == {"select", "timeline"}
    jobs.cancel(ws, queued.select_job)
    assert run_queue.active_kinds(ws, queued.run_id) == {"timeline"}
    jobs.run_pending(ws)
    assert run_queue.active_kinds(ws, queued.run_id) == set() == run_queue.active_kinds(ws, other.run_id)
