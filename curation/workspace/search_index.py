"""The pool's full-text index (SQLite FTS5 over every sample's instruction and response).

`samples_fts` is an external-content FTS5 table (migration 5): it stores only the index, reading texts from
`samples` by rowid. Samples are never deleted and their texts never change, so the one way the index can
fall behind is a new sample: the importer indexes every new row in the transaction that inserts it
(`index_new_samples`), and the migration builds the index of a workspace made before it.

Word search: the unicode61 tokenizer (letters and digits are word characters, everything else separates;
Unicode case folding; diacritics kept, so "café" is not "cafe"). A term made of word characters matches that
whole word, and `term*` every word it begins; any other term (punctuation inside, as in "c++" or "e-mail")
cannot be one token, so it matches as a substring, as the LIKE search always did.
"""

from __future__ import annotations

import re
import sqlite3

from curation.workspace.db import Workspace

TABLE = "samples_fts"
_WORD = re.compile(r"[^\W_]+\*?")  # what unicode61 keeps as one token, with an optional prefix star


def index_new_samples(tx: sqlite3.Connection, after_rowid: int) -> int:
    """Index every sample whose rowid is above `after_rowid` (call inside the inserting transaction)."""
    cursor = tx.execute(f"INSERT INTO {TABLE}(rowid, prompt, response)"
                        " SELECT rowid, prompt, response FROM samples WHERE rowid > ?", (int(after_rowid),))
    return cursor.rowcount


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
    """Raise sqlite3.DatabaseError when the index disagrees with `samples` (FTS5's own integrity check)."""
    ws.connect().execute(f"INSERT INTO {TABLE}({TABLE}, rank) VALUES('integrity-check', 1)")
