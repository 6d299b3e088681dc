"""`select`, `runs` and `methods` as a user types them (in-process, fake engine, real Dolly rows)."""

from __future__ import annotations

import json

from curation.cli import main
from curation.workspace import Workspace, runs
from tests.shared_data import DOLLY, write_jsonl_head


def test_select_runs_export(tmp_path, capsys):
    w = str(tmp_path / "ws")
    assert main(["-w", w, "import", str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 150))]) == 0
    assert main(["-w", w, "select", "--method", "iterit", "--budget", "10%", "--engine", "fake",
                 "--set", "epochs=2", "--set", "decay=0"]) == 0
    out = capsys.readouterr().out
    assert "run 1 done" in out and "15 samples selected" in out
    ws = Workspace(w)
    run = runs.get(ws, 1)
    assert run.config["epochs"] == 2 and run.config["decay"] == 0.0 and run.budget == {"kind": "percent",
                                                                                         "value": 10.0}
    assert main(["-w", w, "runs"]) == 0
    assert "iterit" in capsys.readouterr().out
    assert main(["-w", w, "runs", "--run", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [it["n_selected"] for it in shown["iterations"]] == [15, 15]
    assert main(["-w", w, "export", str(tmp_path / "out.jsonl"), "--run", "1", "--iteration", "0"]) == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 15
    assert main(["-w", w, "select", "--resume", "1"]) == 0
    assert "already done" in capsys.readouterr().out


def test_user_errors_are_one_line(tmp_path, capsys):
    w = str(tmp_path / "ws")
    main(["-w", w, "import", str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 20))])
    capsys.readouterr()
    assert main(["-w", w, "select", "--method", "random", "--budget", "lots"]) == 2
    assert main(["-w", w, "select", "--method", "random", "--budget", "5", "--set", "x"]) == 2
    assert main(["-w", w, "select", "--method", "longest", "--budget", "5", "--set", "measure=words"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "measure must be one of chars, tokens" in err[2]


def test_methods_lists_every_setting(capsys):
    assert main(["methods", "--method", "learning_pct"]) == 0
    out = capsys.readouterr().out
    assert "budget_mode = 'exact'" in out and "trajectories_file" in out


def test_select_estimate_prices_the_run_without_starting_it(tmp_path, capsys):
    from curation.methods.estimate import mean_tokens
    from curation.model.estimate import estimate_seconds

    w = str(tmp_path / "ws")
    assert main(["-w", w, "import", str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 200))]) == 0
    capsys.readouterr()
    assert main(["-w", w, "select", "--method", "static_ifd", "--budget", "10%", "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "for about 20 of 200 samples" in out and "scoring the pool with the small model (IFD)" in out
    ws = Workspace(w)
    assert runs.list_runs(ws) == []  # nothing started
    # the scoring part equals the model engine's own formula at the pool's mean lengths
    row = ws.query("SELECT AVG(prompt_chars), AVG(response_chars) FROM samples")[0]
    tokens, response = mean_tokens(row[0], row[1], 512)
    expected = estimate_seconds(200, tokens, task="score", ifd=True, mean_response_tokens=response, device="cpu")
    assert f"(IFD): {round(expected)} s" in out
