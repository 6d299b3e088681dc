"""The bundled Dolly-15k: the same rows as the shared copy, found by name, unpacked once, imported offline."""

from __future__ import annotations

import json
import lzma

from curation.formats import bundled_pools
from tests.shared_data import DOLLY


def test_bundled_dolly_holds_exactly_the_shared_rows():
    pool = bundled_pools.find("dolly-15k")
    assert pool is not None and pool.path.exists()
    with lzma.open(pool.path, "rt", encoding="utf-8") as fh:
        bundled = [json.loads(line) for line in fh]
    with open(DOLLY, encoding="utf-8") as fh:
        shared = [json.loads(line) for line in fh]
    assert len(bundled) == pool.rows == 14_989
    assert bundled == shared


def test_licence_and_attribution_ship_beside_the_data():
    text = (bundled_pools.BUNDLED_DIR / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in text and "Databricks" in text


def test_names_are_case_and_spelling_tolerant():
    for name in ("dolly-15k", "Dolly-15k", "DOLLY15K", "dolly_15k", "databricks-dolly-15k"):
        assert bundled_pools.find(name) is bundled_pools.POOLS["dolly-15k"]
    assert bundled_pools.find("databricks/databricks-dolly-15k") is None  # the hub name stays the hub's
    assert bundled_pools.find("alpaca") is None


def test_unpack_is_once_and_leaves_no_temp_file(ws):
    pool = bundled_pools.POOLS["dolly-15k"]
    path = bundled_pools.unpack(ws, pool)
    assert path.read_bytes() == DOLLY.read_bytes()
    stamp = path.stat().st_mtime_ns
    assert bundled_pools.unpack(ws, pool) == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_import_by_name_works_offline_and_twice_costs_nothing(ws):
    from curation.formats import importer
    from curation.workspace import samples

    first = importer.import_source(ws, "dolly-15k")
    assert first.new_samples == samples.count(ws) == 14_989
    again = importer.import_source(ws, "Dolly-15k")
    assert again.new_samples == 0 and samples.count(ws) == 14_989


def test_cli_import_of_the_bundled_name(tmp_path):
    import subprocess
    import sys

    from tests.shared_data import ROOT

    done = subprocess.run([sys.executable, "-m", "curation", "import", "dolly-15k", "-w", str(tmp_path / "ws")],
                          capture_output=True, text=True, cwd=ROOT, env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert "14,989" in done.stdout or "14989" in done.stdout


def test_records_reads_the_first_rows_without_a_workspace():
    with open(DOLLY, encoding="utf-8") as fh:
        first = [json.loads(next(fh)) for _ in range(5)]
    got = bundled_pools.records(bundled_pools.POOLS["dolly-15k"], 5)
    assert [r.response for r in got] == [row["output"] for row in first]
    assert all(row["instruction"] in r.prompt and row["input"] in r.prompt for r, row in zip(got, first))
    assert len(bundled_pools.records(bundled_pools.POOLS["dolly-15k"])) == 14_989
