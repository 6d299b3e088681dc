"""The job queue: progress, cancellation, failures as messages, a detached worker, recovery after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from curation.services import jobs
from curation.workspace import Workspace
from tests.shared_data import ROOT as REPO_ROOT

ROOT = str(REPO_ROOT)


def wait_for(pred, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_run_in_process_reports_progress_and_result(ws):
    job_id = jobs.submit(ws, "sleep", {"steps": 5, "seconds": 0.01})
    assert jobs.get(ws, job_id).status == "queued"
    assert jobs.run_pending(ws) == 1
    job = jobs.get(ws, job_id)
    assert (job.status, job.done, job.total, job.result) == ("done", 5, 5, {"steps": 5})


def test_failure_is_a_message_not_a_crash(ws):
    job_id = jobs.submit(ws, "import", {"source": "/nonexistent/file.jsonl"})
    jobs.run_pending(ws)
    job = jobs.get(ws, job_id)
    assert job.status == "failed"
    assert "/nonexistent/file.jsonl" in job.error


def test_cancel_queued_job(ws):
    job_id = jobs.submit(ws, "sleep", {"steps": 5})
    jobs.cancel(ws, job_id)
    assert jobs.get(ws, job_id).status == "cancelled"
    assert jobs.run_pending(ws) == 0


def _worker(ws):
    return subprocess.Popen([sys.executable, "-m", "curation", "--workspace", str(ws.root), "worker",
                             "--idle-exit", "20"], cwd=ROOT, start_new_session=True)


def test_detached_worker_runs_one_at_a_time_and_cancels(ws):
    first = jobs.submit(ws, "sleep", {"steps": 400, "seconds": 0.05})
    second = jobs.submit(ws, "sleep", {"steps": 2, "seconds": 0.01})
    proc = _worker(ws)
    try:
        assert wait_for(lambda: jobs.get(ws, first).done >= 3)
        assert jobs.worker_alive(ws)
        assert jobs.get(ws, second).status == "queued"  # one job at a time
        jobs.cancel(ws, first)
        assert wait_for(lambda: jobs.get(ws, first).status == "cancelled")
        assert wait_for(lambda: jobs.get(ws, second).status == "done")
        # a second worker for the same workspace exits at once (the lock is held)
        other = _worker(ws)
        assert other.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_job_of_a_killed_worker_is_resumed_by_the_next(ws):
    job_id = jobs.submit(ws, "sleep", {"steps": 200, "seconds": 0.05})
    proc = _worker(ws)
    assert wait_for(lambda: jobs.get(ws, job_id).done >= 2)
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: no cleanup at all
    proc.wait()
    assert jobs.get(ws, job_id).status == "running"
    with ws.transaction() as conn:  # age the heartbeat instead of sleeping 30 s
        conn.execute("UPDATE jobs SET heartbeat = heartbeat - 60 WHERE job_id = ?", (job_id,))
    with ws.transaction() as conn:
        conn.execute("UPDATE jobs SET params = '{\"steps\": 3, \"seconds\": 0.01}' WHERE job_id = ?", (job_id,))
    assert not jobs.worker_alive(ws)
    assert jobs.ensure_worker(ws) is True
    assert wait_for(lambda: jobs.get(ws, job_id).status == "done")
    jobs.cancel(ws, jobs.submit(ws, "sleep", {"steps": 1}))


def test_workspace_reopens_from_another_process(tmp_path):
    ws = Workspace(tmp_path / "w")
    job_id = jobs.submit(ws, "sleep", {"steps": 1, "seconds": 0})
    out = subprocess.run([sys.executable, "-m", "curation", "--workspace", str(ws.root), "worker", "--once"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert jobs.get(ws, job_id).status == "done"


def test_the_worker_is_started_with_the_project_root_first_on_its_path(ws, monkeypatch):
    """The detached worker must import this checkout's `curation`, and must not see curation/'s subpackages as
    top-level modules (a folder inside the package on PYTHONPATH would shadow any library named `model`)."""
    import subprocess as sp

    started = {}
    monkeypatch.setattr(jobs, "worker_alive", lambda ws: False)
    monkeypatch.setattr(sp, "Popen", lambda cmd, **kw: started.update(cmd=cmd, env=kw["env"]))
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    assert jobs.ensure_worker(ws)
    assert started["env"]["PYTHONPATH"].split(os.pathsep) == [ROOT, "/elsewhere"]
