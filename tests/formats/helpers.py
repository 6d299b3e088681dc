"""Helpers for the loader and schema tests: write rows in every file format, and a minimal importer."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curation.errors import InputError
from curation.formats.loaders import Problem, Row, read_rows
from curation.formats.schemas import detect_schema, to_record
from curation.records import Record

FILE_FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")


def write_rows(path: Path, rows: Sequence[dict[str, Any]], fmt: str) -> Path:
    """Rows as a file of `fmt`; CSV/TSV cells that are not text hold JSON text."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(list(rows), ensure_ascii=False, indent=2), encoding="utf-8")
    elif fmt in ("csv", "tsv"):
        header = list(dict.fromkeys(k for r in rows for k in r))
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t" if fmt == "tsv" else ",")
            writer.writerow(header)
            for r in rows:
                writer.writerow([_cell(r.get(k, "")) for k in header])
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(list(rows)), path)
    else:
        raise ValueError(fmt)
    return path


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def load(path: Path | str, schema: str | None = None, **kwargs: Any
         ) -> tuple[list[tuple[int, Record]], list[tuple[int, str]]]:
    """What the importer does, minus the workspace: ([(line, record)], [(line, problem kind)])."""
    items = list(read_rows(path, **kwargs))
    rows = [i for i in items if isinstance(i, Row)]
    if schema is None:
        schema = detect_schema([r.data for r in rows[:100]])
    records, problems = [], []
    for item in items:
        if isinstance(item, Problem):
            problems.append((item.line, item.kind))
            continue
        try:
            records.append((item.line, to_record(item.data, schema)))
        except InputError as exc:
            problems.append((item.line, exc.kind))
    return records, problems


def assert_same_record(back: Record, original: Record, *, parts: bool) -> None:
    assert back.id == original.id
    assert back.messages == original.messages
    assert back.extra == original.extra
    if parts:
        assert back.parts == original.parts
