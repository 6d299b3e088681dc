"""The import tables: a staging file of parsed rows, and its merge into samples, occurrences and imports.

`curation.formats.importer` parses a source into a `Stage` (a scratch SQLite file beside the workspace, so
the workspace's write lock is not held while parsing), then calls `merge`: one transaction, so a failed or
cancelled import leaves the workspace exactly as it was. Only this module writes those three tables.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.records import Record, record_to_json
from curation.workspace import leftovers, search_index
from curation.workspace.db import Workspace
from curation.workspace.stage_indexer import StageIndexer

_BATCH = 2000
_UNICODE_JSON = json.JSONEncoder(ensure_ascii=False)  # what json.dumps(..., ensure_ascii=False) builds per call
MERGE_CACHE_KIB = -131072  # page cache of each side of a merge (negative: KiB), 128 MB


def staged_fields(record: Record) -> tuple:
    """What the stage keeps of a record besides where it came from: id, stored JSON, texts, sizes."""
    return (record.id, _UNICODE_JSON.encode(record_to_json(record)), record.prompt, record.response, record.n_turns,
            len(record.prompt), len(record.response))


class Stage:
    """Parsed rows waiting to be merged, in source order (`pos`); removes its files on close."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = leftovers.lock_stage(self.path)  # before the file exists: a workspace opening keeps it
        self.conn = sqlite3.connect(self.path)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")  # scratch data: speed over durability
        # pos is the rowid: the merge reads rows in source order straight off the table, where a plain column
        # made SQLite sort every staged row, texts and all, in a temporary b-tree (1M rows: gigabytes on disk)
        self.conn.execute(
            "CREATE TABLE staged (pos INTEGER PRIMARY KEY, id TEXT NOT NULL, record TEXT NOT NULL,"
            " prompt TEXT NOT NULL, response TEXT NOT NULL, n_turns INTEGER NOT NULL, prompt_chars INTEGER NOT NULL,"
            " response_chars INTEGER NOT NULL, source TEXT NOT NULL, line INTEGER NOT NULL)")
        self._batch: list[tuple] = []

    def add(self, record: Record, source: str, line: int, pos: int) -> None:
        self.add_fields(staged_fields(record), source, line, pos)

    def add_fields(self, fields: tuple, source: str, line: int, pos: int) -> None:
        """A row already in `staged_fields` form (made in another process: curation.formats.parallel_jsonl)."""
        self._batch.append((pos, *fields, source, line))
        if len(self._batch) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            self.conn.executemany("INSERT INTO staged VALUES (?,?,?,?,?,?,?,?,?,?)", self._batch)
            self._batch.clear()
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()
        for suffix in ("", "-wal", "-shm", "-journal", leftovers.LOCK_SUFFIX):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        os.close(self._lock)


@dataclass(frozen=True)
class Merged:
    import_id: int
    new_samples: int  # samples the workspace did not have
    distinct: int  # distinct contents in the stage
    already_present: int  # distinct contents the workspace had already


