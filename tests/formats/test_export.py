"""Export: import(export(x)) gives back the same records, for every schema, on real data and multi-turn."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from curation.errors import CurationError
from curation.formats import exporter, importer
from curation.formats.exporter import ExportSpec
from curation.records import Message, Record, record_to_json
from curation.workspace import Workspace, decisions, runs, samples
from tests.shared_data import DOLLY, alpaca_path, write_jsonl_head

MULTI_TURN = [
    {"conversations": [{"from": "system", "value": "Be terse."},
                       {"from": "human", "value": "Hi, what is 2+2?"}, {"from": "gpt", "value": "4."},
                       {"from": "human", "value": "And times 3?"}, {"from": "gpt", "value": "12."}],
     "source_tag": "math"},
    {"conversations": [{"from": "human", "value": "Name a bird."}, {"from": "gpt", "value": "Robin."}]},
]


def records_of(ws) -> dict[str, dict]:
    return {sid: record_to_json(rec) for sid, rec in samples.iter_records(ws)}


def round_trip(ws, tmp_path, fmt, **spec_kw):
    out = tmp_path / f"out.{fmt}.{'parquet' if fmt == 'parquet' else 'jsonl'}"
    result = exporter.export(ws, out, ExportSpec(fmt=fmt, **spec_kw))
    again = Workspace(tmp_path / f"again-{fmt}")
    importer.import_source(again, result.path)
    return result, again


@pytest.mark.parametrize("fmt", ["alpaca", "messages", "sharegpt", "parquet"])
@pytest.mark.parametrize("data", ["dolly", "alpaca"])
def test_round_trip_real_data(tmp_path, fmt, data):
    src = write_jsonl_head(DOLLY if data == "dolly" else alpaca_path(), tmp_path / "src.jsonl", 400)
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, src)
    result, again = round_trip(ws, tmp_path, fmt)
    original, back = records_of(ws), records_of(again)
    assert result.count == len(original) == len(back)
    assert list(original) == list(back)  # same ids, same order
    for sid, rec in original.items():
        assert back[sid]["messages"] == rec["messages"]
        assert back[sid]["extra"] == rec["extra"]
        if fmt == "alpaca":  # alpaca carries the instruction/input split exactly
            assert back[sid]["parts"] == rec["parts"]


@pytest.mark.parametrize("fmt", ["alpaca", "messages", "sharegpt"])
def test_multi_turn_survives(tmp_path, fmt):
    src = tmp_path / "chat.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in MULTI_TURN), encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, src)
    first = records_of(ws)
    assert [len(r["messages"]) for r in first.values()] == [5, 2]
    _, again = round_trip(ws, tmp_path, fmt)
    assert {k: v["messages"] for k, v in records_of(again).items()} == {k: v["messages"] for k, v in first.items()}


def test_selection_by_run_iteration_and_decisions(ws, tmp_path):
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 60))
    ids = samples.ids(ws)
    run_id = runs.create(ws, name="r", method="random", config={"x": 1}, budget={"kind": "samples", "value": 5},
                         seed=3, models={"embedder": "m"}, pool_hash=samples.pool_hash(ws))
    runs.add_iteration(ws, run_id, 0, ids[10:15], metrics={"vendi": 2.0})
    runs.add_iteration(ws, run_id, 1, [ids[20], ids[3], ids[7]],
                       scores=pd.DataFrame({"sample_id": ids, "distance_to_selected": range(len(ids))}))
    decisions.record(ws, [ids[3]], "reject", reason="wrong")
    decisions.record(ws, [ids[7]], "approve")

    res = exporter.export(ws, tmp_path / "sel.jsonl", ExportSpec(fmt="messages", run_id=run_id, provenance=True))
    rows = [json.loads(line) for line in res.path.read_text().splitlines()]
    assert [r["_curation"]["id"] for r in rows] == [ids[20], ids[7]]  # pick order, rejected dropped
    assert rows[1]["_curation"]["rank"] == 2 and rows[1]["_curation"]["decision"] == "approved"
    assert rows[0]["_curation"]["distance_to_selected"] == 20
    manifest = json.loads(res.manifest_path.read_text())
    assert manifest["count"] == 2 and manifest["run"]["seed"] == 3 and manifest["run"]["iteration"] == 1
    assert manifest["pool"]["hash"] == samples.pool_hash(ws)

    res0 = exporter.export(ws, tmp_path / "it0.jsonl", ExportSpec(run_id=run_id, iteration=0))
    assert res0.count == 5
    approved = exporter.export(ws, tmp_path / "appr.jsonl", ExportSpec(decisions="approved"))
    assert approved.count == 1
    everything = exporter.export(ws, tmp_path / "all.jsonl", ExportSpec(write_rejected=True))
    assert everything.count == len(ids) - 1
    assert len(everything.rejected_path.read_text().splitlines()) == 1


def test_export_is_atomic_and_refuses_empty(ws, tmp_path):
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 5))
    out = tmp_path / "x.jsonl"
    out.write_text("precious\n")
    decisions.record(ws, samples.ids(ws), "reject")
    with pytest.raises(CurationError, match="empty"):
        exporter.export(ws, out, ExportSpec())
    assert out.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".x.jsonl")] == []


def test_record_validation():
    with pytest.raises(ValueError):
        Record(messages=(Message("user", "hi"),))
    with pytest.raises(ValueError):
        Record(messages=(Message("robot", "hi"), Message("assistant", "yo")))


def test_parquet_with_mixed_type_extra_field(tmp_path):
    """An extra field that is a number in one row and text in another cannot be one Arrow type: kept as JSON."""
    import pyarrow.parquet as pq

    src = tmp_path / "mixed.jsonl"
    rows = [{"instruction": "a", "input": "", "output": "b", "meta": 3, "tags": ["x"]},
            {"instruction": "c", "input": "", "output": "d", "meta": "three", "tags": []}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, src)
    out = tmp_path / "mixed.parquet"
    exporter.export(ws, out, ExportSpec(fmt="parquet", parquet_schema="alpaca"))
    table = pq.read_table(out)
    assert json.loads(table.schema.metadata[b"curation.json_columns"]) == ["meta"]
    assert table.column("meta").to_pylist() == ["3", '"three"']
    assert table.column("tags").to_pylist() == [["x"], []]  # consistent types stay native
