"""Hostile values and sizes are one skipped, reported row: huge numbers, deep nesting, lines over the cap."""

from __future__ import annotations

import json
import os
import sys

import pytest

from curation.errors import InputError
from curation.formats import importer, preview
from curation.formats.json_array import JSONArrayReader
from curation.formats.loaders import PROBLEM_KINDS, Problem, Row, read_rows
from curation.formats.turns import type_name
from tests.formats.helpers import load

GOOD = {"instruction": "Name a colour.", "input": "", "output": "Blue."}
HUGE_INT = b'{"instruction": "count", "output": ' + b"7" * 5000 + b"}"
DEEP = b'{"instruction": "nest", "output": "x", "meta": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def _lines(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


def _good(n: int) -> bytes:
    return json.dumps({**GOOD, "instruction": f"Name colour {n}."}).encode()


def test_a_5000_digit_integer_and_5000_deep_nesting_are_skipped_rows_in_json_lines(tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(_lines(_good(1), HUGE_INT, _good(3), DEEP, _good(5)))
    records, problems = load(path)
    assert [line for line, _ in records] == [1, 3, 5]
    assert problems == [(2, "number_too_long"), (4, "too_deep")]
    assert {"number_too_long", "too_deep"} <= set(PROBLEM_KINDS)


def test_nesting_deeper_than_the_limit_but_parseable_is_refused_too(tmp_path):
    # 300 levels parse with Python's default recursion limit, but later steps recurse over the value
    path = tmp_path / "deep300.jsonl"
    path.write_bytes(_lines(_good(1), b'{"instruction": "a", "output": "b", "m": ' + b"[" * 300 + b"]" * 300 + b"}"))
    _, problems = load(path)
    assert problems == [(2, "too_deep")]


def test_a_json_array_skips_the_hostile_element_and_reads_on(tmp_path):
    path = tmp_path / "hostile.json"
    path.write_bytes(b"[\n" + b",\n".join([_good(1), HUGE_INT, _good(3), DEEP, _good(5)]) + b"\n]\n")
    for chunk in (64, 1 << 20):  # the skipped element spans many chunks, or sits in one
        with open(path, "rb") as f:
            items = [(e.line, e.problem[0]) if e.problem else e.line
                     for e in JSONArrayReader(f, chunk_size=chunk)]
        assert items == [2, (3, "number_too_long"), 4, (5, "too_deep"), 6], chunk
    items = list(read_rows(path))
    assert [(i.line, i.kind) if isinstance(i, Problem) else i.line for i in items] == [
        2, (3, "number_too_long"), 4, (5, "too_deep"), 6]


def test_the_importer_and_the_preview_report_them_with_file_and_line(ws, tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(_lines(_good(1), HUGE_INT, DEEP))
    report = importer.import_source(ws, path)
    assert report.rows_imported == 1 and report.problem_counts == {"number_too_long": 1, "too_deep": 1}
    assert [(p["line"], p["kind"]) for p in report.problems] == [(2, "number_too_long"), (3, "too_deep")]
    pv = preview.preview(path)
    assert [(p["line"], p["kind"]) for p in pv.problems] == [(2, "number_too_long"), (3, "too_deep")]


def test_a_deeply_nested_csv_cell_is_a_problem_not_a_traceback(tmp_path):
    path = tmp_path / "deep.csv"
    cell = "[" * 5000 + "]" * 5000
    path.write_text('messages\n"' + cell + '"\n', encoding="utf-8")
    _, problems = load(path, schema="messages")
    assert problems == [(2, "too_deep")]


# -- the line cap ---------------------------------------------------------------------------------------------
def test_a_line_over_the_cap_is_one_line_too_long_problem_and_the_next_lines_are_read(tmp_path):
    path = tmp_path / "long.jsonl"
    long_row = json.dumps({"instruction": "x", "output": "y" * (3 << 20)}).encode()  # ~3 MB on one line
    path.write_bytes(_lines(_good(1), long_row, _good(3)))
    items = list(read_rows(path, max_line_bytes=1 << 20))
    assert [(i.line, i.kind) if isinstance(i, Problem) else i.line for i in items] == [1, (2, "line_too_long"), 3]
    assert "line_too_long" in PROBLEM_KINDS and "1 MiB" in items[1].message


def test_the_line_reader_never_holds_more_than_the_cap(tmp_path, monkeypatch):
    """Reads from the file are bounded by the cap: a 3 MB line under a 256 KiB cap is never read whole."""
    path = tmp_path / "long.jsonl"
    path.write_bytes(_lines(_good(1), b'{"output": "' + b"z" * (3 << 20) + b'"}', _good(3)))
    cap = 256 << 10
    biggest = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self._f = f

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

        def __iter__(self):
            raise AssertionError("iterating a file reads whole lines")

        def readline(self, size=-1):
            assert 0 < size <= cap + 1
            out = self._f.readline(size)
            biggest.append(len(out))
            return out

        def read(self, size=-1):
            assert 0 < size <= max(cap + 1, 1 << 20)
            out = self._f.read(size)
            biggest.append(len(out))
            return out

    monkeypatch.setattr("builtins.open", lambda p, mode="r", *a, **k:
                        Spy(real_open(p, mode, *a, **k)) if os.fspath(p) == os.fspath(path) else
                        real_open(p, mode, *a, **k))
    items = list(read_rows(path, fmt="jsonl", max_line_bytes=cap))
    assert [i.line for i in items if isinstance(i, Row)] == [1, 3]
    assert max(biggest) <= cap + 1


def test_a_json_array_element_over_the_cap_is_reported(tmp_path):
    path = tmp_path / "long.json"
    path.write_bytes(b"[" + _good(1) + b', {"output": "' + b"z" * (2 << 20) + b'"}]')
    items = list(read_rows(path, max_line_bytes=1 << 20))
    assert isinstance(items[0], Row)
    assert (items[1].line, items[1].kind) == (1, "line_too_long")


def test_a_csv_field_over_the_cap_is_reported(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("instruction,output\na,b\nc," + "d" * (2 << 20) + "\ne,f\n", encoding="utf-8")
    items = list(read_rows(path, max_line_bytes=1 << 20))
    assert [(i.line, i.kind) if isinstance(i, Problem) else i.line for i in items][:2] == [2, (3, "line_too_long")]


def test_the_importer_passes_the_cap_through(ws, tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(_lines(_good(1), b'{"instruction": "x", "output": "' + b"y" * (2 << 20) + b'"}'))
    report = importer.import_source(ws, path, max_line_bytes=1 << 20)
    assert report.rows_imported == 1 and report.problem_counts == {"line_too_long": 1}


# -- clearer messages -----------------------------------------------------------------------------------------
def test_duplicated_csv_header_is_refused_naming_the_header(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("instruction,output,output\na,first,second\n", encoding="utf-8")
    with pytest.raises(InputError, match="'output'") as info:
        list(read_rows(path))
    assert "twice" in str(info.value) and f"{path}:1" in str(info.value)


def test_a_symlink_loop_is_called_a_symlink_loop(tmp_path):
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(tmp_path / "loop.jsonl")
    with pytest.raises(InputError, match="symlink loop"):
        list(read_rows(loop))


def test_utf16_without_a_bom_is_named(tmp_path):
    for codec in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{codec}.jsonl"
        path.write_bytes((json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n").encode(codec))
        with pytest.raises(InputError, match=r"UTF-16\?"):
            list(read_rows(path))


def test_nul_bytes_message_reads_well(tmp_path):
    path = tmp_path / "nul.jsonl"
    path.write_bytes(_lines(b'{"instruction": "a\x00b", "output": "c"}'))
    (problem,) = list(read_rows(path))
    assert problem.kind == "malformed_json"
    assert "at at" not in problem.message and "column 19" in problem.message


def test_a_null_turn_is_called_null():
    assert type_name(None) == "null"
    from curation.formats.schemas import to_record

    with pytest.raises(InputError, match="turn 1 is null"):
        to_record({"messages": [None]}, "messages")


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
def test_skipping_a_hostile_element_respects_strings_and_escapes_at_any_chunk_size(tmp_path, chunk):
    """Brackets, commas and escaped quotes inside strings must not end the skipped element early."""
    tricky = '"a\\\\\\"]},[{\\\\", '  # the text a\"]},[{\ : an escaped quote, brackets and a comma in a string
    hostile = ('{"s": ' + tricky[:-2] + ', "d": ' + "[" * 3000 + '"]]," ' + "]" * 3000 + ', "n": 1}').encode()
    huge = b'[' + b'"x]", ' + b"9" * 5000 + b']'
    path = tmp_path / "tricky.json"
    path.write_bytes(b"[" + _good(1) + b",\n" + hostile + b",\n" + huge + b",\n" + _good(4) + b"]")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:  # the file is valid JSON, Python's limits aside
        json.loads(path.read_bytes().replace(b"9" * 5000, b"9"))
    finally:
        sys.setrecursionlimit(limit)
    with open(path, "rb") as f:
        items = [(e.line, e.problem[0]) if e.problem else (e.line, e.value["instruction"])
                 for e in JSONArrayReader(f, chunk_size=chunk)]
    assert items == [(1, "Name colour 1."), (2, "too_deep"), (3, "number_too_long"), (4, "Name colour 4.")]


def test_a_broken_symlink_names_its_target(tmp_path):
    link = tmp_path / "gone.jsonl"
    link.symlink_to(tmp_path / "moved.jsonl")
    with pytest.raises(InputError, match="symbolic link to .*moved.jsonl.*does not exist"):
        list(read_rows(link))


def test_a_json_file_whose_first_line_is_too_deep_is_read_as_json_lines(tmp_path):
    """Telling JSON lines from a JSON array parses the first line: a hostile one must not escape from there."""
    path = tmp_path / "rows.json"
    path.write_bytes(_lines(DEEP, _good(2)))
    records, problems = load(path)
    assert [line for line, _ in records] == [2] and problems == [(1, "too_deep")]
