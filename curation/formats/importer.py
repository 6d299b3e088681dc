"""Import a file, folder or hub dataset into the workspace: stream, validate, stage, then merge atomically.

Rows are parsed in a stream and staged in a scratch SQLite file, so a million-row file never sits in memory and
the workspace's write lock is not held while parsing (the app and the job worker keep writing meanwhile). The
merge into the workspace is one transaction: a failed or cancelled import leaves the workspace exactly as it was.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import Cancelled, InputError
from curation.formats import loaders, schemas
from curation.records import Record, record_to_json
from curation.workspace.db import Workspace

DETECT_SAMPLE = 100  # rows looked at to detect the schema
KEEP_PROBLEMS = 200  # problems listed in the report (all are counted)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ImportReport:
    import_id: int
    source: str
    schema: str
    rows_read: int
    rows_imported: int
    new_samples: int
    duplicates_in_source: int   # valid rows whose exact content appeared earlier in the same source
    already_present: int        # distinct samples of this source that the workspace already had
    skipped: int
    problem_counts: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)  # the first KEEP_PROBLEMS, with line numbers
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"imported {self.source} as {self.schema}: {self.rows_read} rows read, {self.rows_imported} valid,"
            f" {self.new_samples} new samples",
            f"exact duplicates collapsed: {self.duplicates_in_source} within the source,"
            f" {self.already_present} already in the workspace",
        ]
        if self.skipped:
            kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.problem_counts.items()))
            lines.append(f"skipped {self.skipped} rows ({kinds})")
            lines += [f"  {p['source']}:{p['line']}: {p['kind']}: {p['message']}" for p in self.problems[:10]]
            if self.skipped > 10:
                lines.append(f"  ... {self.skipped - 10} more (see the import report)")
        return "\n".join(lines)


def import_source(
    ws: Workspace,
    source: str | os.PathLike[str],
    *,
    schema: str | None = None,
    strict: bool = False,
    hub_split: str = "train",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ImportReport:
    """Import `source` into `ws`. `schema=None` detects it; `strict` stops at the first problem."""
    started = time.time()
    local = Path(source).expanduser()
    if local.exists():  # one name per file, whatever the working folder: re-imports stay idempotent
        source = local.resolve()
    source_str = str(source)
    if schema is not None:
        try:
            schema = schemas.resolve_schema(schema)  # aliases too: openai, chatml, trl, vicuna
        except InputError as exc:
            raise InputError(str(exc), source=source_str, kind="unknown_schema") from None
    stage_path = ws.path("tmp", f"import-{uuid.uuid4().hex[:8]}.sqlite")
    stage = _open_stage(stage_path)
    counts: Counter[str] = Counter()
    kept: list[dict[str, Any]] = []
    rows_read = valid = 0

    def problem(p: loaders.Problem) -> None:
        if strict:
            raise InputError(p.message, source=p.source, line=p.line, kind=p.kind)
        counts[p.kind] += 1
        if len(kept) < KEEP_PROBLEMS:
            kept.append({"source": p.source, "line": p.line, "kind": p.kind, "message": p.message})

    try:
        stream = loaders.read_rows(source, progress=progress, should_stop=should_stop, hub_split=hub_split)
        rows, schema = _with_schema(stream, schema, source_str, problem)
        batch: list[tuple] = []
        for item in rows:
            if should_stop is not None and should_stop():
                raise Cancelled(f"import of {source_str} cancelled; the workspace is unchanged")
            rows_read += 1
            if isinstance(item, loaders.Problem):
                problem(item)
                continue
            try:
                record = schemas.to_record(item.data, schema)
            except InputError as exc:
                problem(loaders.Problem(item.source, item.line, exc.kind, str(exc)))
                continue
            valid += 1
            batch.append(_stage_row(record, item.source, item.line, rows_read))
            if len(batch) >= 2000:
                _flush(stage, batch)
        _flush(stage, batch)
        stage.commit()
        if progress:
            progress(0, 1, "merging into the workspace")
        report = _merge(ws, stage_path, stage, source_str, schema, rows_read, valid, counts, kept)
        if progress:
            progress(1, 1, "done")
        return ImportReport(**{**report.__dict__, "seconds": time.time() - started})
    finally:
        stage.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{stage_path}{suffix}").unlink(missing_ok=True)


def _with_schema(stream: Iterator, schema: str | None, source: str, problem) -> tuple[Iterator, str]:
    """Peek at the first rows to detect the schema, then give back a stream that replays them."""
    if schema is not None:
        return stream, schema
    head: list = []
    for item in stream:
        head.append(item)
        if sum(isinstance(i, loaders.Row) for i in head) >= DETECT_SAMPLE:
            break
    data = [i.data for i in head if isinstance(i, loaders.Row)]
    if not data:
        # nothing parseable: report the problems seen, or that the source is empty
        first = next((i for i in head if isinstance(i, loaders.Problem)), None)
        if first is not None:
            raise InputError(f"no readable rows; first problem: {first.kind}: {first.message}",
                             source=first.source, line=first.line, kind=first.kind)
        raise InputError("no rows found (empty source)", source=source, kind="empty")
    detected = schemas.detect_schema(data, source=source)

    def replay() -> Iterator:
        yield from head
        yield from stream

    return replay(), detected


def _open_stage(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")  # scratch data: speed over durability
    conn.execute(
        "CREATE TABLE staged (id TEXT NOT NULL, record TEXT NOT NULL, prompt TEXT NOT NULL, response TEXT NOT NULL,"
        " n_turns INTEGER NOT NULL, prompt_chars INTEGER NOT NULL, response_chars INTEGER NOT NULL,"
        " source TEXT NOT NULL, line INTEGER NOT NULL, pos INTEGER NOT NULL)")
    return conn


def _stage_row(record: Record, source: str, line: int, pos: int) -> tuple:
    return (record.id, json.dumps(record_to_json(record), ensure_ascii=False), record.prompt, record.response,
            record.n_turns, len(record.prompt), len(record.response), source, line, pos)


def _flush(stage: sqlite3.Connection, batch: list[tuple]) -> None:
    if batch:
        stage.executemany("INSERT INTO staged VALUES (?,?,?,?,?,?,?,?,?,?)", batch)
        batch.clear()


def _merge(ws, stage_path, stage, source, schema, rows_read, valid, counts, kept) -> ImportReport:
    distinct = stage.execute("SELECT COUNT(DISTINCT id) FROM staged").fetchone()[0]
    stage.execute("CREATE INDEX staged_id ON staged(id, pos)")
    stage.commit()
    conn = ws.connect()
    conn.execute("ATTACH DATABASE ? AS stage", (str(stage_path),))
    try:
        with ws.transaction() as tx:
            now = time.time()
            import_id = tx.execute(
                "INSERT INTO imports(source, schema, rows_read, rows_imported, new_samples, duplicates, skipped,"
                " problems, created) VALUES (?,?,?,?,0,0,?,?,?)",
                (source, schema, rows_read, valid, sum(counts.values()),
                 json.dumps({"counts": dict(counts), "first": kept}), now)).lastrowid
            before = tx.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
            already = tx.execute(
                "SELECT COUNT(DISTINCT id) FROM stage.staged WHERE id IN (SELECT id FROM main.samples)").fetchone()[0]
            # first occurrence of each new content, in source order, becomes the sample
            tx.execute(
                "INSERT INTO samples(id, record, prompt, response, n_turns, prompt_chars, response_chars, source, line,"
                " import_id, dup_count, created) SELECT s.id, s.record, s.prompt, s.response, s.n_turns,"
                " s.prompt_chars, s.response_chars, s.source, s.line, ?, 0, ? FROM stage.staged s"
                " WHERE s.pos = (SELECT MIN(t.pos) FROM stage.staged t WHERE t.id = s.id)"
                " AND s.id NOT IN (SELECT id FROM main.samples) ORDER BY s.pos", (import_id, now))
            new = tx.execute("SELECT COUNT(*) FROM samples").fetchone()[0] - before
            tx.execute("INSERT OR IGNORE INTO occurrences(sample_id, source, pos, line, import_id)"
                       " SELECT id, source, pos, line, ? FROM stage.staged", (import_id,))
            tx.execute("UPDATE samples SET dup_count = (SELECT COUNT(*) FROM occurrences o"
                       " WHERE o.sample_id = samples.id) WHERE id IN (SELECT id FROM stage.staged)")
            tx.execute("UPDATE imports SET new_samples = ?, duplicates = ? WHERE import_id = ?",
                       (new, valid - new, import_id))
    finally:
        conn.execute("DETACH DATABASE stage")
    return ImportReport(import_id=import_id, source=source, schema=schema, rows_read=rows_read, rows_imported=valid,
                        new_samples=new, duplicates_in_source=valid - distinct, already_present=already,
                        skipped=sum(counts.values()), problem_counts=dict(counts), problems=kept)


def list_imports(ws: Workspace) -> list[dict[str, Any]]:
    out = []
    for r in ws.query("SELECT * FROM imports ORDER BY import_id"):
        d = dict(r)
        d["problems"] = json.loads(d["problems"])
        out.append(d)
    return out
