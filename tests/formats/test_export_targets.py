"""Exports one line away from training: LLaMA-Factory's dataset_info.json, a save_to_disk folder, the hub."""

from __future__ import annotations

import json

import pytest

from curation.errors import CurationError
from curation.formats import export_targets, exporter
from tests.shared_data import DOLLY


def _dolly_rows(n):
    with open(DOLLY, encoding="utf-8") as fh:
        return [json.loads(line) for line, _ in zip(fh, range(n), strict=False)]


def _read_like_llama_factory(info_path, name):
    """LLaMA-Factory's reading of an entry, written out by hand: (prompt, query, response) per row."""
    entry = json.loads(info_path.read_text())[name]
    rows = [json.loads(line) for line in (info_path.parent / entry["file_name"]).open(encoding="utf-8")]
    if entry.get("formatting", "alpaca") == "alpaca":
        cols = entry["columns"]
        return [(r[cols["prompt"]], r.get(cols["query"], ""), r[cols["response"]]) for r in rows]
    cols, tags = entry["columns"], entry["tags"]
    out = []
    for r in rows:
        turns = r[cols["messages"]]
        user = next(t[tags["content_tag"]] for t in turns if t[tags["role_tag"]] == tags["user_tag"])
        bot = next(t[tags["content_tag"]] for t in turns if t[tags["role_tag"]] == tags["assistant_tag"])
        out.append((user, "", bot))
    return out


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "messages"])
def test_dataset_info_entry_reads_back_the_pool(dolly_workspace, tmp_path, fmt):
    ws = dolly_workspace(20)
    out = tmp_path / f"curated-{fmt}.jsonl"
    exporter.export(ws, out, exporter.ExportSpec(fmt=fmt))
    info = export_targets.write_dataset_info(out, fmt, "curated")
    got = sorted(_read_like_llama_factory(info, "curated"))
    want = []
    for row in _dolly_rows(20):
        if fmt == "alpaca":
            want.append((row["instruction"], row["input"], row["output"]))
        else:  # chat schemas hold the joined prompt
            prompt = row["instruction"] + ("\n\n" + row["input"] if row["input"] else "")
            want.append((prompt, "", row["output"]))
    assert got == sorted(want)


def test_dataset_info_keeps_other_entries_and_refuses_a_broken_file(tmp_path):
    data = tmp_path / "a.jsonl"
    data.write_text("{}\n")
    info = tmp_path / "dataset_info.json"
    info.write_text(json.dumps({"mine": {"file_name": "mine.json"}}))
    export_targets.write_dataset_info(data, "alpaca", "curated")
    assert set(json.loads(info.read_text())) == {"mine", "curated"}
    info.write_text("{not json")
    with pytest.raises(CurationError, match="dataset_info.json: not valid JSON"):
        export_targets.write_dataset_info(data, "alpaca", "curated")
    assert info.read_text() == "{not json"  # nothing of the user's is lost


def test_save_to_disk_round_trips(dolly_workspace, tmp_path):
    from datasets import load_from_disk

    ws = dolly_workspace(15)
    out = tmp_path / "curated.jsonl"
    exporter.export(ws, out, exporter.ExportSpec(fmt="alpaca"))
    folder = export_targets.save_to_disk(out, tmp_path / "curated_ds")
    loaded = load_from_disk(str(folder))
    assert sorted(loaded["output"]) == sorted(r["output"] for r in _dolly_rows(15))
    with pytest.raises(CurationError, match="exists"):
        export_targets.save_to_disk(out, folder)


def test_push_to_hub_offline_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tmp_path / "a.jsonl"
    data.write_text('{"instruction": "a", "input": "", "output": "b"}\n')
    with pytest.raises(CurationError, match="cannot push to me/curated: the hub is switched off"):
        export_targets.push_to_hub(data, "me/curated")


def test_cli_export_writes_the_targets_and_the_manifest_names_them(dolly_workspace, tmp_path):
    from curation.cli import main
    from curation.formats.manifest import manifest_path, verify

    ws = dolly_workspace(12)
    out = tmp_path / "curated.jsonl"
    assert main(["export", str(out), "-w", str(ws.root), "--format", "sharegpt", "--llama-factory", "my_set",
                 "--save-to-disk", str(tmp_path / "ds")]) == 0
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["my_set"]["formatting"] == "sharegpt" and info["my_set"]["file_name"] == "curated.jsonl"
    targets = json.loads(manifest_path(out).read_text())["targets"]
    assert [t["kind"] for t in targets] == ["llama_factory", "save_to_disk"]
    assert (tmp_path / "ds" / "dataset_info.json").exists()  # what save_to_disk writes
    assert verify(out).ok  # the rewritten manifest still names the data's hash


def test_cli_push_to_hub_offline_fails_in_one_line_after_the_export(dolly_workspace, tmp_path, monkeypatch, capsys):
    from curation.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ws = dolly_workspace(12)
    out = tmp_path / "curated.jsonl"
    assert main(["export", str(out), "-w", str(ws.root), "--push-to-hub", "me/curated"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot push to me/curated" in err and out.exists()
