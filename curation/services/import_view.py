"""What the Start page shows about imports, as plain values and frames: the preview's columns, an import's
report (counts, problems by kind, the first problems at file:line) and the list of past imports.

Uploads are streamed into `<workspace>/uploads/` in chunks (`write_upload`): Streamlit already holds the upload
in memory once, and `.getvalue()` would copy it whole a second time. Uploads last modified more than
UPLOAD_KEEP_DAYS ago are removed when another upload is saved (`prune_uploads`): an import reads its upload in
minutes, and an import's report keeps what it needs.

An import is a row of `curation.formats.importer.list_imports` (a dict with rows_read, rows_imported,
new_samples, duplicates, skipped, problems = {"counts": {kind: n}, "first": [{source, line, kind, message}]}).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from curation.formats import loaders, schemas
from curation.workspace.arrays import atomic_path

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
DEFAULT_UPLOAD_NAME = "upload.jsonl"
UPLOAD_CHUNK = 1 << 20  # bytes copied at a time from an upload to its file
UPLOAD_KEEP_DAYS = 7


def source_stamp(source: str) -> tuple[int, ...]:
    """A cache-key part that changes when a file or folder changes (modified time, size); () for what is
    not on disk (a hub dataset name)."""
    try:
        st = os.stat(source)
    except OSError:
        return ()
    return (st.st_mtime_ns, st.st_size)


def safe_upload_name(name: str) -> str:
    """An uploaded file's name as a safe file name in `uploads/`: no folders, only [A-Za-z0-9._-]."""
    return _UNSAFE_NAME.sub("_", Path(name).name).strip("._") or DEFAULT_UPLOAD_NAME


def write_upload(upload: BinaryIO, path: Path) -> Path:
    """Copy an uploaded file (any binary file-like object, from its start) to `path` atomically, one chunk at a
    time, so memory holds one chunk beside the upload."""
    upload.seek(0)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        while chunk := upload.read(UPLOAD_CHUNK):
            out.write(chunk)
    return Path(path)


def prune_uploads(folder: Path, *, keep: Path | None = None, now: float | None = None,
                  days: float = UPLOAD_KEEP_DAYS) -> list[Path]:
    """Remove the files in `folder` last modified more than `days` ago (never `keep`); returns what was removed."""
    if not folder.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - days * 86400
    removed = []
    for path in sorted(folder.iterdir()):
        try:
            if path.is_file() and path != keep and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:  # removed meanwhile by another session: nothing to do
            continue
    return removed


DETECTED = "detected"  # the schema choice that keeps what detection found


def schema_choices() -> list[str]:
    return [DETECTED, *schemas.SCHEMAS]


def schema_label(choice: str, detected: str | None) -> str:
    """How the schema box names a choice: "detected: alpaca" (or "detected: none fits"), else the schema."""
    if choice != DETECTED:
        return choice
    return f"detected: {detected}" if detected else "detected: none fits"


def chosen_schema(choice: str) -> str | None:
    """The schema to convert with (None: the detected one)."""
    return None if choice == DETECTED else choice


def preview_columns(converted: pd.DataFrame) -> list[str]:
    """Columns of the converted preview rows worth showing: line, instruction, response, and input, system
    and turns only when some row has them."""
    columns = ["line", "instruction", "response"]
    columns += [c for c in ("input", "system") if converted[c].astype(bool).any()]
    columns += ["turns"] if (converted["turns"] > 1).any() else []
    return columns


def report_tiles(imp: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(label, f"{imp[field]:,}") for label, field in (
        ("Rows read", "rows_read"), ("Valid", "rows_imported"), ("New samples", "new_samples"),
        ("Duplicates", "duplicates"), ("Skipped", "skipped"))]


def problem_counts(imp: Mapping[str, Any]) -> pd.DataFrame:
    """Skipped rows per problem kind, most frequent first, with what each kind means."""
    counts = imp["problems"].get("counts", {})
    return pd.DataFrame([{"problem": k, "rows": v, "meaning": loaders.PROBLEM_KINDS.get(k, "")}
                         for k, v in sorted(counts.items(), key=lambda kv: -kv[1])],
                        columns=["problem", "rows", "meaning"])


def first_problems(imp: Mapping[str, Any]) -> pd.DataFrame:
    """The first problems the import kept, located as `file:line` (the file's name only)."""
    return pd.DataFrame([{"where": f"{Path(p['source']).name}:{p['line']}", "problem": p["kind"],
                          "message": p["message"]} for p in imp["problems"].get("first", [])],
                        columns=["where", "problem", "message"])


def imports_table(imports: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every import, newest first, with its local time."""
    return pd.DataFrame([{
        "import": imp["import_id"], "source": imp["source"], "schema": imp["schema"],
        "rows read": imp["rows_read"], "new samples": imp["new_samples"], "duplicates": imp["duplicates"],
        "skipped": imp["skipped"], "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(imp["created"])),
    } for imp in reversed(imports)])


def import_label(imp: Mapping[str, Any]) -> str:
    return f"#{imp['import_id']}: {Path(imp['source']).name}"
