"""CLI conventions users expect: global options before or after the command, a progress bar with rate and ETA,
and `curation app` starting the app bound to loopback on the chosen workspace."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from curation.cli import ProgressPrinter, build_parser, main
from tests.shared_data import DOLLY, ROOT, write_jsonl_head


@pytest.mark.parametrize("argv", [["-w", "{ws}", "info"], ["info", "-w", "{ws}"], ["--workspace", "{ws}", "info"],
                                  ["info", "--workspace", "{ws}"], ["info", "--workspace={ws}"]])
def test_workspace_option_before_or_after_the_command(tmp_path, argv):
    ws = str(tmp_path / "ws")
    args = build_parser().parse_args([a.format(ws=ws) for a in argv])
    assert args.workspace == ws


def test_the_default_workspace_holds_when_the_option_is_absent(monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", "/somewhere/else")
    assert build_parser().parse_args(["info"]).workspace == "/somewhere/else"


def test_import_with_the_workspace_after_the_command_writes_there(tmp_path, capsys):
    src = write_jsonl_head(DOLLY, tmp_path / "dolly.jsonl", 12)
    assert main(["import", str(src), "--workspace", str(tmp_path / "after")]) == 0
    assert main(["info", "-w", str(tmp_path / "after")]) == 0
    assert "samples: 12 distinct" in capsys.readouterr().out


def test_progress_bar_shows_counts_rate_and_eta():
    stream = io.StringIO()
    bar = ProgressPrinter("scoring", stream=stream, unit="sample")
    for done in range(0, 11):
        bar(done, 10, "batch")
    text = stream.getvalue()
    assert "scoring" in text and "10/10" in text and "sample/s" in text
    assert "<" in text  # tqdm's "elapsed<remaining"


def test_app_command_binds_loopback_and_passes_the_workspace(tmp_path):
    from curation.cli import app

    args = build_parser().parse_args(["app", "-w", str(tmp_path / "ws"), "--port", "8600"])
    cmd = app.streamlit_command(args)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert app.APP_SCRIPT == ROOT / "app.py" and app.APP_SCRIPT.exists()


def test_app_command_is_listed_in_help():
    done = subprocess.run([sys.executable, "-m", "curation", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "app " in done.stdout


@pytest.mark.parametrize("spelling", ["DiverseEvol", "learning-percentage", "lp", "K-Center"])
def test_select_estimate_takes_the_papers_spellings(dolly_workspace, capsys, spelling):
    ws = dolly_workspace(40)
    assert main(["select", "--method", spelling, "--budget", "10", "--estimate", "-w", str(ws.root)]) == 0
    assert "estimated time" in capsys.readouterr().out


def test_select_refuses_a_misspelt_method_in_one_line(dolly_workspace, capsys):
    ws = dolly_workspace(40)
    assert main(["select", "--method", "diversevol", "--budget", "10", "-w", str(ws.root)]) == 2
    assert "unknown method 'diversevol'" in capsys.readouterr().err
