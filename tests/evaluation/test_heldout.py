"""The held-out split: carved as undoable rejections before any run, never selected; held-out files read strictly."""

from __future__ import annotations

import pytest

from curation.errors import CurationError, InputError
from curation.evaluation import carve, heldout_ids
from curation.evaluation.heldout import read_records
from curation.methods import runner
from curation.workspace import decisions


def test_a_carved_split_is_rejected_kept_out_of_runs_and_undoable(dolly_workspace):
    ws = dolly_workspace(40)
    ids = carve(ws, percent=25, seed=3)
    assert len(ids) == 10 and heldout_ids(ws) == ids
    assert all(decisions.state(ws, s).status == "rejected" for s in ids)
    assert {decisions.state(ws, s).reason for s in ids} == {"held out for evaluation"}
    with pytest.raises(CurationError, match="held out already"):
        carve(ws, rows=2)
    run_id = runner.start_run(ws, "random", budget=30, models={"engine": "fake"})  # every sample not held out
    runner.run_selection(ws, run_id)
    assert not set(runner.selection(ws, run_id)) & set(ids)
    assert sorted(decisions.undo_last(ws, origin="heldout")) == sorted(ids)
    assert heldout_ids(ws) == []
    with pytest.raises(CurationError, match="runs exist already"):
        carve(ws, rows=5)
    assert len(carve(ws, rows=5, force=True)) == 5


def test_a_held_out_file_is_read_whole_or_refused_with_its_line(tmp_path):
    good = tmp_path / "eval.jsonl"
    good.write_text('{"instruction": "Say hi", "output": "hi"}\n{"instruction": "Add 1+1", "output": "2"}\n')
    assert [r.response for r in read_records(good)] == ["hi", "2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "Say hi", "output": "hi"}\n{"instruction": \n')
    with pytest.raises(InputError, match="bad.jsonl:2"):
        read_records(bad)
    with pytest.raises(InputError, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
