"""CSV / TSV rows with the physical line each starts on; lines that are not UTF-8 or over the cap become problems.

The csv module reads decoded lines from `_LineTracker`, which remembers the lines it could not hand over as
they are (bytes that are not UTF-8, a line over the cap) so the row holding them is reported instead of read.
"""

from __future__ import annotations

import csv
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import BinaryIO

from curation.errors import InputError
from curation.formats.rows import Problem, Row
from curation.formats.text_lines import capped_lines, over_limit_message, too_long_message

_BOM = b"\xef\xbb\xbf"
_LONG_LINE = "\ufffd\n"  # stands in for a line over the cap, so the csv module keeps its structure


class _LineTracker:
    """Feeds decoded physical lines to the csv module and remembers the ones it could not hand over as they are."""

    def __init__(self, f: BinaryIO, cap: int):
        self._f = f
        self._cap = cap
        self.bytes_read = 0
        self._bad_lines: deque[tuple[int, str, str]] = deque()  # (line, problem kind, message)

    def lines(self) -> Iterator[str]:
        for number, (raw, size) in enumerate(capped_lines(self._f, self._cap), 1):
            self.bytes_read += size
            if raw is None:
                self._bad_lines.append((number, "line_too_long", too_long_message(size, self._cap)))
                yield _LONG_LINE
                continue
            if number == 1:
                raw = raw.removeprefix(_BOM)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self._bad_lines.append((number, "invalid_utf8", "the line holds bytes that are not valid UTF-8"))
                yield raw.decode("utf-8", errors="surrogateescape")  # keep the csv structure intact

    def first_bad_line(self, first: int, last: int) -> tuple[int, str, str] | None:
        """The first unreadable line within first..last (lines before `first` are forgotten)."""
        while self._bad_lines and self._bad_lines[0][0] < first:
            self._bad_lines.popleft()
        return self._bad_lines[0] if self._bad_lines and self._bad_lines[0][0] <= last else None


def read_delimited(f: BinaryIO, src: str, delimiter: str, ticker: Callable[[int], None],
                   cap: int) -> Iterator[Row | Problem]:
    """Rows of a CSV (or TSV) file with a header row; `ticker` gets the bytes read so far, once per row."""
    csv.field_size_limit(cap)  # a quoted field may span lines: the cap holds for it too
    tracker = _LineTracker(f, cap)
    reader = csv.reader(tracker.lines(), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1  # a quoted field may span lines: the row is located where it starts
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                yield Problem(src, start, "line_too_long", over_limit_message("a field of the row", cap))
            else:
                yield Problem(src, start, "malformed_csv", f"broken quoting: {exc}")
            continue
        if not fields:
            continue  # blank line
        bad_line = tracker.first_bad_line(start, reader.line_num)
        if header is None:
            if bad_line is not None:
                what = "is not valid UTF-8" if bad_line[1] == "invalid_utf8" else "is too long"
                raise InputError(f"the header {what}", source=src, line=bad_line[0], kind=bad_line[1])
            _refuse_duplicates(fields, src, start)
            header = fields
            continue
        ticker(tracker.bytes_read)
        if bad_line is not None:
            yield Problem(src, *bad_line)
        elif len(fields) != len(header):
            yield Problem(src, start, "malformed_csv",
                          f"the row has {len(fields)} fields but the header has {len(header)}")
        else:
            # a column without a name is an index written by pandas' to_csv, not data
            yield Row(src, start, {name: value for name, value in zip(header, fields) if name})


def _refuse_duplicates(header: list[str], src: str, line: int) -> None:
    """A header naming a column twice: the row as a dict would keep the last of them silently."""
    twice = [name for name, n in Counter(header).items() if n > 1 and name]
    if twice:
        columns = [i for i, name in enumerate(header, 1) if name == twice[0]]
        raise InputError(f"the header names {twice[0]!r} twice (columns {', '.join(map(str, columns))}): rename "
                         "or drop one of them", source=src, line=line, kind="malformed_csv")
