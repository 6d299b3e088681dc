"""What the Export page offers and suggests: the decision choices, a default file per format, a download's type,
and which files an export would replace (the page asks before replacing them)."""

from __future__ import annotations

from pathlib import Path

from curation.formats import exporter

SUFFIX = {fmt: suffixes[0] for fmt, suffixes in exporter.SUFFIXES.items()}  # the suffix a new file gets
DECISIONS = {"not_rejected": "Everything not rejected", "approved": "Approved only",
             "any": "Everything (ignore decisions)"}
PARQUET_SCHEMAS = ("messages", "alpaca", "sharegpt")  # row schemas inside a Parquet file


def format_label(fmt: str) -> str:
    return "Parquet" if fmt == "parquet" else f"JSONL, {fmt} schema"


def default_path(root: Path, fmt: str, parquet_schema: str = "messages") -> Path:
    """`<workspace>/exports/curated-<schema><suffix>`: one default per schema, so formats never overwrite."""
    return Path(root) / "exports" / f"curated-{fmt if fmt != 'parquet' else parquet_schema}{SUFFIX[fmt]}"


def mime(path: Path) -> str:
    return "application/vnd.apache.parquet" if Path(path).suffix == ".parquet" else "application/jsonl"


def existing_targets(out: Path, write_rejected: bool) -> list[Path]:
    """The files an export to `out` would replace: the data file, and the rejected file when it is written too."""
    out = Path(out).expanduser()
    targets = [out, out.with_name(out.stem + ".rejected" + out.suffix)] if write_rejected else [out]
    return [p for p in targets if p.is_file()]
