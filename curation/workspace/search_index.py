"""The pool's full-text index (SQLite FTS5 over every sample's instruction and response), in a file of its own.

The index is derived data, kept in `search.sqlite` beside the workspace's database (contentless FTS5: only the
index; the texts stay in `samples`, matched by rowid). A file of its own has a write lock of its own, so an
import's tokenizing (about 50 s at a million rows) runs on the other core while its merge writes the samples
(`curation.workspace.stage_indexer`), and no decision ever waits for it. Every workspace connection attaches the
file read-only as `search`; only `writer` connections change it, and those attach the workspace read-only, so
neither side's transactions take the other's lock.

`state.upto` is the last sample rowid the index holds, written in the transaction that indexes it. Samples are
never deleted and their texts never change, so the one way the index can fall behind is a new sample: the rows
above `upto` (a crash between an import's commit and its index's) are searched by substring meanwhile
(`browse.where`), so the search misses nothing, and `catch_up` indexes them in chunks of their own. A missing or
unreadable file is rebuilt from `samples` when the workspace opens.

Word search: the unicode61 tokenizer (letters and digits are word characters, everything else separates;
Unicode case folding; diacritics kept, so "café" is not "cafe"). A term made of word characters matches that
whole word, and `term*` every word it begins; any other term (punctuation inside, as in "c++" or "e-mail")
cannot be one token, so it matches as a substring, as the LIKE search always did.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curation.workspace.db import Workspace

FILE = "search.sqlite"
SCHEMA = "search"  # the name every workspace connection attaches the file under
TABLE = f"{SCHEMA}.samples_fts"  # query it as a table-valued function: f"SELECT rowid FROM {TABLE}(?)"
STATE = f"{SCHEMA}.state"
CACHE_KIB = -131072  # a writer's page cache (negative: KiB): FTS5 segments of a large import stay in memory
WAL_KEEP_BYTES = 32 << 20  # the log is cut back to this after a checkpoint (a large import's is as big as its index)
CATCH_UP_ROWS = 50_000  # samples indexed per transaction (about 2 s at Dolly's lengths)
_FTS = "fts5(prompt, response, content='', tokenize='unicode61 remove_diacritics 0')"
_WORD = re.compile(r"[^\W_]+\*?")  # what unicode61 keeps as one token, with an optional prefix star
_UNREADABLE = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}


def read_only_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def create(root: Path, busy_timeout_s: float) -> bool:
    """Make the index's file (empty, `upto` = 0) unless it is there; True when made. An unreadable file is
    replaced: it holds nothing the samples cannot give again."""
    path = root / FILE
    try:
        return _create(path, busy_timeout_s)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") not in _UNREADABLE:
            raise
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return _create(path, busy_timeout_s)


def _create(path: Path, busy_timeout_s: float) -> bool:
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    try:
        if conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'state'").fetchone()[0]:
            return False
        conn.execute("PRAGMA journal_mode=WAL")
        with immediate(conn):
            made = not conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'state'").fetchone()[0]
            if made:  # another process may have made it meanwhile
                conn.execute(f"CREATE VIRTUAL TABLE samples_fts USING {_FTS}")
                conn.execute("CREATE TABLE state (one INTEGER PRIMARY KEY CHECK (one = 1), upto INTEGER NOT NULL)")
                conn.execute("INSERT INTO state VALUES (1, 0)")
        return made
    finally:
        conn.close()


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction on an index connection (on a `writer`, it locks the index alone)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def writer(ws: Workspace) -> sqlite3.Connection:
    """A connection that writes the index: its file as `main`, the workspace attached read-only as `ws` (so
    `BEGIN IMMEDIATE` here locks the index alone). The caller closes it."""
    conn = sqlite3.connect((ws.root / FILE).as_uri(), timeout=ws.busy_timeout_s, isolation_level=None, uri=True,
                           check_same_thread=False)  # a stage indexer's thread builds, the importer commits
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size = {CACHE_KIB}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_KEEP_BYTES}")
    conn.execute("ATTACH DATABASE ? AS ws", (read_only_uri(ws.db_path),))
    return conn


def indexed_upto(conn: sqlite3.Connection) -> int | None:
    """The last rowid the index holds, or None when it holds every sample (on a workspace connection)."""
    upto, last = conn.execute(
        f"SELECT (SELECT upto FROM {STATE}), (SELECT COALESCE(MAX(rowid), 0) FROM main.samples)").fetchone()
    return None if upto >= last else int(upto)


def catch_up(ws: Workspace, *, progress: Callable[[int, int, str], None] | None = None,
             rows_per_transaction: int = CATCH_UP_ROWS) -> int:
    """Index every sample the index lacks, in transactions of `rows_per_transaction`; returns how many."""
    if indexed_upto(ws.connect()) is None:  # the usual case (every import and every open asks): a read, no lock
        return 0
    done, total = 0, None
    conn = writer(ws)
    try:
        while True:
            with immediate(conn):
                upto = int(conn.execute("SELECT upto FROM state").fetchone()[0])
                last = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM ws.samples").fetchone()[0])
                stop = min(last, upto + int(rows_per_transaction))
                if stop > upto:
                    conn.execute("INSERT INTO samples_fts(rowid, prompt, response) SELECT rowid, prompt, response"
                                 " FROM ws.samples WHERE rowid > ? AND rowid <= ?", (upto, stop))
                    conn.execute("UPDATE state SET upto = ?", (stop,))
            if stop <= upto:
                return done
            if total is None:
                total = max(1, last - upto)
                if progress is not None:
                    progress(0, total, "indexing for search")
            done += stop - upto
            if progress is not None:
                progress(min(done, total), total, "indexing for search")
    finally:
        conn.close()


def is_word_term(term: str) -> bool:
    """Whether the index can answer `term` (one token, or one token's prefix)."""
    return _WORD.fullmatch(term) is not None and term != "*"


def match_expression(terms: list[str]) -> str:
    """An FTS5 query that every term must satisfy: each quoted (so AND, OR, NEAR are words), a star kept."""
    parts = []
    for term in terms:
        prefix = term.endswith("*")
        word = term.rstrip("*")
        parts.append(f'"{word}"' + ("*" if prefix else ""))
    return " AND ".join(parts)


def rebuild(ws: Workspace) -> None:
    """Empty the index and index every sample again (a repair for a damaged index)."""
    conn = writer(ws)
    try:
        with immediate(conn):
            conn.execute("INSERT INTO samples_fts(samples_fts) VALUES('delete-all')")
            conn.execute("UPDATE state SET upto = 0")
    finally:
        conn.close()
    catch_up(ws)


def check(ws: Workspace) -> None:
    """Raise sqlite3.DatabaseError unless the index is FTS5-consistent and holds exactly what tokenizing the
    samples up to `upto` gives: every term at every position of every row and column, compared with an index
    built afresh in memory (a test and repair aid: it tokenizes the whole pool once more)."""
    conn = writer(ws)
    try:
        conn.execute("INSERT INTO samples_fts(samples_fts, rank) VALUES('integrity-check', 0)")
        upto = int(conn.execute("SELECT upto FROM state").fetchone()[0])
        conn.execute("ATTACH DATABASE ':memory:' AS fresh")
        conn.execute(f"CREATE VIRTUAL TABLE fresh.samples_fts USING {_FTS}")
        conn.execute("INSERT INTO fresh.samples_fts(rowid, prompt, response) SELECT rowid, prompt, response"
                     " FROM ws.samples WHERE rowid <= ?", (upto,))
        for name, schema in (("live", "main"), ("afresh", "fresh")):
            conn.execute(f"CREATE VIRTUAL TABLE temp.{name} USING fts5vocab({schema}, samples_fts, instance)")
        differ = conn.execute("SELECT (SELECT COUNT(*) FROM (SELECT * FROM temp.live EXCEPT SELECT * FROM"
                              " temp.afresh)) + (SELECT COUNT(*) FROM (SELECT * FROM temp.afresh EXCEPT"
                              " SELECT * FROM temp.live))").fetchone()[0]
        if differ:
            raise sqlite3.DatabaseError(f"the search index differs from the samples' texts in {differ} entries")
    finally:
        conn.close()
