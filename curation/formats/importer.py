"""Import a file, folder or hub dataset into the workspace: stream, validate, stage, then merge atomically.

Rows are parsed in a stream and staged in a scratch SQLite file, so a million-row file never sits in memory and
the workspace's write lock is not held while parsing (the app and the job worker keep writing meanwhile). The
merge (curation.workspace.imports.merge) is one transaction: a failed or cancelled import leaves the workspace exactly
as it was.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import Cancelled, InputError
from curation.formats import bundled_pools, loaders, parallel_jsonl, schemas
from curation.formats.text_lines import MAX_LINE_BYTES
from curation.workspace import imports
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
    vectors_seeded: int = 0  # a bundled pool's shipped embeddings added to the cache

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
        if self.vectors_seeded:
            lines.append(f"embeddings shipped with the pool added to the cache: {self.vectors_seeded}")
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
    max_line_bytes: int = MAX_LINE_BYTES,
) -> ImportReport:
    """Import `source` into `ws`. `schema=None` detects it; `strict` stops at the first problem; a line (JSON array
    element, CSV field) over `max_line_bytes` is a `line_too_long` problem. A bundled pool's shipped embeddings
    go into the cache too (curation.formats.bundled_pools.seed_vectors)."""
    started = time.time()
    local = Path(source).expanduser()
    bundled = None if local.exists() else bundled_pools.find(str(source))
    if local.exists():  # one name per file, whatever the working folder: re-imports stay idempotent
        source = local.resolve()
    elif bundled is not None:  # "dolly-15k": the copy shipped in the package, unpacked once into the workspace
        source, schema = bundled_pools.unpack(ws, bundled), schema or bundled.schema
    source_str = str(source)
    if schema is not None:
        try:
            schema = schemas.resolve_schema(schema)  # aliases too: openai, chatml, trl, vicuna
        except InputError as exc:
            raise InputError(str(exc), source=source_str, kind="unknown_schema") from None
    stage = imports.Stage(ws.path("tmp", f"import-{uuid.uuid4().hex[:8]}.sqlite"))
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
        stream = loaders.read_rows(source, progress=progress, should_stop=should_stop, hub_split=hub_split,
                                   max_line_bytes=max_line_bytes)
        rows, schema = _with_schema(stream, schema, source_str, problem)
        fmt = loaders.detect_format(source)
        if parallel_jsonl.applies(Path(source), fmt):  # the same rows, parsed by a process per core
            items = parallel_jsonl.parse_file(Path(source), source_str, schema, max_line_bytes, progress=progress,
                                              should_stop=should_stop)
        else:
            items = _staged(rows, schema)
        for src, line, fields, kind, message in items:
            if should_stop is not None and should_stop():
                raise Cancelled(f"import of {source_str} cancelled; the workspace is unchanged")
            rows_read += 1
            if fields is None:
                problem(loaders.Problem(src, line, kind, message))
                continue
            valid += 1
            stage.add_fields(fields, src, line, rows_read)
        if progress:
            progress(0, 1, "merging into the workspace")
        merged = imports.merge(ws, stage, source=source_str, schema=schema, rows_read=rows_read, valid=valid,
                               problem_counts=dict(counts), problems=kept, progress=progress)
        seeded = 0
        if bundled is not None:
            if progress:
                progress(0, 1, "adding the shipped embeddings to the cache")
            seeded = bundled_pools.seed_vectors(ws, bundled)
        if progress:
            progress(1, 1, "done")
        return ImportReport(import_id=merged.import_id, source=source_str, schema=schema, rows_read=rows_read,
                            rows_imported=valid, new_samples=merged.new_samples,
                            duplicates_in_source=valid - merged.distinct, already_present=merged.already_present,
                            skipped=sum(counts.values()), problem_counts=dict(counts), problems=kept,
                            seconds=time.time() - started, vectors_seeded=seeded)
    finally:
        stage.close()


def _staged(rows: Iterator, schema: str) -> Iterator[tuple[str, int, tuple | None, str, str]]:
    """(source, line, the stage's fields or None, problem kind, message) per row, as parallel_jsonl gives them."""
    for item in rows:
        if isinstance(item, loaders.Problem):
            yield item.source, item.line, None, item.kind, item.message
            continue
        try:
            yield item.source, item.line, imports.staged_fields(schemas.to_record(item.data, schema)), "", ""
        except InputError as exc:
            yield item.source, item.line, None, exc.kind, str(exc)


def _with_schema(stream: Iterator, schema: str | None, source: str,
                 problem: Callable[[loaders.Problem], None]) -> tuple[Iterator, str]:
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


def list_imports(ws: Workspace) -> list[dict[str, Any]]:
    """Every import, oldest first (curation.workspace.imports owns the table)."""
    return imports.list_imports(ws)
