"""Loaders: every file format streams rows with exact file/line locations; bad input becomes Problems."""

from __future__ import annotations

import io
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.errors import Cancelled, InputError
from curation.formats.json_array import ArrayError, JSONArrayReader
from curation.formats.loaders import PROBLEM_KINDS, Problem, Row, detect_format, read_rows
from tests.formats.helpers import load, write_rows

GOOD = {"instruction": "Say hi.", "input": "", "output": "Hi!"}


def _lines(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


def _row(**fields) -> bytes:
    return json.dumps(fields).encode()


# -- JSON lines -------------------------------------------------------------------------------------------
def test_jsonl_reports_each_kind_of_bad_line_at_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_lines(
        b"\xef\xbb\xbf" + _row(**GOOD),                                 # 1 BOM: still a good row
        _row(instruction="a", output="b", category="qa"),              # 2
        b'{"instruction": "x", "output": ',                            # 3 malformed (cut off)
        b"   ",                                                        # 4 blank: not a row
        b"[1, 2]",                                                     # 5 not an object
        b'{"instruction": "caf\xe9", "output": "y"}',                  # 6 latin-1, not UTF-8
        _row(instruction="no output"),                                 # 7 missing field
        _row(instruction=3, output="x"),                               # 8 wrong type
        _row(instruction="q", output=" \t\n"),                         # 9 empty response
        _row(instruction="", input=" ", output="x"),                   # 10 empty prompt
        b'{"instruction": "\\ud800", "output": "x"}',                  # 11 lone surrogate escape
        _row(instruction="crlf", output="ok") + b"\r",                 # 12 CRLF line ending
        b'"just a string"',                                            # 13 not an object
    ))
    records, problems = load(path)
    assert [line for line, _ in records] == [1, 2, 12]
    assert problems == [(3, "malformed_json"), (5, "not_an_object"), (6, "invalid_utf8"),
                        (7, "missing_field"), (8, "wrong_type"), (9, "empty_response"), (10, "empty_prompt"),
                        (11, "invalid_utf8"), (13, "not_an_object")]
    assert records[1][1].extra == {"category": "qa"}
    assert {kind for _, kind in problems} <= set(PROBLEM_KINDS)


def test_jsonl_problem_messages_locate_the_fault(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_lines(_row(**GOOD), b'{"a": 1,, "b": 2}', b'{"x": "\xff"}'))
    problems = [p for p in read_rows(path) if isinstance(p, Problem)]
    assert (problems[0].line, problems[0].kind) == (2, "malformed_json")
    assert "column 9" in problems[0].message
    assert (problems[1].line, problems[1].kind) == (3, "invalid_utf8")
    assert "byte 8" in problems[1].message and "0xff" in problems[1].message


def test_utf16_files_are_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "utf16.jsonl"
    path.write_bytes(json.dumps(GOOD).encode("utf-16"))  # Python writes a BOM first
    with pytest.raises(InputError, match="UTF-16") as info:
        list(read_rows(path))
    assert info.value.kind == "invalid_utf8" and str(path) in str(info.value)


# -- JSON arrays ------------------------------------------------------------------------------------------
def test_json_array_rows_carry_the_line_where_each_element_starts(tmp_path):
    rows = [{"instruction": f"q{i}", "input": "x" * i, "output": f"a{i}", **({"k": [1, 2]} if i % 2 else {})}
            for i in range(7)]
    path = write_rows(tmp_path / "rows.json", rows, "json")
    # independent reference: with indent=2, an element starts on a line that is exactly "  {"
    starts = [n for n, text in enumerate(path.read_text().split("\n"), 1) if text == "  {"]
    got = list(read_rows(path))
    assert [r.line for r in got] == starts
    assert [r.data for r in got] == rows


