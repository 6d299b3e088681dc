"""Job commands: the background worker, the queue listing, cancellation."""

from __future__ import annotations

import argparse
from typing import Any

from curation.cli import add_command
from curation.services import jobs
from curation.workspace import Workspace


def register(sub: Any) -> None:
    p = add_command(sub, "worker", cmd_worker, "Run queued jobs one at a time (the app starts this for you).")
    p.add_argument("--once", action="store_true", help="run what is queued now, then exit")
    p.add_argument("--idle-exit", type=float, default=jobs.IDLE_EXIT_S, help="exit after this many idle seconds")
    add_command(sub, "jobs", cmd_jobs, "List recent jobs with their status and progress.")
    p = add_command(sub, "cancel", cmd_cancel, "Cancel a queued or running job.")
    p.add_argument("job_id", type=int)


def cmd_worker(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    if args.once:
        jobs.requeue_stale(ws)
        print(f"ran {jobs.run_pending(ws)} job(s)")
    else:
        jobs.worker_loop(ws, idle_exit_s=args.idle_exit)
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    for j in jobs.list_jobs(ws):
        pct = f"{100 * j.fraction:5.1f}%" if j.total else "     "
        print(f"{j.job_id:>5}  {j.kind:<8} {j.status:<10} {pct}  {j.message or j.error}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    jobs.cancel(ws, args.job_id)
    print(f"cancel requested for job {args.job_id}")
    return 0
