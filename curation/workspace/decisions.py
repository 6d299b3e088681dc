"""Decisions as an append-only event log; the current state of a sample is a fold of its events.

Actions: approve, reject, clear (back to pending), pin, unpin, and undo (which names the event it cancels;
undoing an undo redoes). Nothing is ever updated or deleted in `decisions`. `sample_state` caches the fold and
is rewritten in the same transaction as every event, so readers see state and log agree; `rebuild_state`
recomputes it from the log alone.
"""

from __future__ import annotations
import sqlite3

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from curation.errors import CurationError
from curation.workspace.db import Workspace

ACTIONS = ("approve", "reject", "clear", "pin", "unpin", "undo")
STATUSES = ("pending", "approved", "rejected")
_STATUS_OF = {"approve": "approved", "reject": "rejected", "clear": "pending"}


@dataclass(frozen=True)
class Event:
    event_id: int
    sample_id: str
    action: str
    origin: str
    reason: str
    undoes: int | None
    batch: str | None
    time: float
    actor: str = ""  # who: "app:<tab>", "cli:<user>", "dedup", "method:<name>"; "legacy" before it was kept


@dataclass(frozen=True)
class PendingUndo:
    """What `undo_last` would take back now: one action (a whole batch) on some samples."""

    action: str
    samples: int
    time: float
    actor: str


@dataclass(frozen=True)
class State:
    status: str = "pending"
    pinned: bool = False
    last_event: int = 0
    reason: str = ""
    origin: str = ""


def fold(events: Sequence[Event]) -> State:
    """The state after `events` (one sample's, in event order), honouring undo and redo."""
    cancelled: set[int] = set()
    for ev in reversed(events):  # a later undo decides whether an earlier event counts
        if ev.event_id in cancelled:
            continue
        if ev.action == "undo" and ev.undoes is not None:
            cancelled.add(ev.undoes)
    status, pinned, reason, origin, last = "pending", False, "", "", 0
    for ev in events:
        last = ev.event_id
        if ev.event_id in cancelled or ev.action == "undo":
            continue
        if ev.action in _STATUS_OF:
            status, reason, origin = _STATUS_OF[ev.action], ev.reason, ev.origin
        elif ev.action in ("pin", "unpin"):
            pinned = ev.action == "pin"
    return State(status=status, pinned=pinned, last_event=last, reason=reason, origin=origin)


def record(
    ws: Workspace,
    sample_ids: Iterable[str],
    action: str,
    *,
    origin: str = "human",
    reason: str = "",
    reasons: Sequence[str] | None = None,
    actor: str | None = None,
) -> str:
    """Append one event per sample (a bulk action shares a batch id, returned) and refresh their state.

    `actor` names who decided (default: the origin, as for "dedup" and "method:<name>")."""
    actor = actor or origin
    if action not in ACTIONS or action == "undo":
        raise CurationError(f"unknown decision {action!r}; use one of approve, reject, clear, pin, unpin")
    ids = list(dict.fromkeys(sample_ids))
    batch = uuid.uuid4().hex[:12]
    now = time.time()
    with ws.transaction() as conn:
        known = _known(conn, ids)
        missing = [s for s in ids if s not in known]
        if missing:
            raise CurationError(f"no sample with id {missing[0]}" + (f" (and {len(missing) - 1} more)"
                                                                     if len(missing) > 1 else ""))
        rows = [(s, action, origin, reasons[i] if reasons else reason, None, batch, actor, now)
                for i, s in enumerate(ids)]
        conn.executemany(
            "INSERT INTO decisions(sample_id, action, origin, reason, undoes, batch, actor, time)"
            " VALUES (?,?,?,?,?,?,?,?)", rows)
        _refresh(conn, ids)
    return batch


def undo_last(ws: Workspace, *, origin: str = "human", actor: str | None = None,
              by: str | None = None) -> list[str]:
    """Undo the most recent not-yet-undone action of `actor` (None: of anyone) with this origin, a whole batch
    if it was a bulk action. The undo is itself an event, naming `by` (default: `actor`, else the origin).

    Returns the sample ids it affected (empty when there is nothing to undo).
    """
    with ws.transaction() as conn:
        row = _last_undoable(conn, origin, actor)
        if row is None:
            return []
        targets = _targets(conn, row)
        now, batch = time.time(), uuid.uuid4().hex[:12]
        conn.executemany(
            "INSERT INTO decisions(sample_id, action, origin, reason, undoes, batch, actor, time)"
            " VALUES (?, 'undo', ?, 'undo', ?, ?, ?, ?)",
            [(t["sample_id"], origin, t["event_id"], batch, by or actor or origin, now) for t in targets])
        ids = list(dict.fromkeys(t["sample_id"] for t in targets))
        _refresh(conn, ids)
    return ids


def pending_undo(ws: Workspace, *, origin: str = "human", actor: str | None = None) -> PendingUndo | None:
    """What `undo_last` with the same arguments would revert, or None when there is nothing to undo."""
    conn = ws.connect()
    row = _last_undoable(conn, origin, actor)
    if row is None:
        return None
    return PendingUndo(action=row["action"], samples=len({t["sample_id"] for t in _targets(conn, row)}),
                       time=row["time"], actor=row["actor"])


