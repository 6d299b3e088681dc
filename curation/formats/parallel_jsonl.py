"""A large local JSON Lines file parsed on every core.

The file is cut into byte ranges that end at line ends; worker processes parse the ranges (UTF-8 decoding,
JSON, the schema's mapping to a record, its content id and stored JSON: nearly all of an import's parsing time)
into the stage's row form (`curation.workspace.imports.staged_fields`), and `parse_file` gives them back in file
order with their true line numbers. So the rows, their order, line numbers and problems are exactly those of the
one-process reader (`loaders.jsonl_rows` runs in both; tested), while a million-row file parses in about half the
time on 2 cores. Smaller files, other formats, one-core machines and processes whose main module is a script
(`spawn_safe`) take the one-process path.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from curation.errors import Cancelled, InputError
from curation.formats import loaders, schemas
from curation.formats.text_lines import capped_lines
from curation.workspace.imports import staged_fields

MIN_BYTES = 32 << 20  # below this (~35k Dolly-length rows) starting the workers costs more than they save
RANGE_BYTES = 4 << 20  # one task: ~0.2 s of parsing, so progress and cancellation stay responsive
MAX_WORKERS = 8
_READ_PAST = 1 << 20

# (line within the range, staged fields or None, problem kind, problem message)
Item = tuple[int, "tuple | None", str, str]


@dataclass(frozen=True)
class Parsed:
    lines: int  # physical lines in the range (blank ones included): where the next range's numbering starts
    items: list[Item]


def workers() -> int:
    """Worker processes for this machine: every core the process may use, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def spawn_safe() -> bool:
    """Whether spawned workers can start without running this process's main script again: multiprocessing
    re-runs a `__main__` that is a file path (the app's page under Streamlit, a user's script) in every child,
    but not one started as a module (`python -m curation ...`, the job worker) nor none at all."""
    main = sys.modules.get("__main__")
    return getattr(getattr(main, "__spec__", None), "name", None) is not None or getattr(main, "__file__", None) is None


def applies(path: Path, fmt: str) -> bool:
    """Whether a file is worth parsing in parallel here (and can be)."""
    return (fmt == "jsonl" and workers() >= 2 and spawn_safe() and path.is_file()
            and path.stat().st_size >= MIN_BYTES)


def byte_ranges(path: Path, range_bytes: int = RANGE_BYTES) -> list[tuple[int, int]]:
    """[start, end) ranges covering the file, each ending just after a newline (or at the end of the file)."""
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as f:
        while bounds[-1] + range_bytes < size:
            f.seek(bounds[-1] + range_bytes)
            while True:  # to the next line end, in bounded reads (a line may be gigabytes long)
                piece = f.readline(_READ_PAST)
                if not piece or piece.endswith(b"\n"):
                    break
            if f.tell() >= size:
                break
            bounds.append(f.tell())
    bounds.append(size)
    return list(zip(bounds[:-1], bounds[1:]))


class _Range:
    """`readline` over [start, end) of an open file, as `capped_lines` reads it."""

    def __init__(self, f: BinaryIO, start: int, end: int):
        f.seek(start)
        self.f, self.left = f, end - start

    def readline(self, limit: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        raw = self.f.readline(self.left if limit < 0 else min(limit, self.left))
        self.left -= len(raw)
        return raw


def parse_range(path: str, start: int, end: int, schema: str, cap: int) -> Parsed:
    """A worker's task: the rows of one byte range, in the stage's form, lines numbered from 1."""
    items: list[Item] = []
    with open(path, "rb") as f:
        view = _Range(f, start, end)
        for item in loaders.jsonl_rows(view, path, lambda done: None, cap, strip_bom=start == 0):
            if isinstance(item, loaders.Problem):
                items.append((item.line, None, item.kind, item.message))
                continue
            try:
                items.append((item.line, staged_fields(schemas.to_record(item.data, schema)), "", ""))
            except InputError as exc:
                items.append((item.line, None, exc.kind, str(exc)))
        lines = sum(1 for _ in capped_lines(_Range(f, start, end), cap))
    return Parsed(lines=lines, items=items)


def parse_file(path: Path, source: str, schema: str, cap: int, *, progress: Callable[[int, int, str], None] | None,
               should_stop: Callable[[], bool] | None,
               range_bytes: int = RANGE_BYTES) -> Iterator[tuple[str, int, tuple | None, str, str]]:
    """(source, line, staged fields or None, problem kind, message) for every row of the file, in file order."""
    ranges = byte_ranges(path, range_bytes)
    total = ranges[-1][1] if ranges else 0
    n = workers()
    message = f"reading {path.name} ({n} processes)"
    # spawn, not fork: the app's job worker and the CLI may hold threads, which a forked child would inherit
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending: list[Future[Parsed]] = []
        queued = consumed = base = 0
        while consumed < len(ranges):
            while queued < len(ranges) and len(pending) < 2 * n:  # bounded: results wait in memory for their turn
                start, end = ranges[queued]
                pending.append(pool.submit(parse_range, str(path), start, end, schema, cap))
                queued += 1
            if should_stop is not None and should_stop():
                raise Cancelled(f"stopped while {message}")
            parsed = pending.pop(0).result()
            for line, fields, kind, text in parsed.items:
                yield source, base + line, fields, kind, text
            base += parsed.lines
            if progress is not None:
                progress(ranges[consumed][1], total, message)
            consumed += 1
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
