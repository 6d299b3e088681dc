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


# -- opening a workspace: read-only commands never create one, broken ones are one line --------------------
def _main(capsys, *argv):
    from curation.cli import main

    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("command", [["info"], ["export", "x.jsonl"], ["runs"], ["jobs"], ["undo"]])
def test_read_only_commands_do_not_create_a_workspace(tmp_path, capsys, command):
    typo = tmp_path / "typo"
    rc, _, err = _main(capsys, "-w", str(typo), *command)
    assert rc == 2 and not typo.exists()
    assert err.strip() == f"error: no workspace at {typo}"
    empty = tmp_path / "empty"  # a folder that is not a workspace: no curation.sqlite appears in it
    empty.mkdir()
    rc, _, err = _main(capsys, "-w", str(empty), *command)
    assert rc == 2 and list(empty.iterdir()) == []
    assert err.strip() == f"error: no workspace at {empty}"


def test_methods_needs_no_workspace(tmp_path, capsys):
    rc, out, _ = _main(capsys, "-w", str(tmp_path / "typo"), "methods")
    assert rc == 0 and "kcenter" in out and not (tmp_path / "typo").exists()


def test_workspace_that_is_a_file_or_corrupt_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello", encoding="utf-8")
    for command in (["info"], ["import", str(a_file)]):
        rc, _, err = _main(capsys, "-w", str(a_file), *command)
        assert rc == 2 and err.count("\n") == 1 and err.startswith("error: ")
        assert f"{a_file} is a file, not a workspace folder" in err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "curation.sqlite").write_bytes(b"\x00garbage, not sqlite\xff" * 200)
    for command in (["info"], ["import", str(a_file)], ["decide", "approve", "x"]):
        rc, _, err = _main(capsys, "-w", str(corrupt), *command)
        assert rc == 2 and err.count("\n") == 1 and err.startswith("error: ")
        assert f"{corrupt / 'curation.sqlite'} is not a curation workspace database" in err


def test_export_of_a_missing_run_says_so(dolly_workspace, tmp_path, capsys):
    ws = dolly_workspace(5)
    rc, _, err = _main(capsys, "-w", str(ws.root), "export", str(tmp_path / "o.jsonl"), "--run", "99")
    assert rc == 2 and err.strip() == "error: no run 99"


def test_runs_lists_an_interrupted_run_with_its_resume_command(dolly_workspace, capsys):
    import socket

    from curation.methods import runner
    from curation.workspace import run_lease

    ws = dolly_workspace(20)
    run_id = runner.start_run(ws, "random", budget=5, models={"engine": "fake"})
    gone = subprocess.Popen(["true"])
    gone.wait()
    run_lease.acquire(ws, run_id, owner=run_lease.Owner(pid=gone.pid, host=socket.gethostname()))
    rc, out, _ = _main(capsys, "-w", str(ws.root), "runs")
    line = next(ln for ln in out.splitlines() if ln.split()[:1] == [str(run_id)])
    assert rc == 0 and "interrupted" in line
    assert f"resume it with: python -m curation select --resume {run_id}" in out
    rc, out, _ = _main(capsys, "-w", str(ws.root), "runs", "--run", str(run_id))
    assert rc == 0 and f"select --resume {run_id}" in out


def test_cli_undo_takes_back_its_own_decision_not_the_apps_later_one(dolly_workspace, capsys):
    import getpass

    from curation.workspace import decisions, samples

    ws = dolly_workspace(6)
    ids = samples.ids(ws)
    me = f"cli:{getpass.getuser()}"
    assert _main(capsys, "-w", str(ws.root), "decide", "reject", ids[0], ids[1])[0] == 0
    decisions.record(ws, [ids[2]], "approve", actor="app:tab1")  # the app, afterwards
    assert [e.actor for e in decisions.events(ws)] == [me, me, "app:tab1"]
    rc, out, _ = _main(capsys, "-w", str(ws.root), "undo")
    assert rc == 0 and out.strip().startswith(f"undid reject of 2 sample(s) by {me}")
    assert [decisions.state(ws, s).status for s in ids[:3]] == ["pending", "pending", "approved"]
    assert _main(capsys, "-w", str(ws.root), "undo")[1].strip() == f"nothing of {me}'s to undo (--actor any: anyone's)"
    rc, out, _ = _main(capsys, "-w", str(ws.root), "undo", "--actor", "any")
    assert rc == 0 and "undid approve of 1 sample(s) by app:tab1" in out
    assert decisions.events(ws)[-1].actor == me  # the undo names who undid
    decisions.record(ws, [ids[3]], "pin", actor="app:tab7")
    assert "undid pin of 1 sample(s) by app:tab7" in _main(capsys, "-w", str(ws.root), "undo", "--actor", "app:tab7")[1]


# -- export safety: no silent overwrite, suffix warnings, one-line errors ---------------------------------------
def test_export_refuses_to_overwrite_unless_asked_and_warns_on_a_contradicting_suffix(tmp_path):
    ws = tmp_path / "ws"
    cli("import", str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 5)), ws=ws)
    out = tmp_path / "o.jsonl"
    assert cli("export", str(out), ws=ws).returncode == 0
    first = out.read_bytes()
    again = cli("export", str(out), "--format", "alpaca", ws=ws)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert again.stderr.strip() == f"error: {out} already exists: choose another name, or replace it (--overwrite)"
    assert out.read_bytes() == first
    replaced = cli("export", str(out), "--format", "alpaca", "--overwrite", ws=ws)
    assert replaced.returncode == 0 and out.read_bytes() != first
    mismatch = cli("export", str(tmp_path / "o.parquet"), "--format", "alpaca", ws=ws)
    assert mismatch.returncode == 0
    assert mismatch.stderr.startswith("warning: o.parquet: the suffix '.parquet' does not match the format 'alpaca'")
    for target in (tmp_path, tmp_path / "o.jsonl" / "inside.jsonl"):  # a folder; a path below a file
        bad = cli("export", str(target), "--overwrite", ws=ws)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith("error: cannot write")
