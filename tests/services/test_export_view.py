"""The Export page's choices and defaults (curation.services.export_view), by hand, and the default path is one
the exporter writes to."""

from __future__ import annotations

from pathlib import Path

from curation.formats import exporter
from curation.services import export_view as view


def test_labels_paths_and_types():
    assert view.format_label("parquet") == "Parquet" and view.format_label("sharegpt") == "JSONL, sharegpt schema"
    root = Path("ws")
    assert view.default_path(root, "alpaca") == Path("ws/exports/curated-alpaca.jsonl")
    assert view.default_path(root, "parquet", "sharegpt") == Path("ws/exports/curated-sharegpt.parquet")
    assert view.mime(Path("a/b.parquet")) == "application/vnd.apache.parquet"
    assert view.mime(Path("a/b.jsonl")) == "application/jsonl"
    assert set(view.SUFFIX) == set(exporter.FORMATS)  # a default for every format the exporter writes
    assert list(view.DECISIONS) == ["not_rejected", "approved", "any"]


def test_the_default_path_takes_an_export(dolly_workspace):
    ws = dolly_workspace(10)
    spec = exporter.ExportSpec(fmt="parquet", parquet_schema="alpaca", decisions="any")
    result = exporter.export(ws, view.default_path(ws.root, "parquet", "alpaca"), spec)
    assert result.path == ws.root / "exports" / "curated-alpaca.parquet" and result.count == 10
