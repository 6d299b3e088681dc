"""Export never clobbers, keeps file modes, writes strict JSON, and publishes data + manifest as a checkable pair."""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.errors import CurationError
from curation.formats import exporter, importer
from curation.formats.exporter import ExportSpec
from curation.workspace import runs, samples
from tests.shared_data import ROOT


def _strict_loads(text: str):
    def refuse(name: str):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# -- overwriting, modes, suffixes -----------------------------------------------------------------------------
def test_an_existing_file_is_not_overwritten_unless_asked(dolly_workspace, tmp_path):
    ws = dolly_workspace(5)
    out = tmp_path / "x.jsonl"
    out.write_text("precious\n")
    with pytest.raises(CurationError, match="already exists") as info:
        exporter.export(ws, out, ExportSpec())
    assert str(out) in str(info.value) and "\n" not in str(info.value)
    assert out.read_text() == "precious\n"
    exporter.export(ws, out, ExportSpec(), overwrite=True)
    assert len(out.read_text().splitlines()) == 5


def test_a_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_mode(dolly_workspace, tmp_path):
    ws = dolly_workspace(5)
    old = os.umask(0o022)
    try:
        fresh = exporter.export(ws, tmp_path / "new.jsonl", ExportSpec())
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.path.stat().st_mode) == 0o644
    assert stat.S_IMODE(fresh.manifest_path.stat().st_mode) == 0o644
    kept = tmp_path / "kept.jsonl"
    kept.write_text("old\n")
    kept.chmod(0o640)
    exporter.export(ws, kept, ExportSpec(), overwrite=True)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


@pytest.mark.parametrize("name,fmt,warned", [("a.parquet", "alpaca", True), ("a.jsonl", "parquet", True),
                                             ("a.csv", "messages", True), ("a.jsonl", "alpaca", False),
                                             ("a.parquet", "parquet", False)])
def test_a_suffix_that_contradicts_the_format_is_warned_about(dolly_workspace, tmp_path, name, fmt, warned):
    result = exporter.export(dolly_workspace(5), tmp_path / name, ExportSpec(fmt=fmt))
    assert bool(result.warnings) == warned
    if warned:
        assert name.split(".")[1] in result.warnings[0] and fmt in result.warnings[0]


def test_exporting_to_a_folder_or_an_unwritable_path_is_one_clear_error(dolly_workspace, tmp_path):
    ws = dolly_workspace(5)
    with pytest.raises(CurationError, match="is a folder"):
        exporter.export(ws, tmp_path, ExportSpec())
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    with pytest.raises(CurationError, match="is a file, not a folder"):
        exporter.export(ws, a_file / "out.jsonl", ExportSpec())
    with pytest.raises(CurationError, match="cannot write /proc/forbidden/out.jsonl: "):
        exporter.export(ws, "/proc/forbidden/out.jsonl", ExportSpec())
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # root can write anywhere: then this part proves nothing
            with pytest.raises(CurationError, match="cannot write .*Permission denied"):
                exporter.export(ws, locked / "out.jsonl", ExportSpec())
    finally:
        locked.chmod(0o700)