def events(ws: Workspace, sample_id: str | None = None) -> list[Event]:
    sql = "SELECT event_id, sample_id, action, origin, reason, undoes, batch, time, actor FROM decisions"
    rows = ws.query(sql + (" WHERE sample_id = ? ORDER BY event_id" if sample_id else " ORDER BY event_id"),
                    (sample_id,) if sample_id else ())
    return [Event(**dict(r)) for r in rows]


def state(ws: Workspace, sample_id: str) -> State:
    row = ws.query("SELECT status, pinned, last_event, reason, origin FROM sample_state WHERE sample_id = ?",
                   (sample_id,))
    if not row:
        return State()
    r = row[0]
    return State(r["status"], bool(r["pinned"]), r["last_event"], r["reason"], r["origin"])


def states(ws: Workspace) -> dict[str, State]:
    """Every sample that has a decision (samples without one are pending and unpinned)."""
    return {r["sample_id"]: State(r["status"], bool(r["pinned"]), r["last_event"], r["reason"], r["origin"])
            for r in ws.query("SELECT * FROM sample_state")}


def ids_with(ws: Workspace, *, status: str | None = None, pinned: bool | None = None) -> list[str]:
    clauses: list[str] = []
    params: list[str | int] = []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if pinned is not None:
        clauses.append("pinned = ?")
        params.append(int(pinned))
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return [r[0] for r in ws.query(f"SELECT sample_id FROM sample_state{where}", tuple(params))]


def counts(ws: Workspace) -> dict[str, int]:
    """Samples per status (pending includes samples never decided) plus the pinned count."""
    total = ws.scalar("SELECT COUNT(*) FROM samples") or 0
    out = {s: 0 for s in STATUSES}
    for r in ws.query("SELECT status, COUNT(*) AS n FROM sample_state GROUP BY status"):
        out[r["status"]] = r["n"]
    out["pending"] = total - out["approved"] - out["rejected"]
    out["pinned"] = ws.scalar("SELECT COUNT(*) FROM sample_state WHERE pinned = 1") or 0
    return out


def rebuild_state(ws: Workspace) -> None:
    """Recompute the whole state cache from the event log (the log is the truth)."""
    with ws.transaction() as conn:
        conn.execute("DELETE FROM sample_state")
        ids = [r[0] for r in conn.execute("SELECT DISTINCT sample_id FROM decisions")]
        _refresh(conn, ids)


# -- internals ------------------------------------------------------------------------------------
def _last_undoable(conn: sqlite3.Connection, origin: str, actor: str | None) -> sqlite3.Row | None:
    """The newest event of this origin (and actor) that is not undone, or whose undo was itself undone."""
    where, params = "d.action != 'undo' AND d.origin = ?", [origin]
    if actor is not None:
        where += " AND d.actor = ?"
        params.append(actor)
    row: sqlite3.Row | None = conn.execute(
        f"SELECT d.event_id, d.batch, d.action, d.time, d.actor FROM decisions d WHERE {where} AND NOT EXISTS ("
        " SELECT 1 FROM decisions u WHERE u.undoes = d.event_id AND u.action = 'undo'"
        " AND NOT EXISTS (SELECT 1 FROM decisions r WHERE r.undoes = u.event_id))"
        " ORDER BY d.event_id DESC LIMIT 1", params).fetchone()
    return row


def _targets(conn: sqlite3.Connection, row: sqlite3.Row) -> list[sqlite3.Row]:
    """The events one undo takes back: the whole batch of `row`."""
    if row["batch"]:
        return conn.execute("SELECT event_id, sample_id FROM decisions WHERE batch = ? AND action != 'undo'"
                            " ORDER BY event_id", (row["batch"],)).fetchall()
    return conn.execute("SELECT event_id, sample_id FROM decisions WHERE event_id = ?", (row["event_id"],)).fetchall()


def _known(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 900):  # SQLite's host-parameter limit
        chunk = ids[start:start + 900]
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in conn.execute(f"SELECT id FROM samples WHERE id IN ({marks})", chunk))
    return found


def _refresh(conn: sqlite3.Connection, ids: list[str]) -> None:
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        marks = ",".join("?" * len(chunk))
        by_sample: dict[str, list[Event]] = {s: [] for s in chunk}
        for r in conn.execute(
                "SELECT event_id, sample_id, action, origin, reason, undoes, batch, time, actor FROM decisions"
                f" WHERE sample_id IN ({marks}) ORDER BY event_id", chunk):
            by_sample[r["sample_id"]].append(Event(**dict(r)))
        rows = []
        for sid, evs in by_sample.items():
            st = fold(evs)
            rows.append((sid, st.status, int(st.pinned), st.last_event, st.reason, st.origin))
        conn.executemany(
            "INSERT INTO sample_state(sample_id, status, pinned, last_event, reason, origin) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(sample_id) DO UPDATE SET status=excluded.status, pinned=excluded.pinned,"
            " last_event=excluded.last_event, reason=excluded.reason, origin=excluded.origin", rows)
