"""Physical lines of a text file with a size cap, and telling UTF-16 from UTF-8 by the first bytes.

Iterating a binary file (`for raw in f`) holds a whole line, however long: a 1 GB line takes over 2 GB by the
time it is decoded and parsed. `capped_lines` reads at most `cap + 1` bytes at a time; a longer line is
read past in bounded chunks and given as None, so the loaders report it (`line_too_long`) and go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class LineReader(Protocol):
    """What line readers need of a file: an open binary file, or a byte range of one."""

    def readline(self, limit: int = -1, /) -> bytes: ...


MAX_LINE_BYTES = 64 << 20  # default cap on one line (or JSON array element, or CSV field); see docs/formats.md
_SKIP_CHUNK = 1 << 20
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 4096


def capped_lines(f: LineReader, cap: int) -> Iterator[tuple[bytes | None, int]]:
    """(line, its length in bytes) for each physical line, newline kept; line is None when longer than cap."""
    while True:
        raw = f.readline(cap + 1)
        if not raw:
            return
        if len(raw) <= cap or raw.endswith(b"\n"):  # a line of exactly `cap` bytes plus its newline fits
            yield raw, len(raw)
            continue
        size = len(raw)
        del raw
        while True:  # read past the rest of the line without keeping it
            chunk = f.readline(min(cap + 1, _SKIP_CHUNK))
            size += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield None, size


def size_words(size: int) -> str:
    """A byte count as people say it: 64 MiB, 1.5 MiB, 300 KiB, 12 bytes."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def too_long_message(size: int, cap: int, what: str = "the line") -> str:
    return (f"{what} is {size_words(size)}, over the {size_words(cap)} limit (raise it with --max-line-mib "
            "if the row is real)")


def over_limit_message(what: str, cap: int) -> str:
    return f"{what} is longer than the {size_words(cap)} limit (raise it with --max-line-mib if the row is real)"


def utf16_problem(head: bytes) -> str | None:
    """Why `head` (a file's first bytes) looks like UTF-16, or None. Without a byte order mark, UTF-16 text
    that is mostly ASCII (JSON's punctuation always is) has a NUL in every other byte."""
    if head[:2] in _UTF16_BOMS:
        return "is UTF-16 text: save it as UTF-8 and import it again"
    sample = head[:_SNIFF_BYTES]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if max(even, odd) >= 0.3 * half and min(even, odd) <= 0.05 * max(even, odd):
        order = "little" if odd > even else "big"
        return (f"looks like UTF-16 ({order}-endian) without a byte order mark (UTF-16? every other byte is "
                "NUL): save it as UTF-8 and import it again")
    return None
