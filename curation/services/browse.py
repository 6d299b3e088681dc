"""Server-side browsing of the pool: one filter, as SQL for counts, pages, id lists and the review queue.

The app never loads the whole pool into a frame to show a table: every view is a `COUNT(*)` plus one
`LIMIT/OFFSET` page over `samples LEFT JOIN sample_state`, so a rerun costs the same at 1k and 100k rows.
Id sets (a run's selection, a map lasso, samples skipped in review) travel as one JSON parameter read with
`json_each`, which sidesteps SQLite's limit on host parameters.

Text search: every whitespace-separated term must occur in the instruction or the response. By words (the
default) through the workspace's full-text index (`curation.workspace.search_index`: whole words, `term*` for a
prefix, ranked by BM25 when ordered by relevance; a term with punctuation inside matches as a substring); by
substring (`match="substring"`) as a case-insensitive LIKE per term, which folds ASCII letters only.

Deep pages: the page's rowids are found first over the narrowest join (the decision table only when the
filter needs it), then only those rows are read, so page 10,000 does not read 500,000 rows' texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import pandas as pd

from curation.errors import CurationError
from curation.workspace import decisions, search_index
from curation.workspace.db import Workspace

STATUSES = decisions.STATUSES
ORDERS: dict[str, str] = {
    "row": "s.rowid",
    "longest response": "s.response_chars DESC, s.rowid",
    "shortest response": "s.response_chars, s.rowid",
    "longest prompt": "s.prompt_chars DESC, s.rowid",
    "most duplicated": "s.dup_count DESC, s.rowid",
    "relevance": "hits.rank, s.rowid",  # BM25 of a word search; row order when there is none
}
MATCHES = ("words", "substring")
PREVIEW_CHARS = 300  # text shown per cell of a table page
# SQLite refuses an expression tree deeper than 1000 (about 500 terms) and LIKE patterns over 50,000 bytes; far
# below both, a search stays fast and a pasted document gets a message instead of an OperationalError.
MAX_TERMS = 50
MAX_TERM_CHARS = 500


@dataclass(frozen=True)
class Filter:
    """Which samples a view shows. Every field narrows; the default matches the whole pool."""

    text: str = ""                          # every term must occur in the prompt or the response
    match: Literal["words", "substring"] = "words"  # whole words through the full-text index, or substrings
    sources: tuple[str, ...] = ()           # empty: every source
    min_response_chars: int | None = None
    max_response_chars: int | None = None
    statuses: tuple[str, ...] = ()          # pending / approved / rejected; empty: any
    pinned: bool | None = None
    decided_by: tuple[str, ...] = ()        # origin of the current decision: 'human', 'dedup', 'method:...'
    exact_duplicates: bool = False          # only samples whose exact content occurred more than once
    run_id: int | None = None               # restrict by this run's selection ...
    iteration: int | None = None            # ... at this iteration (None: its last completed one)
    in_selection: bool = True               # False: the samples that run (or any run) did not select
    any_run: bool = False                   # selected by any iteration of any run (ignored with run_id)
    ids: tuple[str, ...] | None = None      # an explicit set: a map selection, a duplicate group
    exclude_ids: tuple[str, ...] = ()       # e.g. skipped in this review session

    def __post_init__(self) -> None:
        unknown = [s for s in self.statuses if s not in STATUSES]
        if unknown:
            raise CurationError(f"unknown decision status {unknown[0]!r}; use {', '.join(STATUSES)}")
        if self.match not in MATCHES:
            raise CurationError(f"unknown match {self.match!r}; use words or substring")

    def describe(self) -> str:
        """A short plain-text summary for captions ("text 'python', approved, run 2 it 1")."""
        parts = []
        if self.text.strip():
            parts.append(f"text {self.text.strip()!r}")
        if self.sources:
            parts.append(f"{len(self.sources)} source(s)")
        if self.min_response_chars is not None or self.max_response_chars is not None:
            parts.append(f"response {self.min_response_chars or 0}..{self.max_response_chars or 'max'} chars")
        if self.statuses:
            parts.append("status " + "/".join(self.statuses))
        if self.pinned is not None:
            parts.append("pinned" if self.pinned else "not pinned")
        if self.decided_by:
            parts.append("decided by " + "/".join(self.decided_by))
        if self.exact_duplicates:
            parts.append("exact duplicates")
        if self.run_id is not None or self.any_run:
            who = "any run"
            if self.run_id is not None:
                at = f" iteration {self.iteration}" if self.iteration is not None else ""
                who = f"run {self.run_id}{at}"
            parts.append(("selected by " if self.in_selection else "not selected by ") + who)
        if self.ids is not None:
            parts.append(f"{len(self.ids)} chosen samples")
        return ", ".join(parts) or "the whole pool"


def check_search(text: str) -> list[str]:
    """The search's terms, or a CurationError when the search is too long to run."""
    terms = text.split()
    if len(terms) > MAX_TERMS:
        raise CurationError(f"the search has {len(terms)} words; search with at most {MAX_TERMS}")
    longest = max(terms, key=len, default="")
    if len(longest) > MAX_TERM_CHARS:
        raise CurationError(f"a search word has {len(longest)} characters; at most {MAX_TERM_CHARS} "
                            f"(it starts {longest[:20]!r})")
    return terms