def test_json_array_with_a_bom_and_non_object_elements(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf[\n  {"instruction": "a", "output": "b"},\n  42,\n  {"instruction": "c", '
                     b'"output": "d"}\n]\n')
    got = list(read_rows(path))
    assert [(type(g).__name__, g.line) for g in got] == [("Row", 2), ("Problem", 3), ("Row", 4)]
    assert got[1].kind == "not_an_object"


def test_truncated_json_array_keeps_rows_before_and_points_at_the_cut_element(tmp_path):
    text = json.dumps([GOOD, GOOD, {"instruction": "long", "output": "cut here"}], indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[: text.rindex("cut here") + 3])
    got = list(read_rows(path))
    assert [r.line for r in got if isinstance(r, Row)] == [2, 7]
    problem = got[-1]
    assert (problem.kind, problem.line) == ("malformed_json", 12)
    assert "truncated" in problem.message


def test_json_array_missing_closing_bracket(tmp_path):
    path = tmp_path / "open.json"
    path.write_text('[\n{"instruction": "a", "output": "b"}\n')
    got = list(read_rows(path))
    assert isinstance(got[0], Row) and (got[1].kind, got[1].line) == ("malformed_json", 3)


def test_malformed_element_in_the_middle_is_reported_at_the_faulty_line(tmp_path):
    path = tmp_path / "mid.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {\n    "instruction": "c",\n'
                    '    "output": nope\n  },\n  {"instruction": "e", "output": "f"}\n]\n')
    got = list(read_rows(path))
    assert isinstance(got[0], Row) and got[0].line == 2
    assert (got[1].kind, got[1].line) == ("malformed_json", 5)
    assert len(got) == 2  # after a syntax error the rest of an array cannot be located reliably


def test_invalid_utf8_inside_a_json_array_element_is_located_and_skipped(tmp_path):
    path = tmp_path / "bytes.json"
    path.write_bytes(b'[\n {"instruction": "a", "output": "b"},\n {"instruction": "x",\n'
                     b'  "output": "\xc3("},\n {"instruction": "c", "output": "d"}\n]')
    got = list(read_rows(path))
    assert [(type(g).__name__, g.line) for g in got] == [("Row", 2), ("Problem", 4), ("Row", 5)]
    assert got[1].kind == "invalid_utf8"


def test_a_single_json_object_is_not_a_dataset(tmp_path):
    path = tmp_path / "one.json"
    path.write_text('{\n  "data": [{"instruction": "a", "output": "b"}]\n}\n')
    assert detect_format(path) == "json"
    with pytest.raises(InputError, match="single JSON object"):
        list(read_rows(path))


@st.composite
def json_array_texts(draw):
    """A JSON array with random spacing; each element's value and its start line, counted independently."""
    leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=12),
                     st.floats(allow_nan=False, allow_infinity=False))
    values = draw(st.lists(st.recursive(leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.text(max_size=5), c, max_size=3), max_leaves=8), max_size=8))
    space = st.text(alphabet=" \t\n\r", max_size=3)
    text, expected = "[" + draw(space), []
    for i, value in enumerate(values):
        if i:
            text += "," + draw(space)
        expected.append((text.count("\n") + 1, value))
        indent = draw(st.sampled_from([None, 1, 2]))
        text += json.dumps(value, ensure_ascii=draw(st.booleans()), indent=indent)
        text += draw(space)
    return text + "]" + draw(space), expected


@settings(max_examples=150, deadline=None)
@given(json_array_texts(), st.integers(1, 40), st.booleans())
def test_json_array_reader_matches_json_loads_at_any_chunk_size(case, chunk_size, bom):
    text, expected = case
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    got = [(e.line, e.value) for e in JSONArrayReader(io.BytesIO(data), chunk_size=chunk_size)]
    assert got == expected
    assert [v for _, v in got] == json.loads(text)


TRICKY_ARRAY = ('[0.0, -1e-3,123456 , 1E+20,true,false,null, "caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\",\n'
                ' {"k": [1.5, {"e": ""}], "\u00e9": "\U0001f600"}, [], {}, "\\n"]')


@pytest.mark.parametrize("chunk_size", range(1, 24))
def test_json_array_reader_handles_every_token_cut_at_every_chunk_boundary(chunk_size):
    data = TRICKY_ARRAY.encode("utf-8")
    got = [e.value for e in JSONArrayReader(io.BytesIO(data), chunk_size=chunk_size)]
    assert got == json.loads(TRICKY_ARRAY)


