"""A run's lease: which process runs it now (pid and host), since when, and its last heartbeat.

Two runners of one run would upsert each other's iterations and prune each other's checkpoints, so
`acquire` takes the lease in one `BEGIN IMMEDIATE` transaction and refuses while another owner is live. An
owner is live while its heartbeat is younger than the stale limit and, on this host, its pid still exists
(a `kill -9` frees the lease at once; an owner on another host, or a stopped process, only by the limit).
The owner heartbeats from a thread (`Lease.start`), so a training step longer than the limit keeps its lease.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import CurationError
from curation.workspace.db import Workspace

STALE_S = 30.0  # a heartbeat older than this is a dead (or hung) owner's
HEARTBEAT_S = 2.0


@dataclass(frozen=True)
class Owner:
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def live(row: Any, *, stale_s: float = STALE_S, now: float | None = None) -> bool:
    """Whether the owner recorded in a `runs` row still holds the lease."""
    if row["owner_pid"] is None or row["heartbeat"] is None:
        return False
    if (now or time.time()) - float(row["heartbeat"]) > stale_s:
        return False
    return row["owner_host"] != socket.gethostname() or pid_alive(int(row["owner_pid"]))


def describe(row: Any) -> str:
    """"pid P on HOST since 2026-12-01 23:10:05" for a row with an owner."""
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(row["owner_since"] or 0)))
    return f"pid {row['owner_pid']} on {row['owner_host']} since {since}"


def acquire(ws: Workspace, run_id: int, *, owner: Owner | None = None, stale_s: float = STALE_S) -> Lease:
    """Take the run's lease and mark it running, or refuse (CurationError) while another owner is live."""
    me = owner or Owner()
    with ws.transaction() as conn:
        row = conn.execute("SELECT owner_pid, owner_host, owner_since, heartbeat FROM runs WHERE run_id = ?",
                           (run_id,)).fetchone()
        if row is None:
            raise CurationError(f"no run {run_id}")
        if live(row, stale_s=stale_s):
            raise CurationError(f"run {run_id} is being run by {describe(row)}; wait, or cancel it")
        now = time.time()
        conn.execute("UPDATE runs SET status = 'running', error = '', finished = NULL, owner_pid = ?,"
                     " owner_host = ?, owner_since = ?, heartbeat = ? WHERE run_id = ?",
                     (me.pid, me.host, now, now, run_id))
    return Lease(ws, run_id, me, now, interval=min(HEARTBEAT_S, stale_s / 4))


class Lease:
    """A held lease: `start` keeps it fresh from a thread, `release` ends it with the run's status."""

    def __init__(self, ws: Workspace, run_id: int, owner: Owner, since: float, *, interval: float) -> None:
        self.ws, self.run_id, self.owner, self.since, self.interval = ws, run_id, owner, since, interval
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _mine(self) -> tuple[str, tuple]:
        return ("run_id = ? AND owner_pid = ? AND owner_host = ? AND owner_since = ?",
                (self.run_id, self.owner.pid, self.owner.host, self.since))

    def beat(self) -> None:
        where, params = self._mine()
        with self.ws.transaction() as conn:
            cur = conn.execute(f"UPDATE runs SET heartbeat = ? WHERE {where}", (time.time(), *params))
        self.lost = self.lost or cur.rowcount == 0

    def check(self) -> None:
        """Stop (CurationError) when another runner took the lease over (this one looked dead)."""
        if self.lost:
            raise CurationError(f"run {self.run_id} was taken over by another runner; this one stops")

    def start(self) -> Lease:
        """Heartbeat from a thread until `release` (a training step may outlast the stale limit)."""
        def loop() -> None:
            try:
                while not self._stop.wait(self.interval):
                    try:
                        self.beat()
                    except sqlite3.OperationalError:  # a busy or locked database: the next beat tries again
                        continue
            finally:
                self.ws.close()  # this thread's own connection

        self._thread = threading.Thread(target=loop, name=f"run-{self.run_id}-lease", daemon=True)
        self._thread.start()
        return self

    def release(self, status: str, error: str = "") -> None:
        """End the lease, recording how the run ended (nothing, if another runner holds it now)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        where, params = self._mine()
        with self.ws.transaction() as conn:
            conn.execute(f"UPDATE runs SET status = ?, error = ?, finished = ?, owner_pid = NULL, owner_host = '',"
                         f" owner_since = NULL, heartbeat = NULL WHERE {where}",
                         (status, error, time.time() if status in ("done", "failed", "cancelled") else None,
                          *params))
