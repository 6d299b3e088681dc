"""The import tables' one writer (curation.workspace.imports) and the pool queries pages used to write in SQL."""

from __future__ import annotations

import sqlite3

import pytest

from curation.records import single_turn
from curation.workspace import imports, samples


def _stage(ws, name, rows):
    stage = imports.Stage(ws.path("tmp", f"{name}.sqlite"))
    for pos, (record, line) in enumerate(rows, 1):
        stage.add(record, f"{name}.jsonl", line, pos)
    return stage


def test_merge_counts_new_duplicate_and_present_rows(ws):
    a, b, c = single_turn("Name a colour.", "Blue."), single_turn("Name a fruit.", "Apple."), single_turn("Hi", "Hey")
    first = _stage(ws, "one", [(a, 1), (b, 2), (a, 3)])
    try:
        merged = imports.merge(ws, first, source="one.jsonl", schema="alpaca", rows_read=4, valid=3,
                               problem_counts={"malformed_json": 1}, problems=[{"line": 4}])
    finally:
        first.close()
    assert not first.path.exists()  # the scratch file goes with the stage
    assert (merged.new_samples, merged.distinct, merged.already_present) == (2, 2, 0)
    second = _stage(ws, "two", [(c, 1), (b, 2)])
    try:
        again = imports.merge(ws, second, source="two.jsonl", schema="alpaca", rows_read=2, valid=2,
                              problem_counts={}, problems=[])
    finally:
        second.close()
    assert (again.new_samples, again.distinct, again.already_present) == (1, 2, 1)
    # samples in source order, first occurrence kept; every occurrence counted across imports
    rows = ws.query("SELECT id, line, dup_count, import_id FROM samples ORDER BY rowid")
    assert [tuple(r) for r in rows] == [(a.id, 1, 2, merged.import_id), (b.id, 2, 2, merged.import_id),
                                        (c.id, 1, 1, again.import_id)]
    listed = imports.list_imports(ws)
    assert [(i["source"], i["rows_read"], i["rows_imported"], i["new_samples"], i["duplicates"], i["skipped"])
            for i in listed] == [("one.jsonl", 4, 3, 2, 1, 1), ("two.jsonl", 2, 2, 1, 1, 0)]
    assert listed[0]["problems"] == {"counts": {"malformed_json": 1}, "first": [{"line": 4}]}


def test_a_failed_merge_changes_nothing(ws):
    stage = _stage(ws, "one", [(single_turn("q", "a"), 1)])
    stage.flush()
    stage.conn.execute("DROP TABLE staged")  # no record column: the merge fails after inserting its imports row
    stage.conn.execute("CREATE TABLE staged (id TEXT, pos INTEGER)")
    stage.conn.execute("INSERT INTO staged VALUES ('x', 1)")
    stage.conn.commit()
    with pytest.raises(sqlite3.OperationalError, match="record"):
        imports.merge(ws, stage, source="one.jsonl", schema="alpaca", rows_read=1, valid=1, problem_counts={},
                      problems=[])
    stage.close()
    assert ws.scalar("SELECT COUNT(*) FROM imports") == 0 and samples.count(ws) == 0


def test_mean_chars_and_response_chars(ws):
    assert samples.mean_chars(ws) == (0.0, 0.0)
    rows = [single_turn("abcd", "xy"), single_turn("ab", "wxyz12")]
    stage = _stage(ws, "s", [(r, i) for i, r in enumerate(rows, 1)])
    imports.merge(ws, stage, source="s", schema="alpaca", rows_read=2, valid=2, problem_counts={}, problems=[])
    stage.close()
    assert samples.mean_chars(ws) == (3.0, 4.0)  # (4 + 2) / 2, (2 + 6) / 2
    lengths = samples.response_chars(ws)
    assert lengths.to_dict() == {rows[0].id: 2, rows[1].id: 6} and list(lengths.index) == [r.id for r in rows]


def test_a_frame_without_texts_is_the_frame_less_its_text_columns(dolly_workspace):
    import pandas as pd

    from curation.workspace import decisions

    pool = dolly_workspace(120)
    ids = samples.ids(pool)
    decisions.record(pool, ids[:5], "reject", origin="test")
    decisions.record(pool, ids[5:7], "pin", origin="test")
    full = samples.frame(pool)
    narrow = samples.frame(pool, texts=False)
    assert not {"prompt", "response"} & set(narrow.columns)
    pd.testing.assert_frame_equal(narrow, full.drop(columns=["prompt", "response"]))
    assert (narrow["status"] == "rejected").sum() == 5 and narrow["pinned"].sum() == 2
    some = ids[::7]
    pd.testing.assert_frame_equal(samples.frame(pool, some, texts=False),
                                  samples.frame(pool, some).drop(columns=["prompt", "response"]))