# -- strict JSON -----------------------------------------------------------------------------------------------
def test_nan_and_infinity_are_written_as_null(ws, tmp_path):
    src = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"instruction": ["a", "b"], "output": ["x", "y"],
                             "score": [float("nan"), 1.5], "w": [float("inf"), -float("inf")]}), src)
    importer.import_source(ws, src)
    ids = samples.ids(ws)
    run_id = runs.create(ws, name="r", method="random", config={}, budget={"kind": "samples", "value": 2},
                         seed=0, models={}, pool_hash=samples.pool_hash(ws))
    runs.add_iteration(ws, run_id, 0, ids, metrics={"vendi": float("nan")},
                       scores=pd.DataFrame({"sample_id": ids, "distance": [float("inf"), 0.5]}))
    result = exporter.export(ws, tmp_path / "out.jsonl",
                             ExportSpec(fmt="alpaca", run_id=run_id, provenance=True))
    rows = [_strict_loads(line) for line in result.path.read_text().splitlines()]
    assert [r["score"] for r in rows] == [None, 1.5] and [r["w"] for r in rows] == [None, None]
    assert [r["_curation"]["distance"] for r in rows] == [None, 0.5]
    manifest = _strict_loads(result.manifest_path.read_text())
    assert manifest["run"]["metrics"] == {"vendi": None}
    table = pq.read_table(exporter.export(ws, tmp_path / "out.parquet", ExportSpec(
        fmt="parquet", parquet_schema="alpaca", run_id=run_id, provenance=True)).path)
    provenance = [_strict_loads(v) for v in table.column("_curation").to_pylist()]  # JSON text columns too
    assert provenance[0]["distance"] is None
    assert math.isnan(table.column("score").to_pylist()[0])  # a float column keeps Parquet's own NaN


# -- the data + manifest pair ------------------------------------------------------------------------------------
def test_verify_names_what_is_stale(dolly_workspace, tmp_path):
    ws = dolly_workspace(5)
    result = exporter.export(ws, tmp_path / "x.jsonl", ExportSpec())
    assert exporter.verify(result.path).ok
    result.path.write_text(result.path.read_text() + "\n")
    checked = exporter.verify(result.path)
    assert not checked.ok and checked.stale == "data"
    result.manifest_path.unlink()
    assert exporter.verify(result.path).stale == "manifest"


_CHILD = r"""
import sys, time
from curation.formats import exporter
from curation.workspace import Workspace
ws = Workspace(sys.argv[1], create=False)
def step(name):
    print(name, flush=True)
    time.sleep(float(sys.argv[4]))
exporter._step = step
exporter.export(ws, sys.argv[2], exporter.ExportSpec(decisions=sys.argv[3]), overwrite=True)
print("done", flush=True)
"""


def _export_in_child(ws, out, decisions, delay, kill_after_line=None, kill_after_s=None):
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(ws.root), str(out), decisions, str(delay)],
                            cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    seen = []
    if kill_after_s is not None:
        time.sleep(kill_after_s)
    else:
        while len(seen) < (kill_after_line or 10**6):
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.strip())
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    return seen


def test_a_kill_at_any_point_leaves_the_old_pair_or_the_new_pair(dolly_workspace, tmp_path):
    """kill -9 between every step of the export, and at random times: verify passes after every kill, and
    the data is entirely the old export's or entirely the new one's."""
    import random

    ws = dolly_workspace(30)
    out = tmp_path / "pair.jsonl"
    from curation.workspace import decisions

    decisions.record(ws, samples.ids(ws)[:4], "approve")
    exporter.export(ws, out, ExportSpec(decisions="approved"))  # the old pair: 4 rows
    old, new = out.read_bytes(), None
    steps = _export_in_child(ws, out, "any", 0.0)  # a full run: the step names, then "done"
    assert steps[-1] == "done" and len(steps) >= 4
    new = out.read_bytes()
    assert len(new.splitlines()) == 30
    exporter.export(ws, out, ExportSpec(decisions="approved"), overwrite=True)
    rng = random.Random(0)
    kills = [("line", n) for n in range(1, len(steps))] + [("time", rng.uniform(0.3, 2.5)) for _ in range(6)]
    for how, at in kills:
        if how == "line":
            _export_in_child(ws, out, "any", 0.5, kill_after_line=int(at))
        else:
            _export_in_child(ws, out, "any", 0.05, kill_after_s=at)
        checked = exporter.verify(out)
        assert checked.ok, (how, at, checked)
        assert out.read_bytes() in (old, new), (how, at)
        exporter.export(ws, out, ExportSpec(decisions="approved"), overwrite=True)  # back to the old pair
        assert out.read_bytes() == old and exporter.verify(out).ok
