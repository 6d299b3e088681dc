"""Stream the elements of a top-level JSON array without loading the file whole.

`json.load` would hold a 1M-element file in memory twice (text and objects). Here the file is read in
chunks, each element is parsed with `json.JSONDecoder.raw_decode` as soon as it is complete, and the
text before it is dropped, so memory holds one chunk plus the element being parsed. Every element
carries the physical line where it starts, so problems can be reported the way a text editor shows them.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from curation.formats.json_values import ValueProblem, check_depth, number_message, too_deep_message
from curation.formats.text_lines import MAX_LINE_BYTES, over_limit_message

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Bytes that were not valid UTF-8 survive decoding as lone surrogates U+DC80..U+DCFF ("surrogateescape");
# valid UTF-8 can never produce them, so finding one inside an element pinpoints an encoding error.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
# A parse error this close to the end of the buffer may only mean the element continues in the next
# chunk: a literal cut as "tr", a number as "1.", an escape as "\\u12" (all shorter than 8 characters).
_CUT_TOKEN_MARGIN = 8
_NUMBER_CHARS = "0123456789.eE+-"
# At the end of the file, an error followed only by the remains of a token means the file was cut off.
_CUT_TAIL = re.compile(r"[\w.+\-\\]*\s*")
# What matters when reading past an element without parsing it: escapes (matched whole), quotes, brackets, commas.
_STRUCTURE = re.compile(r'\\.|["\[\]{},]', re.S)


@dataclass(frozen=True)
class Element:
    index: int  # 1-based position in the array
    line: int  # physical line where the element starts
    value: Any
    invalid_utf8_line: int | None = None  # first line of the element holding bytes that are not UTF-8
    problem: tuple[str, str] | None = None  # (kind, message): read past, not parsed (value is None)


class ArrayError(ValueError):
    """The text stops being a JSON array here; nothing after it can be read reliably."""

    def __init__(self, line: int, message: str, kind: str = "malformed_json"):
        self.line = line
        self.kind = kind
        super().__init__(message)


class NotAnArrayError(ArrayError):
    """The file is valid-looking JSON but not an array (a single object, say): there are no rows."""


class JSONArrayReader:
    """Iterate over `Element`s of the JSON array in a binary stream; `bytes_read` tracks progress."""

    def __init__(self, stream: BinaryIO, *, chunk_size: int = 1 << 20, max_element_bytes: int = MAX_LINE_BYTES):
        self._stream = stream
        self._chunk_size = chunk_size
        self._max_element = max_element_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._json = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._line = 1  # line of self._pos
        self._eof = False
        self.bytes_read = 0

    # -- buffer ---------------------------------------------------------------------------------------
    def _fill(self, at_least: int = 0) -> bool:
        """Append at least one more chunk of text; False once the file is exhausted."""
        if self._eof:
            return False
        data = self._stream.read(max(self._chunk_size, at_least))
        self.bytes_read += len(data)
        if not data:
            self._eof = True
            self._buf += self._decoder.decode(b"", final=True)
            return False
        if self._pos > self._chunk_size:  # drop text already consumed so memory stays ~ one chunk
            self._buf = self._buf[self._pos:]
            self._pos = 0
        self._buf += self._decoder.decode(data)
        return True

    def _advance(self, to: int) -> None:
        self._line += self._buf.count("\n", self._pos, to)
        self._pos = to

    def _line_at(self, offset: int) -> int:
        return self._line + self._buf.count("\n", self._pos, offset)

    def _skip_whitespace(self) -> bool:
        """Move to the next non-whitespace character; False at the end of the file."""
        while True:
            self._advance(_WHITESPACE.match(self._buf, self._pos).end())  # type: ignore[union-attr]  # matches ''
            if self._pos < len(self._buf):
                return True
            if not self._fill():
                return self._pos < len(self._buf)

    # -- parsing --------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Element]:
        while not self._buf and self._fill():
            pass  # a tiny chunk may end inside a multi-byte character (the BOM itself is 3 bytes)
        if self._buf.startswith("\ufeff"):  # UTF-8 byte order mark
            self._pos = 1
        if not self._skip_whitespace():
            return  # an empty file holds no rows
        if self._buf[self._pos] != "[":
            raise NotAnArrayError(self._line, _not_an_array(self._buf[self._pos]))
        self._advance(self._pos + 1)
        index = 0
        while True:
            if not self._skip_whitespace():
                raise ArrayError(self._line, f"the file ends inside the JSON array after {index} elements "
                                             "(truncated?): ']' is missing")
            char = self._buf[self._pos]
            if char == "]":
                self._advance(self._pos + 1)
                if self._skip_whitespace():
                    raise ArrayError(self._line, "unexpected text after the end of the JSON array")
                return
            if index:
                if char != ",":
                    raise ArrayError(self._line, f"expected ',' or ']' after element {index}, found {char!r}")
                self._advance(self._pos + 1)
                if not self._skip_whitespace():
                    raise ArrayError(self._line, f"the file ends after element {index} (truncated?)")
                if self._buf[self._pos] == "]":
                    raise ArrayError(self._line, f"trailing comma after element {index} (JSON allows none)")
            index += 1
            yield self._element(index)

    def _element(self, index: int) -> Element:
        while True:  # self._pos is the element's start (a refill may move it when it drops consumed text)
            try:
                value, end = self._json.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._may_continue(exc):
                    if len(self._buf) - self._pos >= self._max_element:
                        return self._skip(index, "line_too_long",
                                          over_limit_message(f"element {index} starting here", self._max_element))
                    if self._fill(len(self._buf) - self._pos):
                        continue  # the element goes on in the next chunk (reads double: no quadratic re-parsing)
                if exc.msg.startswith("Unterminated string") or _CUT_TAIL.fullmatch(self._buf, exc.pos):
                    raise ArrayError(self._line, f"element {index} starting here is cut off by the end of "
                                                 "the file (truncated?)") from None
                raise ArrayError(self._line_at(exc.pos),
                                 f"malformed JSON in element {index}: {exc.msg.removesuffix(' at')}") from None
            except RecursionError:
                return self._skip(index, "too_deep", too_deep_message())
            except ValueError as exc:  # an integer over Python's 4,300-digit conversion limit
                return self._skip(index, "number_too_long", number_message(exc))
            # a number at the buffer's end may go on in the next chunk ("12" of "123", "0" of "0.5")
            if isinstance(value, int | float) and self._number_may_continue(end) and self._fill():
                continue
            break
        try:
            check_depth(value, self._buf.count("[", self._pos, end) + self._buf.count("{", self._pos, end))
        except ValueProblem as exc:
            element = Element(index, self._line, None, problem=(exc.kind, str(exc)))
            self._advance(end)
            return element
        bad = _ESCAPED_BYTE.search(self._buf, self._pos, end)
        element = Element(index, self._line, value, self._line_at(bad.start()) if bad else None)
        self._advance(end)
        return element

    def _skip(self, index: int, kind: str, message: str) -> Element:
        """Read past the element at self._pos without parsing it (too deep, a huge number, too long): track
        strings and brackets only, dropping the text as it goes, so memory stays about one chunk."""
        line, depth, in_string = self._line, 0, False
        while True:
            last_end = self._pos
            for match in _STRUCTURE.finditer(self._buf, self._pos):
                char, last_end = match.group(), match.end()
                if in_string:
                    in_string = char != '"'  # escapes are matched whole, so a quote here ends the string
                elif char == '"':
                    in_string = True
                elif char in "[{":
                    depth += 1
                elif depth and char in "]}":
                    depth -= 1
                    if not depth:
                        self._advance(match.end())
                        return Element(index, line, None, problem=(kind, message))
                elif not depth:  # a ',' or the array's ']' ends a scalar element
                    self._advance(match.start())
                    return Element(index, line, None, problem=(kind, message))
            # an escape cut by the chunk's end: its backslash is read again with the next chunk
            keep = 1 if in_string and self._buf.endswith("\\") and last_end < len(self._buf) else 0
            self._advance(len(self._buf) - keep)
            if not self._fill():
                raise ArrayError(line, f"element {index} starting here is cut off by the end of the file "
                                       "(truncated?)")

    def _number_may_continue(self, end: int) -> bool:
        return end == len(self._buf) or self._buf[end] in _NUMBER_CHARS

    def _may_continue(self, exc: json.JSONDecodeError) -> bool:
        return not self._eof and (exc.msg.startswith("Unterminated string")
                                  or exc.pos >= len(self._buf) - _CUT_TOKEN_MARGIN)


def _not_an_array(first: str) -> str:
    if first == "{":
        return ("the file holds a single JSON object, not an array of rows: use a JSON array "
                "([{...}, {...}]) or JSON lines (one object per line)")
    return f"expected a JSON array ('[') at the top level, found {first!r}"
