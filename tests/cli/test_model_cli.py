"""`python -m curation score` and `train` against a tiny model and a real Dolly workspace."""

from __future__ import annotations

from curation.cli import main
from curation.formats.importer import import_source
from curation.workspace import Workspace, samples
from tests.shared_data import DOLLY, write_jsonl_head


def test_score_then_train_then_score_the_checkpoint(tmp_path, tiny_models, capsys):
    root = tmp_path / "ws"
    ws = Workspace(root)
    import_source(ws, write_jsonl_head(DOLLY, tmp_path / "dolly.jsonl", 12))
    model = str(tiny_models["chat"])
    assert main(["-w", str(root), "score", "--model", model, "--max-length", "128", "--pooling", "mean"]) == 0
    out = capsys.readouterr().out
    assert "scored" in out and "unscorable" in out  # long Dolly contexts do not fit in 128 tokens
    assert ws.scalar("SELECT COUNT(*) FROM sample_scores") == 12

    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(samples.ids(ws)[:6]) + "\n")
    assert main(["-w", str(root), "train", "--model", model, "--ids-file", str(ids_file), "--save", "r1",
                 "--max-length", "128", "--batch-size", "2", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "saved checkpoint r1" in out and "steps" in out
    assert main(["-w", str(root), "score", "--checkpoint", "r1", "--limit", "4", "--max-length", "128"]) == 0
    assert ws.scalar("SELECT COUNT(*) FROM sample_scores WHERE model_key LIKE '%::r1@%'") == 4


def test_user_errors_are_one_line(tmp_path, tiny_models, capsys):
    root = tmp_path / "ws"
    Workspace(root)
    assert main(["-w", str(root), "score", "--model", str(tiny_models["chat"])]) == 2
    assert "no samples" in capsys.readouterr().err
    ws = Workspace(root)
    import_source(ws, write_jsonl_head(DOLLY, tmp_path / "dolly.jsonl", 3))
    bad = tmp_path / "ids.txt"
    bad.write_text("nope\n")
    assert main(["-w", str(root), "score", "--model", str(tiny_models["chat"]), "--ids-file", str(bad)]) == 2
    assert f"{bad}:1: no sample with id nope" in capsys.readouterr().err
    assert main(["-w", str(root), "score", "--checkpoint", "missing"]) == 2
    assert "no checkpoint 'missing'" in capsys.readouterr().err
    assert main(["-w", str(root), "score", "--model", str(tmp_path / "no-such-model")]) == 2
    assert "cannot load model" in capsys.readouterr().err


def test_score_reports_its_own_wall_time(tmp_path, tiny_models, capsys):
    """The summary's seconds are this command's (the store's result used to say "in 0.0 s")."""
    import json

    root = tmp_path / "ws"
    import_source(Workspace(root), write_jsonl_head(DOLLY, tmp_path / "dolly.jsonl", 4))
    assert main(["-w", str(root), "score", "--model", str(tiny_models["chat"]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seconds"] > 0 and f"in {report['seconds']:.1f} s" in report["summary"]
