"""Parsing a JSON Lines file on every core (curation.formats.parallel_jsonl) gives what the one-process reader
gives: the same rows in the same order with the same line numbers, the same problems, the same workspace.

Reference: the one-process path (`loaders.read_rows` + `schemas.to_record`), on real Dolly rows mixed with every
kind of bad line, cut into ranges a few lines long so that bad lines, blank lines and a too-long line straddle
range ends."""

from __future__ import annotations

import json
import sys
import types

import pytest

from curation.errors import Cancelled
from curation.formats import importer, loaders, parallel_jsonl, schemas
from curation.workspace import Workspace, imports
from tests.shared_data import DOLLY


@pytest.fixture(autouse=True)
def _no_main_script(monkeypatch):
    """Spawned workers must not re-run a main script: other tests (AppTest) may leave the app's page there."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


def _messy_file(path, rows: int = 400) -> None:
    good = [line for line in DOLLY.read_text(encoding="utf-8").splitlines()[:rows]]
    bad = [b"{not json", b"[1, 2]", b'{"instruction": "no output"}', b"\xff\xfe broken utf-8",
           b"", b"   ", b'{"instruction": "x", "output": ""}', b"9" * 5000 + b"]", good[3].encode()]
    out = [b"\xef\xbb\xbf" + good[0].encode()]  # a byte order mark on the first line
    for i, line in enumerate(good[1:], 1):
        out.append(line.encode())
        if i % 37 == 0:
            out.append(bad[(i // 37) % len(bad)])
    out.append(b"x" * 3000)  # over the cap set below: read past, reported
    out.append(good[5].encode())  # the last line without a newline
    path.write_bytes(b"\n".join(out))


def _serial(path, cap):
    out = []
    for item in loaders.read_rows(path, max_line_bytes=cap):
        if isinstance(item, loaders.Problem):
            out.append((item.line, None, item.kind, item.message))
            continue
        try:
            out.append((item.line, imports.staged_fields(schemas.to_record(item.data, "alpaca")), "", ""))
        except Exception as exc:  # the schema's InputError, as the importer catches it
            out.append((item.line, None, exc.kind, str(exc)))  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize("range_bytes", [1, 700, 50_000])
def test_every_range_cut_gives_the_one_process_rows_and_problems(tmp_path, range_bytes):
    path = tmp_path / "messy.jsonl"
    _messy_file(path)
    cap = 2048
    ranges = parallel_jsonl.byte_ranges(path, range_bytes)
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, each ending after a newline
    data = path.read_bytes()
    assert all(data[end - 1:end] == b"\n" for _, end in ranges[:-1])
    got = [(line, fields, kind, message) for _, line, fields, kind, message in parallel_jsonl.parse_file(
        path, str(path), "alpaca", cap, progress=None, should_stop=None, range_bytes=range_bytes)]
    expected = _serial(path, cap)
    assert got == expected
    kinds = {kind for _, fields, kind, _ in expected if fields is None}
    assert {"malformed_json", "not_an_object", "missing_field", "invalid_utf8", "empty_response",
            "line_too_long"} <= kinds


def test_an_import_through_the_workers_makes_the_same_workspace(tmp_path, monkeypatch):
    path = tmp_path / "messy.jsonl"
    _messy_file(path, 1200)


    def imported(name: str, parallel: bool):
        monkeypatch.setattr(parallel_jsonl, "MIN_BYTES", 0 if parallel else 1 << 62)
        monkeypatch.setattr(parallel_jsonl, "RANGE_BYTES", 64 << 10)
        ws = Workspace(tmp_path / name)
        messages = []
        report = importer.import_source(ws, path, progress=lambda d, t, m: messages.append(m))
        tables = {t: [tuple(r) for r in ws.query(f"SELECT * FROM {t} ORDER BY {order}")]
                  for t, order in (("samples", "rowid"), ("occurrences", "pos"))}
        ws.close()
        return report, tables, messages

    one, one_tables, one_messages = imported("one", parallel=False)
    many, many_tables, many_messages = imported("many", parallel=True)
    assert any("processes)" in m for m in many_messages) and not any("processes)" in m for m in one_messages)
    assert (many.rows_read, many.rows_imported, many.new_samples, many.skipped, many.problem_counts,
            many.problems) == (one.rows_read, one.rows_imported, one.new_samples, one.skipped, one.problem_counts,
                               one.problems)
    created = 12  # samples' creation time differs between the two imports

    def strip(row: tuple) -> tuple:
        return row[:created] + row[created + 1:]

    assert [strip(r) for r in many_tables["samples"]] == [strip(r) for r in one_tables["samples"]]
    assert many_tables["occurrences"] == one_tables["occurrences"]


def test_cancelling_stops_the_workers_and_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "big.jsonl"
    _messy_file(path, 1200)
    monkeypatch.setattr(parallel_jsonl, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel_jsonl, "RANGE_BYTES", 16 << 10)
    ws = Workspace(tmp_path / "ws")
    calls = []
    with pytest.raises(Cancelled):
        importer.import_source(ws, path, should_stop=lambda: calls.append(1) or len(calls) > 3)
    assert ws.scalar("SELECT COUNT(*) FROM samples") == 0
    ws.close()


def test_json_lines_rows_number_lines_as_an_editor_does(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps({"instruction": f"q{i}", "response": "a"}) for i in range(5)) + "\n\n")
    rows = list(parallel_jsonl.parse_file(path, str(path), "alpaca", 1 << 20, progress=None, should_stop=None,
                                          range_bytes=10))
    assert [line for _, line, *_ in rows] == [1, 2, 3, 4, 5]


def test_a_main_script_keeps_the_one_process_reader(tmp_path, monkeypatch):
    """A process whose main module is a script (the app's page under Streamlit, a user's script without a
    `__main__` guard) would run it again in every spawned worker: such processes parse in one process."""
    script = types.ModuleType("__main__")
    script.__file__ = str(tmp_path / "app.py")
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert not parallel_jsonl.spawn_safe()
    as_module = types.ModuleType("__main__")
    as_module.__file__ = "curation/__main__.py"
    as_module.__spec__ = types.SimpleNamespace(name="curation.__main__")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", as_module)
    assert parallel_jsonl.spawn_safe()
