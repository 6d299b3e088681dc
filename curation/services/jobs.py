"""Background jobs: a queue in the workspace and one worker process that runs them one at a time.

Why a separate process: embedding and fine-tuning take minutes; they must survive page switches, browser
refreshes and a restart of the Streamlit server, and on 2 cores two torch jobs at once are slower than one after
the other. So the app only *submits* jobs and polls their rows; a detached worker (`python -m curation worker`)
holds an exclusive lock on the workspace's `worker.lock`, claims queued jobs oldest first, reports progress into
the job's row, and checks the row's cancel flag. A worker that died mid-job leaves a stale heartbeat: the next
worker puts that job back in the queue, and job functions resume from what they had persisted.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curation import heap
from curation.errors import Cancelled, CurationError
from curation.services import app_env
from curation.workspace.db import Workspace

# kind -> "module:function"; functions take (ws, params: dict, ctx: JobContext) and return a JSON-able dict.
KINDS: dict[str, str] = {
    "import": "curation.services.tasks:run_import",
    "embed": "curation.services.tasks:run_embed",
    "umap": "curation.services.tasks:run_umap",
    "select": "curation.services.tasks:run_select",
    "score": "curation.services.tasks:run_score",
    "dedup_scan": "curation.services.tasks:run_dedup_scan",
    "timeline": "curation.services.tasks:run_timeline",
    "calibrate": "curation.services.tasks:run_calibrate",
    "evaluate": "curation.services.tasks:run_evaluate",
    "sleep": "curation.services.tasks:run_sleep",  # for tests and for checking that the worker is alive
}
HEARTBEAT_S = 2.0
STALE_S = 30.0  # a running job whose heartbeat is older than this belongs to a dead worker
IDLE_EXIT_S = 600.0


@dataclass(frozen=True)
class Job:
    job_id: int
    kind: str
    params: dict[str, Any]
    status: str
    done: int
    total: int
    message: str
    result: dict[str, Any]
    error: str
    cancel_requested: bool
    created: float
    started: float | None
    finished: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


class JobContext:
    """What a job function gets: progress reporting and cancellation, both through the job's row."""

    def __init__(self, ws: Workspace, job_id: int):
        self.ws, self.job_id = ws, job_id
        self._last_write = 0.0
        self._last_check = 0.0
        self._cancel = False

    def progress(self, done: int, total: int, message: str = "") -> None:
        now = time.time()
        if now - self._last_write < 0.25 and done < total:
            return  # throttle: the UI polls at most a few times a second
        self._last_write = now
        with self.ws.transaction() as conn:
            conn.execute("UPDATE jobs SET done = ?, total = ?, message = ?, heartbeat = ? WHERE job_id = ?",
                         (int(done), int(total), message[:500], now, self.job_id))

    def should_stop(self) -> bool:
        now = time.time()
        if not self._cancel and now - self._last_check >= 0.5:
            self._last_check = now
            row = self.ws.query("SELECT cancel_requested FROM jobs WHERE job_id = ?", (self.job_id,))
            self._cancel = bool(row and row[0][0])
            with self.ws.transaction() as conn:
                conn.execute("UPDATE jobs SET heartbeat = ? WHERE job_id = ?", (now, self.job_id))
        return self._cancel


