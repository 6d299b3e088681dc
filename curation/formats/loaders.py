"""Stream rows out of JSONL, JSON arrays, CSV/TSV, Parquet, `save_to_disk` folders and hub datasets.

Each row comes with where it came from (`source`, 1-based `line`): the physical line for text formats
(where a CSV row or JSON array element *starts*), the row number for Parquet and `datasets`. A row
that cannot be read becomes a `Problem` in the stream instead of an exception, so the importer can skip
it and count it, or stop at the first one (`--strict`). Problems with the whole input (a missing file,
an unknown format, an unreachable hub) raise `InputError`. Nothing here holds a whole file in memory.
"""

from __future__ import annotations

import csv
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from curation.errors import Cancelled, InputError
from curation.formats import arrow_sources
from curation.formats.json_array import ArrayError, JSONArrayReader, NotAnArrayError

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "hf_disk", "hf_hub")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
             ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_DATASETS_MARKERS = ("state.json", "dataset_dict.json", "dataset_info.json")  # written by save_to_disk
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TICK_ROWS = 1000  # progress and should_stop every this many rows: cheap, yet ~10 updates a second
_CSV_FIELD_LIMIT = 2**31 - 1  # the csv module's default (128 KiB) is shorter than some responses

# Every problem kind the loaders and schemas report (the importer counts problems by these names).
PROBLEM_KINDS: dict[str, str] = {
    "malformed_json": "the line (or array element) is not valid JSON",
    "not_an_object": "valid JSON, but not an object ({...}) that could hold a row",
    "invalid_utf8": "bytes that are not UTF-8 text (or a \\ud800-style lone surrogate escape)",
    "malformed_csv": "a CSV/TSV row with broken quoting or a field count that differs from the header",
    "missing_field": "a field the schema needs is absent or null",
    "wrong_type": "a field has the wrong type (a number where text is expected, ...)",
    "empty_prompt": "the instruction / user turn is empty or whitespace only",
    "empty_response": "the response / assistant turn is empty or whitespace only",
    "bad_turns": "a conversation out of order: not ending with the assistant, two user turns in a row, ...",
    "tool_turns": "a conversation with tool or function-call turns, which records cannot hold",
    "unknown_schema": "no known schema fits the rows (or an unknown schema name was given)",
}


@dataclass(frozen=True)
class Row:
    source: str
    line: int  # text formats: physical line where the row starts; others: 1-based row number
    data: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    source: str
    line: int
    kind: str  # a key of PROBLEM_KINDS
    message: str


ProgressFn = Callable[[int, int, str], None]


def detect_format(source: str | os.PathLike) -> str:
    """One of FORMATS, from the file suffix (or its first bytes); a non-path name means a hub dataset."""
    path = Path(source).expanduser()
    if path.is_dir():
        if any((path / marker).is_file() for marker in _DATASETS_MARKERS):
            return "hf_disk"
        raise InputError("is a folder, but not one written by datasets' save_to_disk (no state.json or "
                         "dataset_dict.json): import its files one at a time", source=str(source))
    if path.is_file():
        fmt = _SUFFIXES.get(path.suffix.lower())
        if fmt in (None, "json"):
            fmt = _sniff(path) or fmt
        if fmt is None:
            raise InputError(f"unknown file format {path.suffix or '(no suffix)'!r}: import .jsonl, .json, "
                             ".csv, .tsv or .parquet files (uncompressed)", source=str(source))
        return fmt
    if path.exists():
        raise InputError("is not a regular file", source=str(source))
    if arrow_sources.looks_like_hub_name(str(source)) and path.suffix.lower() not in _SUFFIXES:
        return "hf_hub"
    raise InputError("no such file or folder", source=str(source))


