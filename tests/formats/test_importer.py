"""Import into the workspace: real data, idempotence, duplicates, bad input, atomicity."""

from __future__ import annotations

import json
import sqlite3

import pytest

from curation.errors import Cancelled, InputError
from curation.formats import importer
from curation.workspace import decisions, samples
from tests.shared_data import DOLLY, write_jsonl_head


def dump(ws) -> list:
    """Every row of every table: to prove a failed import changed nothing."""
    conn = ws.connect()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    return [(t, conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables if not t.startswith("sqlite_")]


def test_dolly_full_import(ws):
    report = importer.import_source(ws, DOLLY)
    assert report.schema == "alpaca"
    assert report.rows_read == 14_989 and report.skipped == 0
    assert report.rows_imported == 14_989
    assert samples.count(ws) == report.new_samples
    # normalisation may fold rows that differ only in whitespace; every row is accounted for
    assert report.new_samples + report.duplicates_in_source == 14_989
    assert sum(r[0] for r in ws.query("SELECT dup_count FROM samples")) == 14_989
    # sources and lines point back into the file
    line, sid = ws.query("SELECT line, id FROM samples WHERE rowid = 1")[0]
    with open(DOLLY, encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    assert line == 1 and samples.get(ws, sid).response == first["output"]


def test_reimport_is_idempotent(ws, tmp_path):
    src = write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 300)
    first = importer.import_source(ws, src)
    before = ws.query("SELECT id, dup_count FROM samples ORDER BY rowid")
    again = importer.import_source(ws, src)
    assert again.new_samples == 0 and again.already_present == first.new_samples
    assert ws.query("SELECT id, dup_count FROM samples ORDER BY rowid") == before


def test_exact_duplicates_collapse_with_count(ws, tmp_path):
    rows = [{"instruction": "Name a colour.", "input": "", "output": "Blue."},
            {"instruction": "Name  a colour. ", "input": "", "output": "Blue."},  # same after normalisation
            {"instruction": "Name a fruit.", "input": "", "output": "Apple."},
            {"instruction": "Name a colour.", "input": "", "output": "Blue."}]
    src = tmp_path / "dups.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = importer.import_source(ws, src)
    assert (report.new_samples, report.duplicates_in_source) == (2, 2)
    counts = {r["prompt"]: r["dup_count"] for r in ws.query("SELECT prompt, dup_count FROM samples")}
    assert counts == {"Name a colour.": 3, "Name a fruit.": 1}
    # the occurrences trace the duplicates to their lines
    sid = ws.query("SELECT id FROM samples WHERE prompt = 'Name a colour.'")[0][0]
    assert [r[0] for r in ws.query("SELECT line FROM occurrences WHERE sample_id = ? ORDER BY line", (sid,))] \
        == [1, 2, 4]


BAD_LINES = [
    '{"instruction": "ok one", "input": "", "output": "fine"}',
    '{"instruction": "broken", "output": ',                         # 2 malformed JSON
    '{"instruction": "no output here", "input": ""}',                # 3 missing field
    '{"instruction": "ok two", "input": "", "output": "fine too"}',
    '{"instruction": 7, "input": "", "output": "x"}',                # 5 wrong type
    '{"instruction": "empty", "input": "", "output": "   "}',        # 6 empty response
    '[1, 2]',                                                        # 7 not an object
]


def bad_file(tmp_path):
    src = tmp_path / "bad.jsonl"
    data = "\n".join(BAD_LINES).encode() + b'\n{"instruction": "bytes \xff\xfe", "input": "", "output": "x"}\n'
    src.write_bytes(data)                                            # 8 invalid UTF-8
    return src


def test_bad_input_reports_kinds_and_lines(ws, tmp_path):
    report = importer.import_source(ws, bad_file(tmp_path))
    assert report.new_samples == 2 and report.skipped == 6
    by_line = {p["line"]: p["kind"] for p in report.problems}
    assert by_line == {2: "malformed_json", 3: "missing_field", 5: "wrong_type", 6: "empty_response",
                       7: "not_an_object", 8: "invalid_utf8"}
    assert all(p["source"].endswith("bad.jsonl") for p in report.problems)
    stored = json.loads(ws.query("SELECT problems FROM imports")[0][0])
    assert stored["counts"] == {"malformed_json": 1, "missing_field": 1, "wrong_type": 1, "empty_response": 1,
                                "not_an_object": 1, "invalid_utf8": 1}


def test_strict_stops_at_first_problem_and_changes_nothing(ws, tmp_path):
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 50))
    decisions.record(ws, samples.ids(ws)[:3], "approve")
    before = dump(ws)
    with pytest.raises(InputError, match=r"bad\.jsonl:2: "):
        importer.import_source(ws, bad_file(tmp_path), strict=True)
    assert dump(ws) == before