def _pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _like(term: str, params: list[Any]) -> str:
    """The substring clause for one term (its two parameters appended to `params`)."""
    params += [_pattern(term), _pattern(term)]
    return "(s.prompt LIKE ? ESCAPE '\\' OR s.response LIKE ? ESCAPE '\\')"


def word_query(flt: Filter) -> str | None:
    """The full-text query for the filter's word terms, or None when the index has nothing to answer."""
    if flt.match != "words":
        return None
    words = [t for t in check_search(flt.text) if search_index.is_word_term(t)]
    return search_index.match_expression(words) if words else None


def where(flt: Filter, *, words_joined: bool = False, indexed_upto: int | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause (over `samples s LEFT JOIN sample_state st`) and its parameters. `words_joined`: the
    query already joins the full-text hits (relevance order), so the word terms need no clause of their own
    (FTS5 would otherwise evaluate the same MATCH twice). `indexed_upto`: the last rowid the full-text index
    holds while it catches up after an import (`search_index.indexed_upto`); the rows above it are matched by
    substring, so the search misses none of them."""
    clauses: list[str] = []
    params: list[Any] = []
    terms = check_search(flt.text)
    query = word_query(flt)
    if query is not None and not words_joined:
        hits = f"s.rowid IN (SELECT rowid FROM {search_index.TABLE}(?))"
        params.append(query)
        if indexed_upto is not None:  # a superset of the word matches among the rows not indexed yet
            params.append(int(indexed_upto))
            tail = " AND ".join(_like(t.rstrip("*"), params) for t in terms if search_index.is_word_term(t))
            hits = f"({hits} OR (s.rowid > ? AND {tail}))"
        clauses.append(hits)
    for term in terms:
        if query is not None and search_index.is_word_term(term):
            continue
        clauses.append(_like(term, params))
    if flt.sources:
        clauses.append(f"s.source IN ({','.join('?' * len(flt.sources))})")
        params += list(flt.sources)
    if flt.min_response_chars is not None:
        clauses.append("s.response_chars >= ?")
        params.append(int(flt.min_response_chars))
    if flt.max_response_chars is not None:
        clauses.append("s.response_chars <= ?")
        params.append(int(flt.max_response_chars))
    if flt.statuses:
        clauses.append(f"COALESCE(st.status, 'pending') IN ({','.join('?' * len(flt.statuses))})")
        params += list(flt.statuses)
    if flt.pinned is not None:
        clauses.append("COALESCE(st.pinned, 0) = ?")
        params.append(int(flt.pinned))
    if flt.decided_by:
        clauses.append(f"st.origin IN ({','.join('?' * len(flt.decided_by))})")
        params += list(flt.decided_by)
    if flt.exact_duplicates:
        clauses.append("s.dup_count > 1")
    if flt.run_id is not None:
        iteration_sql = ("?" if flt.iteration is not None
                         else "(SELECT MAX(iteration) FROM iterations WHERE run_id = ?)")
        selected = ("SELECT j.value FROM iterations i, json_each(i.selected) j"
                    f" WHERE i.run_id = ? AND i.iteration = {iteration_sql}")
        clauses.append(f"s.id {'IN' if flt.in_selection else 'NOT IN'} ({selected})")
        params += [flt.run_id, flt.iteration if flt.iteration is not None else flt.run_id]
    elif flt.any_run:
        selected = "SELECT j.value FROM iterations i, json_each(i.selected) j"
        clauses.append(f"s.id {'IN' if flt.in_selection else 'NOT IN'} ({selected})")
    if flt.ids is not None:
        clauses.append("s.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(flt.ids)))
    if flt.exclude_ids:
        clauses.append("s.id NOT IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(flt.exclude_ids)))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def unindexed_samples(ws: Workspace) -> int:
    """Samples the full-text index does not hold yet (0 once it has caught up with the last import)."""
    upto = search_index.indexed_upto(ws.connect())
    return 0 if upto is None else int(ws.scalar("SELECT COUNT(*) FROM samples WHERE rowid > ?", (upto,)) or 0)


def _where(ws: Workspace, flt: Filter, *, words_joined: bool = False) -> tuple[str, list[Any]]:
    """`where`, told how far the full-text index reaches when the filter searches words."""
    upto = search_index.indexed_upto(ws.connect()) if word_query(flt) is not None else None
    return where(flt, words_joined=words_joined, indexed_upto=upto)


_STATE_JOIN = " LEFT JOIN sample_state st ON st.sample_id = s.id"
_FROM = " FROM samples s" + _STATE_JOIN


def count(ws: Workspace, flt: Filter = Filter()) -> int:
    sql, params = _where(ws, flt)
    if _state_only(flt):
        undecided, decided = _state_only_parts(ws, sql, params, "COUNT(*)")
        return undecided + int(decided[0][0] if decided else 0)
    return int(ws.scalar("SELECT COUNT(*)" + _FROM + sql, tuple(params)) or 0)


def status_counts(ws: Workspace, flt: Filter = Filter()) -> dict[str, int]:
    """Matching samples per decision status (every status present, zero when none) plus `pinned`."""
    sql, params = _where(ws, flt)
    columns = "COALESCE(st.status, 'pending') AS status, COUNT(*) AS n, SUM(COALESCE(st.pinned, 0)) AS pinned"
    out = {s: 0 for s in STATUSES}
    if _state_only(flt):
        undecided, rows = _state_only_parts(ws, sql, params, columns, " GROUP BY 1")
        out["pending"] = undecided
    else:
        rows = ws.query("SELECT " + columns + _FROM + sql + " GROUP BY 1", tuple(params))
    for r in rows:
        out[r[0]] += int(r[1])
    out["pinned"] = int(sum(r[2] or 0 for r in rows))
    return out


def _state_only(flt: Filter) -> bool:
    """Whether the filter constrains decisions only (status, pin, who decided): then it is answered from
    sample_state alone, without reading a row of the million-row samples table."""
    bare = replace(flt, statuses=(), pinned=None, decided_by=(), match="words")
    return bare == Filter()


def _state_only_parts(ws: Workspace, sql: str, params: list[Any], select: str, tail: str = "") -> tuple[int, list]:
    """(samples never decided that match: all of them or none, as an undecided sample's state is the default
    one; the query over the decided ones). `sql` refers to `st` only (see `_state_only`)."""
    default = " FROM (SELECT NULL AS sample_id, NULL AS status, NULL AS pinned, NULL AS origin) st"
    default_matches = bool(ws.scalar("SELECT COUNT(*)" + default + sql, tuple(params)))
    undecided = 0
    if default_matches:
        undecided = int(ws.scalar("SELECT (SELECT COUNT(*) FROM samples) - (SELECT COUNT(*) FROM sample_state)") or 0)
    return undecided, ws.query("SELECT " + select + " FROM sample_state st" + sql + tail, tuple(params))


def page(ws: Workspace, flt: Filter = Filter(), *, offset: int = 0, limit: int = 50,
         order: str = "row") -> pd.DataFrame:
    """One page of matching samples, texts cut to PREVIEW_CHARS, for a table."""
    if order not in ORDERS:
        raise CurationError(f"unknown order {order!r}; use one of {', '.join(ORDERS)}")
    query = word_query(flt)
    if order == "relevance" and (query is None or search_index.indexed_upto(ws.connect()) is not None):
        order = "row"  # no words to rank; or the index is catching up, and rows above it have no rank yet
    sql, params = _where(ws, flt, words_joined=order == "relevance")
    hits, hit_params = "", []
    if order == "relevance":
        hits = f" JOIN (SELECT rowid, rank FROM {search_index.TABLE}(?)) hits ON hits.rowid = s.rowid"
        hit_params = [query]
    state = _STATE_JOIN if (flt.statuses or flt.pinned is not None or flt.decided_by) else ""
    keys = (f"SELECT s.rowid FROM samples s{hits}{state}{sql} ORDER BY {ORDERS[order]} LIMIT ? OFFSET ?")
    rows = [r[0] for r in ws.query(keys, (*hit_params, *params, int(limit), int(max(0, offset))))]
    columns = (f"s.rowid AS row, s.id, substr(s.prompt, 1, {PREVIEW_CHARS}) AS prompt,"
               f" substr(s.response, 1, {PREVIEW_CHARS}) AS response, s.source, s.line, s.n_turns,"
               " s.prompt_chars, s.response_chars, s.dup_count, COALESCE(st.status, 'pending') AS status,"
               " COALESCE(st.pinned, 0) AS pinned, COALESCE(st.origin, '') AS decided_by")
    read = f"SELECT {columns}{_FROM} WHERE s.rowid IN (SELECT value FROM json_each(?))"
    df = pd.read_sql_query(read, ws.connect(), params=[json.dumps(rows)])
    df = df.set_index("row").loc[rows].reset_index()  # back in the keys' order (relevance, length, ...)
    df["pinned"] = df["pinned"].astype(bool)
    return df


def matching_ids(ws: Workspace, flt: Filter = Filter()) -> list[str]:
    """Every matching sample id in row order: the target of a bulk action on the filter."""
    sql, params = _where(ws, flt)
    return [r[0] for r in ws.query("SELECT s.id" + _FROM + sql + " ORDER BY s.rowid", tuple(params))]


def next_in_queue(ws: Workspace, flt: Filter, *, after_row: int = 0) -> str | None:
    """The first matching sample after row `after_row`, wrapping to the start; None when nothing matches."""
    sql, params = _where(ws, flt)
    joiner = " AND " if sql else " WHERE "
    for bound in (after_row, 0):
        row = ws.query("SELECT s.id" + _FROM + sql + joiner + "s.rowid > ? ORDER BY s.rowid LIMIT 1",
                       (*params, int(bound)))
        if row:
            return str(row[0][0])
    return None


def review_default(ws: Workspace) -> Filter:
    """The review queue by default: selected by some run and not yet reviewed (every pending sample when
    no run has completed an iteration yet)."""
    has_runs = bool(ws.scalar("SELECT COUNT(*) FROM iterations"))
    return Filter(statuses=("pending",), any_run=has_runs)


# -- what the filter widgets offer ---------------------------------------------------------------
def version(ws: Workspace) -> tuple:
    """Changes whenever samples, decisions or runs change, and as the search index catches up: a cache key for
    anything derived from them (cheap: primary-key maxima and the handful of runs)."""
    row = ws.query("SELECT (SELECT COALESCE(MAX(rowid), 0) FROM samples),"
                   " (SELECT COALESCE(MAX(event_id), 0) FROM decisions),"
                   " (SELECT COUNT(*) FROM iterations), (SELECT group_concat(run_id || status) FROM runs),"
                   f" (SELECT upto FROM {search_index.STATE})")[0]
    return tuple(row)


def sources(ws: Workspace) -> dict[str, int]:
    """Samples per source, largest first."""
    return {r[0]: int(r[1]) for r in ws.query(
        "SELECT source, COUNT(*) FROM samples GROUP BY source ORDER BY COUNT(*) DESC, source")}


def response_length_bounds(ws: Workspace) -> tuple[int, int]:
    row = ws.query("SELECT MIN(response_chars), MAX(response_chars) FROM samples")[0]
    return (int(row[0] or 0), int(row[1] or 0))


def decided_by_values(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.query("SELECT DISTINCT origin FROM sample_state WHERE origin != '' ORDER BY 1")]


def run_choices(ws: Workspace) -> list[tuple[int, str, list[int]]]:
    """(run_id, label, completed iterations) of every run that has at least one completed iteration."""
    out = []
    for r in ws.query("SELECT r.run_id, r.name, r.method, r.status, group_concat(i.iteration) AS its"
                      " FROM runs r JOIN iterations i ON i.run_id = r.run_id"
                      " GROUP BY r.run_id ORDER BY r.run_id DESC"):
        its = sorted(int(x) for x in str(r["its"]).split(","))
        out.append((int(r["run_id"]), f"run {r['run_id']}: {r['name']} ({r['method']}, {r['status']})", its))
    return out


def with_ids(flt: Filter, ids: Sequence[str] | None) -> Filter:
    """The filter restricted to an explicit id set (None lifts the restriction)."""
    return replace(flt, ids=None if ids is None else tuple(ids))


# -- paging a table ------------------------------------------------------------------------------------
def n_pages(total: int, size: int) -> int:
    """Pages of `size` rows for `total` matches (at least one: an empty table still has its page)."""
    return max(1, -(-total // size))


def row_range(total: int, size: int, page_no: int) -> tuple[int, int]:
    """First and last row number (from 1) shown on page `page_no`, for the "Rows a–b of n" caption."""
    return min(total, (page_no - 1) * size + 1), min(total, page_no * size)


def row_label(row: int, prompt: str, width: int = 90) -> str:
    """A row in a chooser: its number and the start of its prompt on one line."""
    return f"row {row}: {' '.join(prompt.split())[:width]}"
