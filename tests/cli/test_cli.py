"""The command line as a user runs it: real data, one-line errors, --help everywhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from curation.cli import build_parser
from tests.shared_data import DOLLY, write_jsonl_head
from tests.shared_data import ROOT as REPO_ROOT

ROOT = str(REPO_ROOT)


def cli(*args, ws=None):
    cmd = [sys.executable, "-m", "curation"] + (["--workspace", str(ws)] if ws else []) + list(args)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_import_info_export(tmp_path):
    ws = tmp_path / "ws"
    out = cli("import", str(DOLLY), ws=ws)
    assert out.returncode == 0, out.stderr
    assert "14989 rows read" in out.stdout and "exact duplicates collapsed" in out.stdout
    info = cli("info", ws=ws)
    assert info.returncode == 0
    assert "dolly-15k.jsonl" in info.stdout and "response chars: mean" in info.stdout
    exp = cli("export", str(tmp_path / "o.jsonl"), "--format", "sharegpt", ws=ws)
    assert exp.returncode == 0 and "wrote" in exp.stdout
    assert (tmp_path / "o.jsonl.manifest.json").exists()


def test_errors_are_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{oops\n', encoding="utf-8")
    out = cli("import", "--strict", str(bad), ws=tmp_path / "ws")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: ") and "bad.jsonl:2" in out.stderr
    missing = cli("export", "x.jsonl", ws=tmp_path / "nowhere")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_decide_and_undo(tmp_path):
    ws = tmp_path / "ws"
    cli("import", str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 5)), ws=ws)
    from curation.workspace import Workspace, decisions, samples

    sid = samples.ids(Workspace(ws))[0]
    assert cli("decide", "reject", sid, "--reason", "noise", ws=ws).returncode == 0
    assert decisions.state(Workspace(ws), sid).status == "rejected"
    assert "undid" in cli("undo", ws=ws).stdout
    assert decisions.state(Workspace(ws), sid).status == "pending"


def test_help_on_every_command():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"import", "info", "export"} <= set(sub.choices)
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([name, "--help"])
        assert exc.value.code == 0
