"""What the Jobs page and the job cards say about jobs: times, durations, the queue as a table, a card's
status line. Plain values over `curation.services.jobs.Job`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import pandas as pd

from curation.services.jobs import Job

# How often a page polls a running job. Each poll reruns a fragment in the app server, and on a 2-core machine
# polling every second slowed a worker's 15k-row embedding by about 40 % (its torch threads stall whenever a
# core is taken), so watching a job costs one rerun in this many seconds.
ACTIVE_POLL_S = 2.0


def clock(t: float | None) -> str:
    """Local time of day ("" for a time not reached yet)."""
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else ""


def took(job: Job, now: float | None = None) -> str:
    """How long a job ran (still runs): seconds below two minutes, else minutes; "" before it started."""
    if not job.started:
        return ""
    seconds = (job.finished or (time.time() if now is None else now)) - job.started
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def progress_of(job: Job) -> float:
    """The table's progress bar: the job's fraction, or all or nothing for jobs that report no total."""
    if job.total:
        return job.fraction
    return 1.0 if job.status == "done" else 0.0


def jobs_table(listed: Sequence[Job], now: float | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"job": j.job_id, "kind": j.kind, "status": j.status, "progress": progress_of(j),
                          "message": j.error or j.message, "queued": clock(j.created), "took": took(j, now)}
                         for j in listed])


def result_json(job: Job) -> str:
    """A finished job's result without its summary text (shown on its own), as indented JSON."""
    return json.dumps({k: v for k, v in job.result.items() if k != "summary"}, indent=2, ensure_ascii=False,
                      default=str)


def card_title(job: Job) -> str:
    return f"{job.kind} #{job.job_id}"


def waiting_text(job: Job) -> str:
    """The plain text after an active job's status: its last message, or that it waits for the worker."""
    return job.message or ("waiting for the worker" if job.status == "queued" else "")