def _sniff(path: Path) -> str | None:
    """Tell JSON lines from a JSON array (and spot Parquet) by the first bytes."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.removeprefix(_BOM).lstrip()
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        first_line = text.split(b"\n", 1)[0]
        try:
            return "jsonl" if isinstance(json.loads(first_line), dict) else "json"
        except ValueError:
            return "json"  # a multi-line object: the JSON reader explains why that is not a dataset
    return None


def read_rows(
    source: str | os.PathLike,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    hub_split: str = "train",
    fmt: str | None = None,
) -> Iterator[Row | Problem]:
    """Stream a file, folder or hub dataset as `Row`s (and `Problem`s for rows that cannot be read).

    Args:
        source: a file, a `save_to_disk` folder, or a hub dataset name (anything that is not a path).
        progress: called as (done, total, message); total is the file size in bytes, or rows when known.
        should_stop: polled every ~1000 rows; when true, `Cancelled` is raised.
        hub_split: the split to read from a hub dataset or a `DatasetDict` folder.
        fmt: one of FORMATS to override detection.

    Raises:
        InputError: the input as a whole cannot be read (missing, unknown format, hub unreachable).
        Cancelled: should_stop() returned true.
    """
    fmt = fmt or detect_format(source)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}", source=str(source))
    src = str(source)
    ticker = _Ticker(progress, should_stop, Path(src).name if fmt != "hf_hub" else src)
    path = Path(source).expanduser()
    if fmt != "hf_hub" and not path.exists():
        raise InputError("no such file or folder", source=src)
    if fmt in ("jsonl", "json", "csv", "tsv"):
        ticker.total = path.stat().st_size
        with open(path, "rb") as f:
            _refuse_utf16(f, src)
            if fmt == "jsonl":
                yield from _jsonl(f, src, ticker)
            elif fmt == "json":
                yield from _json_array(f, src, ticker)
            else:
                yield from _delimited(f, src, "\t" if fmt == "tsv" else ",", ticker)
    else:
        if fmt == "parquet":
            ticker.total, rows = arrow_sources.parquet_rows(path, src)
        elif fmt == "hf_disk":
            ticker.total, rows = arrow_sources.disk_rows(path, src, hub_split)
        else:
            ticker.total, rows = arrow_sources.hub_rows(src, hub_split)
        for number, data in enumerate(rows, 1):
            ticker(number)
            yield Row(src, number, data)
    ticker.finish()


class _Ticker:
    """Throttled progress reports and cancellation checks, one call per row."""

    def __init__(self, progress: ProgressFn | None, should_stop: Callable[[], bool] | None, name: str):
        self.progress, self.should_stop = progress, should_stop
        self.message = f"reading {name}"
        self.total = 0
        self.done = 0
        self._rows = 0

    def __call__(self, done: int) -> None:
        self.done = done
        self._rows += 1
        if self._rows % _TICK_ROWS:
            return
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped while {self.message} (row {self._rows})")
        if self.progress is not None:
            self.progress(done, self.total, self.message)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total or self.done, self.total or self.done, self.message)


def _refuse_utf16(f: BinaryIO, src: str) -> None:
    if f.read(2) in _UTF16_BOMS:
        raise InputError("is UTF-16 text: save it as UTF-8 and import it again", source=src, line=1,
                         kind="invalid_utf8")
    f.seek(0)


def _jsonl(f: BinaryIO, src: str, ticker: _Ticker) -> Iterator[Row | Problem]:
    done = 0
    for line, raw in enumerate(f, 1):  # binary lines: split on b"\n" only, as editors count lines
        done += len(raw)
        ticker(done)
        if line == 1:
            raw = raw.removeprefix(_BOM)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Problem(src, line, "invalid_utf8",
                          f"byte {exc.start + 1} of the line ({raw[exc.start]:#04x}) is not valid UTF-8")
            continue
        if not text.strip():
            continue  # blank lines (a trailing newline, spacing) are not rows
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Problem(src, line, "malformed_json", f"{exc.msg} at column {exc.colno}")
            continue
        if isinstance(value, dict):
            yield Row(src, line, value)
        else:
            yield Problem(src, line, "not_an_object", f"expected a JSON object, found {_json_type(value)}")


def _json_array(f: BinaryIO, src: str, ticker: _Ticker) -> Iterator[Row | Problem]:
    reader = JSONArrayReader(f)
    try:
        for element in reader:
            ticker(reader.bytes_read)
            if element.invalid_utf8_line is not None:
                yield Problem(src, element.invalid_utf8_line, "invalid_utf8",
                              f"element {element.index} holds bytes that are not valid UTF-8")
            elif isinstance(element.value, dict):
                yield Row(src, element.line, element.value)
            else:
                yield Problem(src, element.line, "not_an_object",
                              f"element {element.index} is {_json_type(element.value)}, not a JSON object")
    except NotAnArrayError as exc:
        raise InputError(str(exc), source=src, line=exc.line, kind="malformed_json") from None
    except ArrayError as exc:  # the rest of the file cannot be located reliably: report and stop
        yield Problem(src, exc.line, "malformed_json", f"{exc}; the rest of the file was not read")


class _LineTracker:
    """Feeds decoded physical lines to the csv module and remembers which ones were not UTF-8."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self.bytes_read = 0
        self._bad_lines: deque[int] = deque()

    def lines(self) -> Iterator[str]:
        for number, raw in enumerate(self._f, 1):
            self.bytes_read += len(raw)
            if number == 1:
                raw = raw.removeprefix(_BOM)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self._bad_lines.append(number)
                yield raw.decode("utf-8", errors="surrogateescape")  # keep the csv structure intact

    def first_bad_line(self, first: int, last: int) -> int | None:
        """The first non-UTF-8 line within first..last (lines before `first` are forgotten)."""
        while self._bad_lines and self._bad_lines[0] < first:
            self._bad_lines.popleft()
        return self._bad_lines[0] if self._bad_lines and self._bad_lines[0] <= last else None


def _delimited(f: BinaryIO, src: str, delimiter: str, ticker: _Ticker) -> Iterator[Row | Problem]:
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    tracker = _LineTracker(f)
    reader = csv.reader(tracker.lines(), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1  # a quoted field may span lines: the row is located where it starts
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Problem(src, start, "malformed_csv", f"broken quoting: {exc}")
            continue
        if not fields:
            continue  # blank line
        bad_line = tracker.first_bad_line(start, reader.line_num)
        if header is None:
            if bad_line is not None:
                raise InputError("the header is not valid UTF-8", source=src, line=bad_line,
                                 kind="invalid_utf8")
            header = fields
            continue
        ticker(tracker.bytes_read)
        if bad_line is not None:
            yield Problem(src, bad_line, "invalid_utf8", "the line holds bytes that are not valid UTF-8")
        elif len(fields) != len(header):
            yield Problem(src, start, "malformed_csv",
                          f"the row has {len(fields)} fields but the header has {len(header)}")
        else:
            # a column without a name is an index written by pandas' to_csv, not data
            yield Row(src, start, {name: value for name, value in zip(header, fields) if name})


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")
