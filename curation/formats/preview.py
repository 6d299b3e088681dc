"""A look at the head of a source before importing it: format, detected schema, what the rows become.

Reads through the same loaders and schema conversion as the importer (curation.formats.importer), so the preview
shows exactly what an import would keep and which rows it would skip, and why. Only the head of the source is
read: previewing a million-row file costs the same as a ten-row one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from curation.errors import InputError
from curation.formats import loaders, schemas
from curation.formats.text_lines import MAX_LINE_BYTES

SCAN_ROWS = 100  # rows read to detect the schema (the importer looks at as many)
CELL_CHARS = 200  # raw values are cut to this many characters for display


@dataclass(frozen=True)
class Preview:
    source: str
    fmt: str
    detected: str | None                 # the schema detection picked, None when none fits
    detect_error: str                    # why detection failed ("" when it did not)
    schema: str | None                   # schema the rows below were converted with (override or detected)
    fields: list[str]                    # top-level fields seen in the scanned rows, most frequent first
    raw: list[dict[str, Any]] = field(default_factory=list)       # first rows as read (values cut)
    converted: list[dict[str, Any]] = field(default_factory=list)  # line, instruction, input, response, turns
    problems: list[dict[str, Any]] = field(default_factory=list)   # line, kind, message among scanned rows
    scanned: int = 0


def preview(source: str | os.PathLike[str], *, schema: str | None = None, rows: int = 5,
            hub_split: str = "train", max_line_bytes: int = MAX_LINE_BYTES) -> Preview:
    """The first `rows` rows of `source` converted with `schema` (None: the detected one).

    Raises InputError when the source as a whole cannot be read (missing file, unknown format, no hub).
    """
    src = str(source)
    fmt = loaders.detect_format(source)
    items = list(islice(loaders.read_rows(source, hub_split=hub_split, fmt=fmt, max_line_bytes=max_line_bytes),
                        SCAN_ROWS))
    data = [i for i in items if isinstance(i, loaders.Row)]
    problems = [{"line": i.line, "kind": i.kind, "message": i.message}
                for i in items if isinstance(i, loaders.Problem)]
    counts: dict[str, int] = {}
    for row in data:
        for key in row.data:
            counts[key] = counts.get(key, 0) + 1
    detected, detect_error = None, ""
    try:
        detected = schemas.detect_schema([r.data for r in data], source=src)
    except InputError as exc:
        detect_error = str(exc)
    use = schemas.resolve_schema(schema) if schema else detected
    converted: list[dict[str, Any]] = []
    if use is not None:
        for row in data:
            try:
                record = schemas.to_record(row.data, use)
            except InputError as exc:
                problems.append({"line": row.line, "kind": exc.kind, "message": str(exc)})
                continue
            if len(converted) < rows:
                converted.append({"line": row.line, "instruction": record.instruction, "input": record.input,
                                  "response": record.response, "turns": record.n_turns,
                                  "system": record.system})
    problems.sort(key=lambda p: int(p["line"]))  # type: ignore[call-overload]
    return Preview(source=src, fmt=fmt, detected=detected, detect_error=detect_error, schema=use,
                   fields=sorted(counts, key=lambda k: (-counts[k], k)),
                   raw=[{k: _cut(v) for k, v in r.data.items()} for r in data[:rows]],
                   converted=converted, problems=problems, scanned=len(items))


def _cut(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "..."