@settings(max_examples=100, deadline=None)
@given(json_array_texts(), st.integers(1, 40), st.data())
def test_json_array_reader_never_accepts_a_truncated_file(case, chunk_size, data):
    text, _ = case
    raw = text.encode("utf-8")
    cut = data.draw(st.integers(1, len(raw.rstrip()) - 1))
    with pytest.raises(ArrayError):
        list(JSONArrayReader(io.BytesIO(raw[:cut]), chunk_size=chunk_size))


def test_json_array_reader_streams_instead_of_reading_the_whole_file():
    element = json.dumps({"instruction": "x" * 50, "output": "y" * 50})
    data = ("[" + ",\n".join([element] * 5000) + "]").encode()  # ~560 KB
    reader = JSONArrayReader(io.BytesIO(data), chunk_size=4096)
    seen = 0
    for seen, _ in enumerate(reader, 1):
        if seen == 1:
            assert reader.bytes_read <= 4096
        if seen == 2500:
            assert reader.bytes_read < len(data) // 2 + 4096
    assert seen == 5000


# -- CSV / TSV --------------------------------------------------------------------------------------------
def test_csv_rows_start_where_their_first_physical_line_is(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(
        b"\xef\xbb\xbfinstruction,output,category\n"     # 1 header with a BOM
        b'"two\nlines",yes,a\n'                         # 2-3
        b"plain,row,b\n"                                # 4
        b"\n"                                           # 5 blank
        b'caf\xe9,bytes,c\n'                            # 6 not UTF-8
        b"too,many,fields,here\n"                       # 7
        b'"a ""quoted"" word","multi\r\nline\r\nanswer",d\n'  # 8-10
        b'bad "quote,x,e\n'                             # 11: a quote inside an unquoted field is text
        b'"closed"junk,x,f\n'                           # 12 broken quoting
        b"last,one,g\n"                                 # 13
    )
    records, problems = load(path)
    assert [line for line, _ in records] == [2, 4, 8, 11, 13]
    assert problems == [(6, "invalid_utf8"), (7, "malformed_csv"), (12, "malformed_csv")]
    by_line = dict(records)
    assert by_line[2].parts["instruction"] == "two\nlines"
    assert by_line[8].response == "multi\r\nline\r\nanswer" and by_line[8].extra == {"category": "d"}
    assert by_line[2].extra == {"category": "a"}


def test_invalid_utf8_on_the_second_line_of_a_quoted_csv_field_names_that_line(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'instruction,output\nok,fine\n"first\nsecond \xff",x\nnext,row\n')
    assert load(path)[1] == [(4, "invalid_utf8")]
    assert [line for line, _ in load(path)[0]] == [2, 5]


def test_tsv_and_an_unnamed_index_column(tmp_path):
    path = tmp_path / "rows.tsv"
    path.write_text("\tinstruction\tresponse\tcontext\n0\tq\ta\t\n1\tq2\ta2\tctx\n", encoding="utf-8")
    assert detect_format(path) == "tsv"
    records, problems = load(path)
    assert problems == []
    assert [r.extra for _, r in records] == [{}, {}]  # pandas' unnamed index column is not data
    assert records[1][1].parts == {"instruction": "q2", "input": "ctx"} and records[1][1].schema == "dolly"


# -- Parquet, save_to_disk, hub ---------------------------------------------------------------------------
def test_parquet_rows_are_numbered_and_nulls_are_absent_fields(tmp_path):
    import pandas as pd

    rows = [{"instruction": f"q{i}", "output": f"a{i}", "note": "n" if i % 2 else None} for i in range(2500)]
    frame = pd.DataFrame(rows, index=range(10, 2510))  # a non-default index: stored as __index_level_0__
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path, row_group_size=1000)  # three row groups, read one after another
    got = list(read_rows(path))
    assert [r.line for r in got] == list(range(1, 2501))
    assert got[0].data == {"instruction": "q0", "output": "a0"}
    assert got[1].data == {"instruction": "q1", "output": "a1", "note": "n"}


