"""`select --background` queues what the Select page queues: the run, then its random-baseline timeline job."""

from __future__ import annotations

from curation.cli import main
from curation.services import jobs
from curation.workspace import Workspace, runs
from tests.shared_data import DOLLY, write_jsonl_head


def test_background_queues_the_run_and_its_baseline(tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "ensure_worker", lambda ws: started.append(ws.root) or False)  # no real worker
    w = str(tmp_path / "ws")
    assert main(["-w", w, "import", str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 60))]) == 0
    assert main(["-w", w, "select", "--method", "kcenter", "--budget", "10", "--engine", "fake",
                 "--background"]) == 0
    out = capsys.readouterr().out
    ws = Workspace(w)
    (run,) = runs.list_runs(ws)
    assert run.status == "created" and runs.iterations(ws, run.run_id) == []  # queued, not run
    queued = [(j.kind, j.params, j.status) for j in reversed(jobs.list_jobs(ws))]
    assert queued == [("select", {"run_id": run.run_id}, "queued"), ("timeline", {"run_id": run.run_id}, "queued")]
    assert len(started) == 1 and "random baseline" in out

    jobs.run_pending(ws)
    assert runs.get(ws, run.run_id).status == "done" and len(runs.iteration(ws, run.run_id).selected) == 10

    # resuming a cancelled run in the background queues both again
    runs.set_status(ws, run.run_id, "cancelled")
    assert main(["-w", w, "select", "--resume", str(run.run_id), "--background"]) == 0
    kinds = [(j.kind, j.params) for j in jobs.list_jobs(ws, active_only=True)][::-1]
    assert kinds == [("select", {"run_id": run.run_id}), ("timeline", {"run_id": run.run_id})]
    ws.close()


def test_background_resume_keeps_the_commands_backend_override(tmp_path, monkeypatch):
    """`select --resume RUN --background --ray off`: the job, not only a foreground resume, runs in-process."""
    from curation.methods import runner

    monkeypatch.setattr(jobs, "ensure_worker", lambda ws: False)
    w = str(tmp_path / "ws")
    assert main(["-w", w, "import", str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 40))]) == 0
    ws = Workspace(w)
    run_id = runner.start_run(ws, "random", budget=5, models={"engine": "fake", "backend": "ray"})
    runs.set_status(ws, run_id, "cancelled")
    assert main(["-w", w, "select", "--resume", str(run_id), "--background", "--ray", "off"]) == 0
    (select_job,) = [j for j in jobs.list_jobs(ws, active_only=True) if j.kind == "select"]
    assert select_job.params["backend"]["backend"] == "in_process"
    seen = []
    real = runner.make_engine
    monkeypatch.setattr("curation.methods.engines.base.make_engine",
                        lambda w_, records, models: seen.append(models) or real(w_, records, models))
    jobs.run_pending(ws)  # with the run's stored "ray" backend and no cluster this would fail
    assert runs.get(ws, run_id).status == "done" and seen and seen[0]["backend"] == "in_process"
    ws.close()