def merge(ws: Workspace, stage: Stage, *, source: str, schema: str, rows_read: int, valid: int,
          problem_counts: dict[str, int], problems: list[dict[str, Any]],
          progress: Callable[[int, int, str], None] | None = None) -> Merged:
    """Merge a stage in one transaction: an imports row, the first occurrence of each new content as a sample
    (in source order), every occurrence, and the duplicate counts. The search index of the new samples is built
    from the stage beside it (`StageIndexer`) and committed right after; returns once both are in."""
    stage.flush()
    # each content's first row and its row count, worked out in the stage before the workspace's write lock is
    # taken (the insert below then reads them in source order: no lookups per staged row inside the lock)
    stage.conn.execute("CREATE TABLE firsts (pos INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    stage.conn.execute("INSERT INTO firsts SELECT MIN(pos), COUNT(*) FROM staged GROUP BY id")
    stage.conn.commit()
    distinct = stage.conn.execute("SELECT COUNT(*) FROM firsts").fetchone()[0]
    search_index.catch_up(ws, progress=progress)  # what an earlier import left unindexed (a crash): usually none
    conn = ws.connect()
    # read-only: BEGIN IMMEDIATE would otherwise lock the stage too, which the index's builder is reading
    conn.execute("ATTACH DATABASE ? AS stage", (search_index.read_only_uri(stage.path),))
    # a lookup per new row in samples' id index, in random order: with SQLite's default 2 MB page cache, a
    # million-row merge reads those pages from the OS again and again
    cache = conn.execute("PRAGMA main.cache_size").fetchone()[0]
    conn.execute(f"PRAGMA main.cache_size = {MERGE_CACHE_KIB}")
    conn.execute(f"PRAGMA stage.cache_size = {MERGE_CACHE_KIB}")
    indexer: StageIndexer | None = None
    committed = False
    try:
        with ws.transaction() as tx:
            now = time.time()
            import_id: int = tx.execute(
                "INSERT INTO imports(source, schema, rows_read, rows_imported, new_samples, duplicates, skipped,"
                " problems, created) VALUES (?,?,?,?,0,0,?,?,?)",
                (source, schema, rows_read, valid, sum(problem_counts.values()),
                 json.dumps({"counts": dict(problem_counts), "first": problems}), now)).lastrowid or 0
            before = tx.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
            last_rowid = tx.execute("SELECT COALESCE(MAX(rowid), 0) FROM samples").fetchone()[0]
            indexer = StageIndexer(ws, stage.path, last_rowid)
            already = tx.execute(
                "SELECT COUNT(*) FROM stage.firsts f JOIN stage.staged s ON s.pos = f.pos"
                " WHERE s.id IN (SELECT id FROM main.samples)").fetchone()[0]
            # a new sample's occurrences are all in this stage (one per staged row), so its count is set here,
            # unless this source was imported before (an occurrence it already has is not inserted again)
            seen_source = tx.execute("SELECT EXISTS(SELECT 1 FROM main.occurrences WHERE source IN"
                                     " (SELECT source FROM stage.staged))").fetchone()[0]
            tx.execute(
                "INSERT INTO samples(id, record, prompt, response, n_turns, prompt_chars, response_chars, source, line,"
                " import_id, dup_count, created) SELECT s.id, s.record, s.prompt, s.response, s.n_turns,"
                " s.prompt_chars, s.response_chars, s.source, s.line, ?, f.n, ?"
                " FROM stage.firsts f JOIN stage.staged s ON s.pos = f.pos"
                " WHERE s.id NOT IN (SELECT id FROM main.samples) ORDER BY f.pos", (import_id, now))
            new = tx.execute("SELECT COUNT(*) FROM samples").fetchone()[0] - before
            last = tx.execute("SELECT id FROM samples WHERE rowid = ?", (last_rowid + new,)).fetchone() if new else None
            tx.execute("INSERT OR IGNORE INTO occurrences(sample_id, source, pos, line, import_id)"
                       " SELECT id, source, pos, line, ? FROM stage.staged", (import_id,))
            if already or seen_source:  # recount from the occurrences: earlier ones, and rows already there
                tx.execute("UPDATE samples SET dup_count = (SELECT COUNT(*) FROM occurrences o"
                           " WHERE o.sample_id = samples.id) WHERE id IN (SELECT id FROM stage.staged)")
            tx.execute("UPDATE imports SET new_samples = ?, duplicates = ? WHERE import_id = ?",
                       (new, valid - new, import_id))
        committed = True
    finally:
        if indexer is not None and not committed:
            indexer.abandon()
        conn.execute("DETACH DATABASE stage")
        conn.execute(f"PRAGMA main.cache_size = {int(cache)}")
    if progress:
        progress(0, 1, "indexing for search")
    assert indexer is not None
    if not indexer.finish(int(new), None if last is None else str(last[0])):
        search_index.catch_up(ws, progress=progress)  # from the committed samples instead
    return Merged(import_id=import_id, new_samples=int(new), distinct=int(distinct),
                  already_present=int(already))


def list_imports(ws: Workspace) -> list[dict[str, Any]]:
    """Every import, oldest first, with its problems decoded."""
    out = []
    for r in ws.query("SELECT * FROM imports ORDER BY import_id"):
        d = dict(r)
        d["problems"] = json.loads(d["problems"])
        out.append(d)
    return out
