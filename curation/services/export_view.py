"""What the Export page offers and suggests: the decision choices, a default file per format, a download's type."""

from __future__ import annotations

from pathlib import Path

SUFFIX = {"alpaca": ".jsonl", "messages": ".jsonl", "sharegpt": ".jsonl", "parquet": ".parquet"}
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