def test_cancelled_import_changes_nothing(ws, tmp_path):
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 20))
    before = dump(ws)
    calls = iter(range(10_000))
    with pytest.raises(Cancelled):
        importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "b.jsonl", 500),
                               should_stop=lambda: next(calls) > 300)
    assert dump(ws) == before
    assert not list((ws.root / "tmp").glob("*.sqlite"))  # the staging file is cleaned up


def test_missing_file_and_unknown_schema_are_clear(ws, tmp_path):
    with pytest.raises(InputError, match="nope.jsonl"):
        importer.import_source(ws, tmp_path / "nope.jsonl")
    weird = tmp_path / "weird.jsonl"
    weird.write_text('{"question": "a", "answer_text": "b"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="schema"):
        importer.import_source(ws, weird)
    assert samples.count(ws) == 0


def test_schema_override(ws, tmp_path):
    src = tmp_path / "pc.jsonl"
    src.write_text('{"prompt": "2+2?", "completion": "4"}\n', encoding="utf-8")
    report = importer.import_source(ws, src, schema="prompt_completion")
    assert report.schema == "prompt_completion" and samples.count(ws) == 1


def test_database_integrity_after_imports(ws, tmp_path):
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 200))
    conn = sqlite3.connect(ws.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_schema_alias_override_and_unknown_override(ws, tmp_path):
    src = tmp_path / "chat.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n',
                   encoding="utf-8")
    report = importer.import_source(ws, src, schema="OpenAI")  # an alias, any case
    assert report.schema == "messages" and samples.count(ws) == 1
    with pytest.raises(InputError, match="chat.jsonl.*unknown schema 'nonsense'"):
        importer.import_source(ws, src, schema="nonsense")
    assert samples.count(ws) == 1


def test_duplicate_counts_on_a_first_import_and_on_an_edited_file_imported_again(ws, tmp_path):
    def row(text):
        return {"instruction": text, "output": "answer"}

    def dup_counts():
        by_prompt = {r.prompt: sid for sid, r in samples.iter_records(ws)}
        counts = {r["id"]: r["dup_count"] for r in ws.query("SELECT id, dup_count FROM samples")}
        return {p: counts[sid] for p, sid in by_prompt.items()}

    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(row(t)) + "\n" for t in "xyx"), encoding="utf-8")
    importer.import_source(ws, str(path))
    assert dup_counts() == {"x": 2, "y": 1}  # set by the insert of new samples
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(row(t)) + "\n" for t in "yw"), encoding="utf-8")
    importer.import_source(ws, str(other))
    assert dup_counts() == {"x": 2, "y": 2, "w": 1}  # y was there: recounted with its earlier occurrence
    # the same file edited: its rows 0-2 are occurrences already kept (row 1 stays y's); row 3 is new
    path.write_text("".join(json.dumps(row(t)) + "\n" for t in "xzxx"), encoding="utf-8")
    importer.import_source(ws, str(path))
    assert dup_counts() == {"x": 3, "y": 2, "w": 1, "z": 0}
