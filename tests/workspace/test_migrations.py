"""Schema migrations: an older workspace opens, is migrated in place, and keeps every row and decision."""

from __future__ import annotations

import sqlite3

import pytest

from curation.formats import importer
from curation.errors import CurationError
from curation.workspace import Workspace, decisions, samples
from curation.workspace.db import _statements
from curation.workspace.tables import MIGRATIONS, SCHEMA_VERSION
from tests.shared_data import DOLLY, write_jsonl_head


def write_version_1(path) -> None:
    """The database as version 1 of the schema left it."""
    conn = sqlite3.connect(path)
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_an_old_workspace_is_migrated_and_keeps_its_data(tmp_path):
    fresh = Workspace(tmp_path / "new")
    db_name = fresh.db_path.name
    fresh.close()
    root = tmp_path / "old"
    root.mkdir()
    write_version_1(root / db_name)

    ws = Workspace(root)  # opening migrates
    assert ws.schema_version == SCHEMA_VERSION >= 2
    names = {r[0] for r in ws.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"samples_response_chars", "samples_response_chars_desc"} <= names
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 50))
    first = samples.ids(ws)[0]
    decisions.record(ws, [first], "approve")
    ws.close()
    again = Workspace(root)  # a second open is a no-op
    assert again.schema_version == SCHEMA_VERSION
    assert samples.count(again) == 50 and decisions.state(again, first).status == "approved"
    plan = again.query("EXPLAIN QUERY PLAN SELECT id FROM samples s ORDER BY s.response_chars DESC, s.rowid LIMIT 50")
    assert "USING INDEX samples_response_chars_desc" in " ".join(str(tuple(r)) for r in plan)


def test_a_newer_workspace_is_refused(tmp_path):
    ws = Workspace(tmp_path / "ws")
    path = ws.db_path
    ws.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CurationError, match="newer than this curation"):
        Workspace(tmp_path / "ws")


def write_version(path, version: int) -> None:
    """The database as `version` of the schema left it."""
    conn = sqlite3.connect(path)
    for number in range(version):
        for statement in _statements(MIGRATIONS[number]):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def test_version_2_gains_run_leases_and_decision_actors(tmp_path):
    from curation.workspace import runs

    root = tmp_path / "old"
    root.mkdir()
    write_version(root / "curation.sqlite", 2)
    conn = sqlite3.connect(root / "curation.sqlite")
    conn.execute("INSERT INTO imports VALUES (1, 'f.jsonl', 'alpaca', 1, 1, 1, 0, 0, '{}', 0)")
    conn.execute("INSERT INTO samples(rowid, id, record, prompt, response, n_turns, prompt_chars, response_chars,"
                 " source, line, import_id, created) VALUES (1, 'aaaa', '{}', 'q', 'a', 2, 1, 1, 'f.jsonl', 1, 1, 0)")
    conn.execute("INSERT INTO decisions(sample_id, action, origin, time) VALUES ('aaaa', 'approve', 'human', 1.0)")
    conn.execute("INSERT INTO decisions(sample_id, action, origin, actor, time) VALUES"
                 " ('aaaa', 'pin', 'human', 'app', 2.0)")
    conn.execute("INSERT INTO runs(run_id, name, method, config, budget, seed, models, pool_hash, status, created)"
                 " VALUES (1, 'r', 'random', '{}', '{}', 0, '{}', '', 'running', 0)")  # its process died long ago
    conn.commit()
    conn.close()

    ws = Workspace(root)
    assert ws.schema_version == SCHEMA_VERSION >= 4
    assert [e.actor for e in decisions.events(ws)] == ["legacy", "app"]
    assert runs.get(ws, 1).status == "interrupted" and runs.get(ws, 1).owner == ""
    assert decisions.undo_last(ws, actor="legacy") == ["aaaa"]  # the old decision can still be undone
    assert decisions.state(ws, "aaaa").pinned and decisions.state(ws, "aaaa").status == "pending"
