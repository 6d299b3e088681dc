"""Runs: persisted per iteration, resumable after a kill or a cancel, same selection as an uninterrupted run."""

from __future__ import annotations

import pytest

from curation.errors import Cancelled, CurationError
from curation.formats import importer
from curation.methods import runner
from curation.methods.engines.fake_engine import FakeEngine
from curation.workspace import Workspace, decisions, runs, samples
from tests.shared_data import DOLLY, write_jsonl_head

FAKE = {"engine": "fake"}
CONFIGS = {"diverse_evol": {"rounds": 4, "epochs": 2}, "iterit": {"epochs": 3}}


@pytest.fixture(scope="module")
def ws(dolly_workspace):
    return dolly_workspace(200)


class Crash(Exception):
    """Stands in for the process dying (SIGKILL, power loss) in the middle of an iteration."""


def crashing_engine(after_trains: int):
    """A fake engine that dies inside its n-th training call, i.e. in the middle of an iteration."""
    calls = {"n": 0}

    class Dying(FakeEngine):
        def train(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] > after_trains:
                raise Crash("killed")
            return super().train(*args, **kwargs)

    return lambda ws, records, models: Dying(records, models, root=ws.root)


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_killed_run_resumes_to_the_same_selection(ws, method):
    whole = runner.start_run(ws, method, budget=40, config=CONFIGS[method], seed=7, models=FAKE)
    runner.run_selection(ws, whole)
    expected = [it.selected for it in runs.iterations(ws, whole)]

    broken = runner.start_run(ws, method, budget=40, config=CONFIGS[method], seed=7, models=FAKE)
    with pytest.raises(Crash):
        runner.run_selection(ws, broken, engine_factory=crashing_engine(after_trains=2))
    kept = runs.iterations(ws, broken)
    assert 1 <= len(kept) < len(expected)  # died mid-way, with its finished iterations on disk
    assert runs.get(ws, broken).status == "failed"
    runner.run_selection(ws, broken)  # resume: a fresh process would do exactly this
    assert [it.selected for it in runs.iterations(ws, broken)] == expected
    assert runs.get(ws, broken).status == "done"


def test_cancel_then_resume(ws):
    whole = runner.start_run(ws, "diverse_evol", budget=30, config={"rounds": 3, "epochs": 1}, models=FAKE)
    runner.run_selection(ws, whole)
    run_id = runner.start_run(ws, "diverse_evol", budget=30, config={"rounds": 3, "epochs": 1}, models=FAKE)
    seen = []

    def stop_after_two_iterations() -> bool:
        return len(runs.iterations(ws, run_id)) >= 2

    with pytest.raises(Cancelled):
        runner.run_selection(ws, run_id, should_stop=stop_after_two_iterations,
                             progress=lambda d, t, m: seen.append((d, t)))
    assert runs.get(ws, run_id).status == "cancelled"
    assert len(runs.iterations(ws, run_id)) == 2
    assert all(d <= t for d, t in seen) and seen[-1][0] == 2000
    runner.run_selection(ws, run_id)
    assert runs.iteration(ws, run_id).selected == runs.iteration(ws, whole).selected
    assert runner.run_selection(ws, run_id).status == "done"  # a finished run is a no-op


def test_only_the_newest_checkpoint_is_kept(ws):
    run_id = runner.start_run(ws, "diverse_evol", budget=30, config={"rounds": 3, "epochs": 1,
                                                                     "train_final_round": True}, models=FAKE)
    runner.run_selection(ws, run_id)
    names = [it.checkpoint for it in runs.iterations(ws, run_id)]
    assert names == [runner.checkpoint_name(run_id, i) for i in range(4)]
    on_disk = sorted(p.name for p in (ws.root / "checkpoints").iterdir() if p.name.startswith(f"run{run_id}-"))
    assert on_disk == [names[-1]]


def test_decisions_are_snapshotted_at_start(ws):
    ids = samples.ids(ws)
    run_id = runner.start_run(ws, "random", budget=20, models=FAKE)
    decisions.record(ws, [ids[0]], "reject")  # made after the run started: not this run's constraint
    decisions.record(ws, [ids[1]], "pin")
    try:
        runner.run_selection(ws, run_id)
        later = runner.start_run(ws, "random", budget=20, models=FAKE)
        runner.run_selection(ws, later)
        assert ids[1] in runs.iteration(ws, later).selected and ids[0] not in runs.iteration(ws, later).selected
    finally:
        decisions.record(ws, ids[:2], "clear")
        decisions.record(ws, [ids[1]], "unpin")


def test_pool_change_is_refused(tmp_path):
    w = Workspace(tmp_path / "ws")
    importer.import_source(w, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 50)))
    run_id = runner.start_run(w, "random", budget=10, models=FAKE)
    importer.import_source(w, str(write_jsonl_head(DOLLY, tmp_path / "b.jsonl", 60)))
    with pytest.raises(CurationError, match="pool changed"):
        runner.run_selection(w, run_id)


def test_unknown_setting_and_method_are_user_errors(ws):
    with pytest.raises(CurationError, match="unknown setting 'round'"):
        runner.start_run(ws, "diverse_evol", budget=10, config={"round": 3}, models=FAKE)
    with pytest.raises(CurationError, match="unknown method"):
        runner.start_run(ws, "diversevol", budget=10, models=FAKE)
    with pytest.raises(CurationError, match="pooling must be one of"):
        runner.start_run(ws, "diverse_evol", budget=10, config={"pooling": "max"}, models=FAKE)
