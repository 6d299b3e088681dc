"""The pool's full-text index (SQLite FTS5 over every sample's instruction and response).

`samples_fts` is an external-content FTS5 table (migration 5): it stores only the index, reading texts from
`samples` by rowid. Samples are never deleted and their texts never change, so the one way the index can
fall behind is a new sample. The import's transaction marks its new rows as not indexed yet (`mark_new_samples`:
the kv key `search.indexed_upto` holds the last indexed rowid; absent, every sample is indexed), and the importer
then indexes them in chunks of their own (`catch_up`): the pool is usable (and its write lock free) as soon as its
rows are in, a million-row import's FTS5 tokenizing (about 40 s) no longer inside its one transaction, and a
catch-up killed half-way resumes at the next import. Until then the search answers the rows above the marker by
substring (`browse.where`), so it misses nothing. The migration builds the index of a workspace made before it.

Word search: the unicode61 tokenizer (letters and digits are word characters, everything else separates;
Unicode case folding; diacritics kept, so "café" is not "cafe"). A term made of word characters matches that
whole word, and `term*` every word it begins; any other term (punctuation inside, as in "c++" or "e-mail")
cannot be one token, so it matches as a substring, as the LIKE search always did.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from curation.workspace.db import Workspace

TABLE = "samples_fts"
_WORD = re.compile(r"[^\W_]+\*?")  # what unicode61 keeps as one token, with an optional prefix star


PENDING_KEY = "search.indexed_upto"  # kv: the index holds the samples up to this rowid; absent: all of them
CATCH_UP_ROWS = 50_000  # samples indexed per transaction (about 2 s at Dolly's lengths): the write lock is freed
# between chunks, so decisions made meanwhile wait that long at most


def mark_new_samples(tx: sqlite3.Connection, after_rowid: int) -> None:
    """Inside the transaction that inserted them: the samples above `after_rowid` are not indexed yet (a lower
    mark left by an unfinished catch-up stays)."""
    tx.execute("INSERT OR IGNORE INTO kv(key, value) VALUES (?, ?)", (PENDING_KEY, str(int(after_rowid))))


def indexed_upto(conn: sqlite3.Connection) -> int | None:
    """The last rowid the index holds, or None when it holds every sample."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (PENDING_KEY,)).fetchone()
    return None if row is None else int(row[0])


def catch_up(ws: Workspace, *, progress: Callable[[int, int, str], None] | None = None,
             rows_per_transaction: int = CATCH_UP_ROWS) -> int:
    """Index every sample the index lacks, in transactions of `rows_per_transaction`; returns how many."""
    done, total = 0, None
    while True:
        with ws.transaction() as tx:
            upto = indexed_upto(tx)
            if upto is None:
                return done
            last = int(tx.execute("SELECT COALESCE(MAX(rowid), 0) FROM samples").fetchone()[0])
            if total is None:
                total = max(1, last - upto)
                if progress is not None:
                    progress(0, total, "indexing for search")
            stop = min(last, upto + int(rows_per_transaction))
            tx.execute(f"INSERT INTO {TABLE}(rowid, prompt, response)"
                       " SELECT rowid, prompt, response FROM samples WHERE rowid > ? AND rowid <= ?", (upto, stop))
            if stop >= last:
                tx.execute("DELETE FROM kv WHERE key = ?", (PENDING_KEY,))
            else:
                tx.execute("UPDATE kv SET value = ? WHERE key = ?", (str(stop), PENDING_KEY))
        done += stop - upto
        if progress is not None:
            progress(min(done, total), total, "indexing for search")


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
    """Rebuild the whole index from `samples` (what migration 5 does; also a repair for a damaged index)."""
    with ws.transaction() as tx:
        tx.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES('rebuild')")


def check(ws: Workspace) -> None:
    """Raise sqlite3.DatabaseError when the index disagrees with `samples` (FTS5's own integrity check; while it
    catches up, its own consistency only: FTS5 would count the rows not indexed yet as damage)."""
    conn = ws.connect()
    against_texts = 1 if indexed_upto(conn) is None else 0
    conn.execute(f"INSERT INTO {TABLE}({TABLE}, rank) VALUES('integrity-check', ?)", (against_texts,))
