"""The generated demo pool: deterministic, correct where clean, and with the planted problems really there."""

from __future__ import annotations

import difflib
import json
import re

from curation.formats import demo, importer
from curation.records import normalise, single_turn
from curation.workspace import samples


def rows_of(lines):
    out = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "demo" in row:
            out.append(row)
    return out


def test_deterministic_and_seeded():
    assert demo.generate() == demo.generate()
    assert demo.generate(demo.DemoSpec(seed=1)) != demo.generate()
    assert sorted(demo.generate(demo.DemoSpec(seed=1))) != sorted(demo.generate())  # different plants too


def test_kinds_and_counts_follow_the_spec():
    spec = demo.DemoSpec(paraphrases=30, exact_duplicates=12, noisy_per_kind=4, malformed=2)
    lines = demo.generate(spec)
    rows = rows_of(lines)
    kinds = {}
    for r in rows:
        kinds[r["demo"]] = kinds.get(r["demo"], 0) + 1
    assert kinds["clean"] == len(demo.clean_rows()) >= 200
    assert kinds["paraphrase"] == 30 and kinds["exact_duplicate"] == 12
    assert all(kinds[f"noisy:{k}"] == 4 for k in demo.NOISE_KINDS)
    assert len(lines) - len(rows) == 2
    assert len({r["category"] for r in rows}) >= 8


def test_clean_answers_are_right():
    rows = demo.clean_rows()
    times = [r for r in rows if re.fullmatch(r"What is \d+ times \d+\?", r["instruction"])]
    assert len(times) >= 10
    for r in times:
        a, b = map(int, re.findall(r"\d+", r["instruction"]))
        assert str(a * b) in r["output"]
    for r in rows:
        if r["instruction"].startswith("Convert ") and "Celsius" in r["instruction"]:
            c = int(re.findall(r"-?\d+", r["instruction"])[0])
            assert f"is {c * 1.8 + 32:g} degrees Fahrenheit" in r["output"]
    keys = [(r["instruction"], r["input"], r["output"]) for r in rows]
    assert len(set(keys)) == len(keys)  # clean rows are distinct


def test_planted_problems_are_what_they_claim():
    rows = rows_of(demo.generate())
    clean = {(r["instruction"], r["input"]): r for r in rows if r["demo"] == "clean"}
    clean_ids = {single_turn(r["instruction"], r["output"], r["input"]).id for r in clean.values()}
    by_output = {r["output"]: r for r in clean.values()}
    for r in rows:
        kind = r["demo"]
        if kind == "paraphrase":
            original = max((c for c in clean.values() if r["output"].endswith(c["output"])
                            and c["input"] == r["input"]), key=lambda c: len(c["output"]))
            assert r["instruction"] != original["instruction"]
            assert difflib.SequenceMatcher(None, r["instruction"], original["instruction"]).ratio() > 0.6
        elif kind == "exact_duplicate":
            assert single_turn(r["instruction"], r["output"], r["input"]).id in clean_ids
        elif kind == "noisy:garbled":
            assert not re.search(r"[aeiou]", r["output"]) and len(r["output"]) > 20
        elif kind == "noisy:wrong_language":
            assert r["output"] in demo.C.WRONG_LANGUAGE
        elif kind == "noisy:truncated":
            source = clean[(r["instruction"], r["input"])]["output"]
            assert source.startswith(r["output"]) and len(r["output"]) < len(source)
        elif kind == "noisy:near_empty":
            assert len(r["output"]) <= 10
        elif kind == "noisy:empty":
            assert not r["output"].strip()
        elif kind == "noisy:repetitive":
            sentence = r["output"].split(" ")[0]
            assert r["output"].count(sentence) >= 12
    assert by_output  # sanity: clean outputs were indexed


def test_import_shows_duplicates_and_the_error_report(ws):
    spec = demo.DemoSpec()
    report = demo.import_demo(ws, spec)
    lines = demo.demo_path(ws).read_text(encoding="utf-8").splitlines()
    rows = rows_of(lines)
    assert report.source.endswith("demo/demo-pool.jsonl")
    assert report.duplicates_in_source == spec.exact_duplicates
    expected_samples = len({tuple(normalise(r[k]) for k in ("instruction", "input", "output")) for r in rows
                            if r["output"].strip()})
    assert report.new_samples == samples.count(ws) == expected_samples
    assert report.problem_counts == {"empty_response": spec.noisy_per_kind, "malformed_json": 1,
                                     "missing_field": 1, "not_an_object": 1}
    for problem in report.problems:  # every reported line really is a broken or empty row in the file
        text = lines[problem["line"] - 1]
        assert text in demo.MALFORMED_LINES or json.loads(text)["demo"] == "noisy:empty"
    frame = samples.frame(ws)
    assert int((frame["dup_count"] > 1).sum()) == spec.exact_duplicates
    again = importer.import_source(ws, demo.demo_path(ws))  # re-import adds nothing
    assert again.new_samples == 0


def test_hub_reachable_honours_offline_mode(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert demo.hub_reachable() is False
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens on the discard port
    assert demo.hub_reachable(timeout=0.5) is False