def test_a_damaged_parquet_file_is_an_input_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputError, match="Parquet"):
        list(read_rows(path))


def test_save_to_disk_folders_with_one_or_several_splits(tmp_path):
    datasets = pytest.importorskip("datasets")
    train = datasets.Dataset.from_list([{"instruction": f"q{i}", "output": f"a{i}"} for i in range(1500)])
    test = datasets.Dataset.from_list([{"instruction": "t", "output": "u"}])
    train.save_to_disk(str(tmp_path / "one"))
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "two"))
    datasets.DatasetDict({"validation": test, "test": test}).save_to_disk(str(tmp_path / "three"))
    assert detect_format(tmp_path / "one") == detect_format(tmp_path / "two") == "hf_disk"
    one = list(read_rows(tmp_path / "one"))
    assert [r.line for r in one] == list(range(1, 1501))
    assert one[-1].data == {"instruction": "q1499", "output": "a1499"}
    test_rows = [r.data for r in read_rows(tmp_path / "two", hub_split="test")]
    assert test_rows == [{"instruction": "t", "output": "u"}]
    assert len(list(read_rows(tmp_path / "two"))) == 1500
    with pytest.raises(InputError, match="validation, test"):
        list(read_rows(tmp_path / "three"))


def test_a_hub_name_offline_is_a_clear_error_not_a_traceback(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        list(read_rows("no-such-owner/no-such-dataset-xyz"))
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "no-such-owner/no-such-dataset-xyz" in message and "HF_HUB_OFFLINE" in message
    assert "local file" in message


def test_an_unreachable_hub_fails_fast(monkeypatch):
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                     "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")  # .invalid never resolves (RFC 2606)
    started = time.monotonic()
    with pytest.raises(InputError, match="cannot be reached") as info:
        list(read_rows("someone/some-dataset"))
    assert time.monotonic() - started < 10
    assert "someone/some-dataset" in str(info.value)


# -- detection, progress, cancellation --------------------------------------------------------------------
def test_detect_format(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD) + "\n")
    (tmp_path / "lines.json").write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n")
    (tmp_path / "array.json").write_text(json.dumps([GOOD]))
    (tmp_path / "lines.txt").write_text(json.dumps(GOOD) + "\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "folder").mkdir()
    assert detect_format(tmp_path / "a.jsonl") == "jsonl"
    assert detect_format(tmp_path / "lines.json") == "jsonl"  # many ".json" files are JSON lines
    assert detect_format(tmp_path / "array.json") == "json"
    assert detect_format(tmp_path / "lines.txt") == "jsonl"
    assert detect_format("tatsu-lab/alpaca") == detect_format("squad") == "hf_hub"
    with pytest.raises(InputError, match="unknown file format '.txt'"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="save_to_disk"):
        detect_format(tmp_path / "folder")
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(InputError, match="no such file") as info:
        list(read_rows(missing))
    assert str(missing) in str(info.value)
    with pytest.raises(InputError, match="no such file"):
        detect_format("data/train.csv")
    with pytest.raises(InputError, match="no such file"):
        list(read_rows(missing, fmt="json"))  # a format override does not skip the check


def test_progress_reports_bytes_and_ends_at_the_total(tmp_path):
    path = write_rows(tmp_path / "many.jsonl", [GOOD] * 2500, "jsonl")
    calls = []
    rows = list(read_rows(path, progress=lambda done, total, msg: calls.append((done, total, msg))))
    size = path.stat().st_size
    assert len(rows) == 2500
    assert [c[0] for c in calls] == sorted(c[0] for c in calls) and len(calls) >= 3
    assert all(total == size for _, total, _ in calls) and calls[-1][0] == size
    assert "many.jsonl" in calls[-1][2]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_should_stop_cancels_the_read(tmp_path, fmt):
    path = write_rows(tmp_path / f"many.{fmt}", [GOOD] * 3000, fmt)
    with pytest.raises(Cancelled):
        list(read_rows(path, should_stop=lambda: True))
    assert len(list(read_rows(path, should_stop=lambda: False))) == 3000
