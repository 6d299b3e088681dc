"""The hostile corpus (tests/data/hostile/, plus a long line and a symlink loop made here), imported into a
workspace that already holds data, through the CLI and through the preview.

The rule checked for every file: the command exits 0 (the import completed, every bad row skipped and
reported by kind) or 2 (one line "error: ..." naming the file), never a traceback. The workspace's samples,
occurrences, decisions, runs and iterations are unchanged either way. The imports log gains exactly one row
when the command exits 0 (an import that merged nothing: rows_imported and new_samples 0, the skipped rows
counted by kind), and no row when it exits 2.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from curation.errors import InputError
from curation.formats import preview
from curation.workspace import decisions, runs, samples
from tests.shared_data import ROOT

CORPUS = ROOT / "tests" / "data" / "hostile"
TABLES = ("samples", "occurrences", "decisions", "runs", "iterations")

# file -> (exit code, problem kinds the import reports and the preview lists, what the one-line error says)
CASES: dict[str, tuple[int, set[str], str]] = {
    "malformed.jsonl": (2, {"malformed_json"}, "no readable rows; first problem: malformed_json"),
    "bad_fields.jsonl": (0, {"missing_field", "wrong_type"}, ""),
    "bad_turns.jsonl": (0, {"wrong_type", "bad_turns", "tool_turns", "missing_field"}, ""),
    "empty_responses.jsonl": (0, {"empty_response", "empty_prompt"}, ""),
    "invalid_utf8.jsonl": (2, {"invalid_utf8"}, "no readable rows; first problem: invalid_utf8"),
    "bom.jsonl": (0, {"empty_response"}, ""),
    "utf16_bom.jsonl": (2, set(), "is UTF-16 text"),
    "utf16_no_bom.jsonl": (2, set(), "UTF-16?"),
    "huge_integer.jsonl": (0, {"empty_response", "number_too_long"}, ""),
    "deep_nesting.jsonl": (0, {"empty_response", "too_deep"}, ""),
    "deep_nesting.json": (0, {"empty_response", "too_deep"}, ""),
    "duplicate_header.csv": (2, set(), "the header names 'output' twice"),
    "nul_bytes.jsonl": (0, {"empty_response", "malformed_json"}, ""),
    "cut_array.json": (0, {"empty_response", "malformed_json"}, ""),
    "wrong_schema.jsonl": (2, set(), "no known schema fits"),
    "not_objects.jsonl": (2, {"not_an_object"}, "no readable rows; first problem: not_an_object"),
    "empty.jsonl": (2, set(), "no rows found"),
    "binary.jsonl": (2, {"invalid_utf8"}, "no readable rows; first problem: invalid_utf8"),
    "single_object.json": (2, set(), "single JSON object"),
    "long_line.jsonl": (0, {"empty_response", "line_too_long"}, ""),  # made here: 3 MB over a 1 MiB cap
    "loop.jsonl": (2, set(), "symlink loop"),  # made here
}
LONG_LINE_CAP_MIB = 1


def test_the_corpus_is_complete():
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    assert on_disk == set(CASES) - {"long_line.jsonl", "loop.jsonl"}


def _source(name: str, tmp_path: Path) -> Path:
    if name == "long_line.jsonl":
        path = tmp_path / name
        with open(path, "wb") as f:
            f.write(json.dumps({"instruction": "Say nothing.", "output": " "}).encode() + b"\n")
            f.write(b'{"instruction": "long", "output": "' + b"y" * (3 << 20) + b'"}\n')
        return path
    if name == "loop.jsonl":
        path = tmp_path / name
        path.symlink_to(path)
        return path
    return CORPUS / name


def _table_digests(ws) -> dict[str, str]:
    out = {}
    for table in (*TABLES, "imports"):
        rows = sorted(repr(tuple(r)) for r in ws.query(f"SELECT * FROM {table}"))
        out[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


@pytest.fixture
def held(dolly_workspace):
    """A workspace already holding 20 Dolly rows, a decision and a run."""
    ws = dolly_workspace(20)
    ids = samples.ids(ws)
    decisions.record(ws, ids[:2], "reject", reason="noise")
    run_id = runs.create(ws, name="r", method="random", config={}, budget={"kind": "samples", "value": 3},
                         seed=0, models={}, pool_hash=samples.pool_hash(ws))
    runs.add_iteration(ws, run_id, 0, ids[2:5])
    return ws


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_import_of_a_hostile_file(held, tmp_path, name):
    code, kinds, error = CASES[name]
    source = _source(name, tmp_path)
    before = _table_digests(held)
    imports_before = held.query("SELECT COUNT(*) FROM imports")[0][0]
    cmd = [sys.executable, "-m", "curation", "import", str(source), "-w", str(held.root), "--json",
           "--max-line-mib", str(LONG_LINE_CAP_MIB)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    after = _table_digests(held)
    assert {t: after[t] for t in TABLES} == {t: before[t] for t in TABLES}
    if code == 2:
        lines = out.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and error in lines[-1] and source.name in lines[-1]
        assert after["imports"] == before["imports"]
        return
    report = json.loads(out.stdout)
    assert (report["rows_imported"], report["new_samples"]) == (0, 0)
    assert set(report["problem_counts"]) == kinds and report["skipped"] == report["rows_read"]
    assert all(p["source"].endswith(source.name) and p["line"] >= 1 for p in report["problems"])
    imports = held.query("SELECT rows_imported, new_samples, skipped FROM imports ORDER BY import_id")
    assert len(imports) == imports_before + 1 and tuple(imports[-1]) == (0, 0, report["skipped"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_preview_of_a_hostile_file(tmp_path, name):
    code, kinds, error = CASES[name]
    source = _source(name, tmp_path)
    try:
        pv = preview.preview(source, max_line_bytes=LONG_LINE_CAP_MIB << 20)
    except InputError as exc:
        assert code == 2 and error in str(exc) and "\n" not in str(exc) and source.name in str(exc)
        return
    assert {p["kind"] for p in pv.problems} == kinds
    assert all(p["line"] >= 1 and p["message"] for p in pv.problems)
    assert pv.converted == []  # nothing in the corpus is importable
    if not kinds:
        assert pv.detect_error


@pytest.mark.parametrize("name", sorted(set(CASES) - {"long_line.jsonl"}))  # the app's job reads with the default cap
def test_the_apps_import_job_on_a_hostile_file(held, tmp_path, name):
    from curation.services import jobs

    code, kinds, error = CASES[name]
    source = _source(name, tmp_path)
    before = _table_digests(held)
    job_id = jobs.submit(held, "import", {"source": str(source), "schema": None, "strict": False, "split": "train"})
    jobs.run_pending(held)
    job = jobs.get(held, job_id)
    after = _table_digests(held)
    assert {t: after[t] for t in TABLES} == {t: before[t] for t in TABLES}
    if code == 2:
        assert job.status == "failed" and error in job.error and "\n" not in job.error
        assert after["imports"] == before["imports"]
    else:
        assert job.status == "done", job.error
        (imp,) = [i for i in held.query("SELECT * FROM imports") if i["import_id"] == job.result["import_id"]]
        assert set(json.loads(imp["problems"])["counts"]) == kinds and imp["rows_imported"] == 0
