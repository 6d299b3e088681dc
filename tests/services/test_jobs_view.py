"""How jobs are described (curation.services.jobs_view), for hand-built jobs, and a real queued job."""

from __future__ import annotations

import json
import time

from curation.services import jobs, jobs_view


def job(**changes) -> jobs.Job:
    base = dict(job_id=7, kind="embed", params={}, status="running", done=3, total=4, message="", result={},
                error="", cancel_requested=False, created=time.mktime((2026, 5, 6, 7, 8, 9, 0, 0, -1)),
                started=1000.0, finished=None)
    return jobs.Job(**{**base, **changes})


def test_times_and_durations():
    assert jobs_view.clock(job().created) == "07:08:09" and jobs_view.clock(None) == ""
    assert jobs_view.took(job(started=None)) == ""
    assert jobs_view.took(job(), now=1012.34) == "12.3 s"
    assert jobs_view.took(job(finished=1000.0 + 150), now=5000.0) == "2.5 min"  # finished: its own end


def test_progress_and_the_table():
    assert jobs_view.progress_of(job()) == 0.75
    assert jobs_view.progress_of(job(total=0, status="done")) == 1.0
    assert jobs_view.progress_of(job(total=0, status="failed")) == 0.0
    table = jobs_view.jobs_table([job(), job(job_id=8, status="failed", error="boom", message="m")], now=1001.0)
    assert table.to_dict("records") == [
        {"job": 7, "kind": "embed", "status": "running", "progress": 0.75, "message": "", "queued": "07:08:09",
         "took": "1.0 s"},
        {"job": 8, "kind": "embed", "status": "failed", "progress": 0.75, "message": "boom", "queued": "07:08:09",
         "took": "1.0 s"}]


def test_card_texts_and_the_result():
    assert jobs_view.card_title(job()) == "embed #7"
    assert jobs_view.waiting_text(job(status="queued")) == "waiting for the worker"
    assert jobs_view.waiting_text(job(message="12 of 40")) == "12 of 40"
    assert jobs_view.waiting_text(job()) == ""
    done = job(result={"summary": "long text", "rows": 3, "path": {"a": 1}})
    assert json.loads(jobs_view.result_json(done)) == {"rows": 3, "path": {"a": 1}}


def test_a_queued_job_from_the_queue(ws):
    job_id = jobs.submit(ws, "sleep", {"steps": 2})
    queued = jobs.get(ws, job_id)
    row = jobs_view.jobs_table([queued]).iloc[0]
    assert (row["job"], row["status"], row["progress"], row["took"]) == (job_id, "queued", 0.0, "")
    assert jobs_view.waiting_text(queued) == "waiting for the worker"
