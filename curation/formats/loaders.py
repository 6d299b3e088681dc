"""Stream rows out of JSONL, JSON arrays, CSV/TSV, Parquet, `save_to_disk` folders and hub datasets.

Each row comes with where it came from (`source`, 1-based `line`): the physical line for text formats
(where a CSV row or JSON array element *starts*), the row number for Parquet and `datasets`. A row
that cannot be read becomes a `Problem` in the stream instead of an exception, so the importer can skip
it and count it, or stop at the first one (`--strict`). Problems with the whole input (a missing file,
an unknown format, an unreachable hub) raise `InputError`. Nothing here holds a whole file in memory.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from curation.errors import Cancelled, InputError
from curation.formats import arrow_sources
from curation.formats.delimited import read_delimited
from curation.formats.json_array import ArrayError, JSONArrayReader, NotAnArrayError
from curation.formats.json_values import ValueProblem, parse
from curation.formats.rows import PROBLEM_KINDS, Problem, Row
from curation.formats.text_lines import MAX_LINE_BYTES, LineReader, capped_lines, too_long_message, utf16_problem

__all__ = ["FORMATS", "PROBLEM_KINDS", "Problem", "Row", "detect_format", "read_rows"]

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "hf_disk", "hf_hub")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
             ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_DATASETS_MARKERS = ("state.json", "dataset_dict.json", "dataset_info.json")  # written by save_to_disk
_BOM = b"\xef\xbb\xbf"
_TICK_ROWS = 1000  # progress and should_stop every this many rows: cheap, yet ~10 updates a second

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
    if path.is_symlink():
        raise InputError(_broken_link(path), source=str(source))
    if arrow_sources.looks_like_hub_name(str(source)) and path.suffix.lower() not in _SUFFIXES:
        return "hf_hub"
    raise InputError("no such file or folder", source=str(source))


def _broken_link(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop (the link points back at itself): give the real file's path"
    return f"is a symbolic link to {os.readlink(path)!r}, which does not exist"


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
            return "jsonl" if isinstance(parse(first_line.decode("utf-8", errors="replace")), dict) else "json"
        except ValueProblem as exc:
            # a multi-line object: the JSON reader explains why that is not a dataset; a line that is whole
            # but too deep or holds a huge number is a JSON lines row, reported as such
            return "json" if exc.kind == "malformed_json" else "jsonl"
    return None


def read_rows(
    source: str | os.PathLike,
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    hub_split: str = "train",
    fmt: str | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[Row | Problem]:
    """Stream a file, folder or hub dataset as `Row`s (and `Problem`s for rows that cannot be read).

    Args:
        source: a file, a `save_to_disk` folder, or a hub dataset name (anything that is not a path).
        progress: called as (done, total, message); total is the file size in bytes, or rows when known.
        should_stop: polled every ~1000 rows; when true, `Cancelled` is raised.
        hub_split: the split to read from a hub dataset or a `DatasetDict` folder.
        fmt: one of FORMATS to override detection.
        max_line_bytes: the longest line (JSON array element, CSV field) read; longer ones are
            `line_too_long` problems, read past without being held in memory.

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
                yield from jsonl_rows(f, src, ticker, max_line_bytes)
            elif fmt == "json":
                yield from _json_array(f, src, ticker, max_line_bytes)
            else:
                yield from read_delimited(f, src, "\t" if fmt == "tsv" else ",", ticker, max_line_bytes)
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
    problem = utf16_problem(f.read(4096))
    if problem:
        raise InputError(problem, source=src, line=1, kind="invalid_utf8")
    f.seek(0)


def jsonl_rows(f: LineReader, src: str, ticker: Callable[[int], None], cap: int, *,
               strip_bom: bool = True) -> Iterator[Row | Problem]:
    """The rows of JSON Lines read from `f`, lines numbered from 1 (`strip_bom`: f starts the file, whose first
    line may open with a UTF-8 byte order mark). curation.formats.parallel_jsonl runs it on byte ranges."""
    done = 0
    # binary lines: split on b"\n" only, as editors count lines
    for line, (raw, size) in enumerate(capped_lines(f, cap), 1):
        done += size
        ticker(done)
        if raw is None:
            yield Problem(src, line, "line_too_long", too_long_message(size, cap))
            continue
        if line == 1 and strip_bom:
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
            value = parse(text)
        except ValueProblem as exc:
            column = "" if exc.pos is None else f" at column {exc.pos - text.rfind(chr(10), 0, exc.pos)}"
            yield Problem(src, line, exc.kind, f"{exc}{column}")
            continue
        if isinstance(value, dict):
            yield Row(src, line, value)
        else:
            yield Problem(src, line, "not_an_object", f"expected a JSON object, found {_json_type(value)}")


def _json_array(f: BinaryIO, src: str, ticker: _Ticker, cap: int) -> Iterator[Row | Problem]:
    reader = JSONArrayReader(f, max_element_bytes=cap)
    try:
        for element in reader:
            ticker(reader.bytes_read)
            if element.problem is not None:
                yield Problem(src, element.line, *element.problem)
            elif element.invalid_utf8_line is not None:
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
        yield Problem(src, exc.line, exc.kind, f"{exc}; the rest of the file was not read")


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")
