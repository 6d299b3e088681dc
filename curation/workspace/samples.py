"""Reading the pool: samples, their records, and a frame for tables, filters and plots."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pandas as pd

from curation.errors import CurationError
from curation.records import Record, record_from_json
from curation.workspace.db import Workspace

_FRAME_COLUMNS = (
    "s.rowid AS row, s.id, {texts}s.source, s.line, s.n_turns, s.prompt_chars, "
    "s.response_chars, s.dup_count, COALESCE(st.status, 'pending') AS status, COALESCE(st.pinned, 0) AS pinned"
)


def count(ws: Workspace) -> int:
    return int(ws.scalar("SELECT COUNT(*) FROM samples") or 0)


def ids(ws: Workspace) -> list[str]:
    """Every sample id in row order (row i of any per-sample array is ids(ws)[i])."""
    return [r[0] for r in ws.query("SELECT id FROM samples ORDER BY rowid")]


def get(ws: Workspace, sample_id: str) -> Record:
    rows = ws.query("SELECT record FROM samples WHERE id = ?", (sample_id,))
    if not rows:
        raise CurationError(f"no sample with id {sample_id}")
    return record_from_json(json.loads(rows[0][0]))


def get_many(ws: Workspace, sample_ids: Sequence[str]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for start in range(0, len(sample_ids), 900):
        chunk = list(sample_ids[start:start + 900])
        marks = ",".join("?" * len(chunk))
        for r in ws.query(f"SELECT id, record FROM samples WHERE id IN ({marks})", tuple(chunk)):
            out[r[0]] = record_from_json(json.loads(r[1]))
    missing = [s for s in sample_ids if s not in out]
    if missing:
        raise CurationError(f"no sample with id {missing[0]}")
    return out


def iter_records(ws: Workspace, batch: int = 1000) -> Iterator[tuple[str, Record]]:
    """(id, record) in row order, read in batches so a million-row pool never sits in memory twice."""
    last = 0
    while True:
        rows = ws.query("SELECT rowid, id, record FROM samples WHERE rowid > ? ORDER BY rowid LIMIT ?",
                        (last, batch))
        if not rows:
            return
        for r in rows:
            yield r[1], record_from_json(json.loads(r[2]))
        last = rows[-1][0]


def frame(ws: Workspace, sample_ids: Sequence[str] | None = None, *, texts: bool = True) -> pd.DataFrame:
    """One row per sample: id, texts (prompt, response; left out with texts=False), source, lengths, duplicate
    count, decision status, pinned."""
    columns = _FRAME_COLUMNS.format(texts="s.prompt, s.response, " if texts else "")
    sql = f"SELECT {columns} FROM samples s LEFT JOIN sample_state st ON st.sample_id = s.id"
    if sample_ids is None:
        df = pd.read_sql_query(sql + " ORDER BY s.rowid", ws.connect())
    else:
        parts = []
        for start in range(0, len(sample_ids), 900):
            chunk = list(sample_ids[start:start + 900])
            marks = ",".join("?" * len(chunk))
            parts.append(pd.read_sql_query(sql + f" WHERE s.id IN ({marks})", ws.connect(), params=chunk))
        df = pd.concat(parts, ignore_index=True) if parts else pd.read_sql_query(sql + " LIMIT 0", ws.connect())
        order = {s: i for i, s in enumerate(sample_ids)}
        df = df.sort_values("id", key=lambda c: c.map(order)).reset_index(drop=True)
    df["pinned"] = df["pinned"].astype(bool)
    return df


def pool_hash(ws: Workspace) -> str:
    """Identity of the pool's content (its sorted sample ids): exports and runs record it."""
    h = hashlib.sha256()
    for r in ws.query("SELECT id FROM samples ORDER BY id"):
        h.update(r[0].encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class PoolStats:
    samples: int
    occurrences: int
    by_source: dict[str, int]
    prompt_chars: dict[str, float]
    response_chars: dict[str, float]
    multi_turn: int


def stats(ws: Workspace) -> PoolStats:
    df = pd.read_sql_query("SELECT source, prompt_chars, response_chars, n_turns, dup_count FROM samples",
                           ws.connect())

    def describe(col: str) -> dict[str, float]:
        if df.empty:
            return {}
        q = df[col].quantile([0.5, 0.9]).tolist()
        return {"mean": float(df[col].mean()), "median": float(q[0]), "p90": float(q[1]),
                "min": float(df[col].min()), "max": float(df[col].max())}

    return PoolStats(
        samples=len(df),
        occurrences=int(df["dup_count"].sum()) if len(df) else 0,
        by_source={k: int(v) for k, v in df["source"].value_counts().items()},
        prompt_chars=describe("prompt_chars"),
        response_chars=describe("response_chars"),
        multi_turn=int((df["n_turns"] > 1).sum()) if len(df) else 0,
    )


def version(ws: Workspace) -> str:
    """Changes whenever the pool does (append-only: an import adds rows with larger rowids): a cache key."""
    count, last = ws.query("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM samples")[0]
    return f"{count}:{last}"


def mean_chars(ws: Workspace) -> tuple[float, float]:
    """(mean prompt characters, mean response characters) of the pool; (0, 0) when it is empty."""
    row = ws.query("SELECT AVG(prompt_chars), AVG(response_chars) FROM samples")[0]
    return float(row[0] or 0), float(row[1] or 0)


def response_chars(ws: Workspace) -> pd.Series:
    """Response length (characters) of every sample, indexed by id, in row order."""
    rows = ws.query("SELECT id, response_chars FROM samples ORDER BY rowid")
    return pd.Series([r[1] for r in rows], index=pd.Index([r[0] for r in rows], name="id"),
                     name="response_chars", dtype="int64")