# -- queue operations (used by the app and the CLI) -------------------------------------------------
def submit(ws: Workspace, kind: str, params: dict[str, Any] | None = None) -> int:
    if kind not in KINDS:
        raise CurationError(f"unknown job kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    with ws.transaction() as conn:
        cur = conn.execute("INSERT INTO jobs(kind, params, status, created) VALUES (?, ?, 'queued', ?)",
                           (kind, json.dumps(params or {}), time.time()))
        return int(cur.lastrowid or 0)  # set by every INSERT


def submit_once(ws: Workspace, kind: str, params: dict[str, Any] | None = None) -> int:
    """Queue a job unless an identical one is already queued or running (a double click queues one)."""
    for job in list_jobs(ws, limit=50, active_only=True):
        if job.kind == kind and job.params == (params or {}):
            return job.job_id
    return submit(ws, kind, params)


def get(ws: Workspace, job_id: int) -> Job:
    rows = ws.query("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
    if not rows:
        raise CurationError(f"no job {job_id}")
    return _job(rows[0])


def list_jobs(ws: Workspace, *, limit: int = 50, active_only: bool = False) -> list[Job]:
    where = " WHERE status IN ('queued','running')" if active_only else ""
    return [_job(r) for r in ws.query(f"SELECT * FROM jobs{where} ORDER BY job_id DESC LIMIT ?", (limit,))]


def cancel(ws: Workspace, job_id: int) -> None:
    """Ask a job to stop: a queued job is cancelled at once, a running one at its next check."""
    with ws.transaction() as conn:
        conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE job_id = ?", (job_id,))
        conn.execute("UPDATE jobs SET status = 'cancelled', finished = ? WHERE job_id = ? AND status = 'queued'",
                     (time.time(), job_id))


# -- the worker -------------------------------------------------------------------------------------
def requeue_stale(ws: Workspace) -> int:
    """Put back in the queue jobs whose worker died (their heartbeat went stale)."""
    with ws.transaction() as conn:
        cur = conn.execute(
            "UPDATE jobs SET status = 'queued', message = 'resuming after the worker stopped'"
            " WHERE status = 'running' AND (heartbeat IS NULL OR heartbeat < ?)", (time.time() - STALE_S,))
        return cur.rowcount


def claim_next(ws: Workspace) -> Job | None:
    with ws.transaction() as conn:
        row = conn.execute("SELECT * FROM jobs WHERE status = 'queued' ORDER BY job_id LIMIT 1").fetchone()
        if row is None:
            return None
        now = time.time()
        conn.execute("UPDATE jobs SET status = 'running', started = COALESCE(started, ?), heartbeat = ?,"
                     " worker_pid = ? WHERE job_id = ?", (now, now, os.getpid(), row["job_id"]))
    return get(ws, row["job_id"])


def run_job(ws: Workspace, job: Job) -> Job:
    """Run one claimed job to its end, recording done / failed / cancelled."""
    ctx = JobContext(ws, job.job_id)
    status, error = "done", ""
    result: dict[str, Any] = {}
    try:
        module, func = KINDS[job.kind].split(":")
        fn: Callable = getattr(importlib.import_module(module), func)
        result = fn(ws, job.params, ctx) or {}
    except Cancelled as exc:
        status, error = "cancelled", str(exc)
    except CurationError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # a bug: keep the traceback for the log, show the message
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    heap.return_freed_memory()  # the worker runs the next job in this process (curation.heap)
    with ws.transaction() as conn:
        conn.execute("UPDATE jobs SET status = ?, result = ?, error = ?, finished = ?, heartbeat = ? WHERE job_id = ?",
                     (status, json.dumps(result, default=str), error, time.time(), time.time(), job.job_id))
    return get(ws, job.job_id)


def run_pending(ws: Workspace) -> int:
    """Run every queued job in this process (tests, `python -m curation worker --once`)."""
    n = 0
    while (job := claim_next(ws)) is not None:
        run_job(ws, job)
        n += 1
    return n


def worker_loop(ws: Workspace, *, idle_exit_s: float = IDLE_EXIT_S, poll_s: float = 0.5) -> None:
    """Hold the workspace's worker lock and run jobs until idle for `idle_exit_s` seconds."""
    lock = _try_lock(ws)
    if lock is None:
        return  # another worker is running for this workspace
    try:
        idle_since = time.time()
        while True:
            requeue_stale(ws)
            job = claim_next(ws)
            if job is None:
                if time.time() - idle_since > idle_exit_s:
                    return
                time.sleep(poll_s)
                continue
            run_job(ws, job)
            idle_since = time.time()
    finally:
        lock.close()


def worker_alive(ws: Workspace) -> bool:
    lock = _try_lock(ws)
    if lock is None:
        return True
    lock.close()
    return False


def ensure_worker(ws: Workspace) -> bool:
    """Start a detached worker for `ws` unless one is running. Returns True if it started one."""
    if worker_alive(ws):
        return False
    log = open(ws.path("logs", "worker.log"), "ab")
    # the worker imports this very copy of `curation`, whatever folder the app was started from
    env = {**os.environ, "PYTHONPATH": app_env.pythonpath_with(app_env.PROJECT_ROOT, os.environ.get("PYTHONPATH", ""))}
    subprocess.Popen([sys.executable, "-m", "curation", "--workspace", str(ws.root), "worker"],
                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                     start_new_session=True, close_fds=True)  # own session: survives a server restart
    log.close()
    return True


def _try_lock(ws: Workspace) -> Any:
    fh = open(ws.path("worker.lock"), "a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def _job(r: Any) -> Job:
    return Job(r["job_id"], r["kind"], json.loads(r["params"]), r["status"], r["done"], r["total"], r["message"],
               json.loads(r["result"]) if r["result"] else {}, r["error"], bool(r["cancel_requested"]),
               r["created"], r["started"], r["finished"])
