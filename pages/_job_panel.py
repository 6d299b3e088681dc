"""The jobs a page started, live: progress and cancel while they run, their error when the last one failed.

Pages submit work (maps, duplicate scans, selection runs) as jobs; the worker runs them one at a time. The
panel polls only while one of its jobs is queued or running (a fragment with `run_every`), and the app reruns
in full when a job ends (`watch_finished_jobs`), so the page then draws the job's result.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import streamlit as st

from curation.services import jobs
from curation.services import jobs_view as view
from curation.workspace import Workspace
from pages._common import md, start_worker

JobMatch = Callable[[jobs.Job], bool]


def job_card(ws: Workspace, job: jobs.Job, *, where: str) -> None:
    """Progress of one job with a cancel button (for queued and running jobs) or its outcome."""
    label = view.card_title(job)
    if job.active:
        st.progress(job.fraction, text=f"**{label}** {job.status}: {md(view.waiting_text(job))}")
        if job.cancel_requested:
            st.caption("cancelling…")
        elif st.button("Cancel", key=f"cancel-{where}-{job.job_id}", icon=":material/cancel:"):
            jobs.cancel(ws, job.job_id)
            st.rerun()
    elif job.status == "done":
        st.success(f"{label} finished", icon=":material/check_circle:")
    elif job.status == "cancelled":
        st.warning(f"{label} was cancelled. {md(job.error)}", icon=":material/cancel:")
    else:
        st.error(f"{label} failed: {md(job.error)}", icon=":material/error:")


def watch_finished_jobs(ws: Workspace) -> list[jobs.Job]:
    """Active jobs now; reruns the whole app once when a job this session saw running has finished, so
    pages show its results (called from polling fragments)."""
    active = jobs.list_jobs(ws, limit=20, active_only=True)
    now = {j.job_id for j in active}
    seen = st.session_state.get("_active_jobs", set())
    st.session_state["_active_jobs"] = now
    if seen - now:
        st.rerun(scope="app")
    return active


def matching_jobs(ws: Workspace, kinds: Collection[str], match: JobMatch | None = None, *,
                  active_only: bool = True, limit: int = 50) -> list[jobs.Job]:
    """Jobs of these kinds (and accepted by `match`), newest first."""
    return [j for j in jobs.list_jobs(ws, limit=limit, active_only=active_only)
            if j.kind in kinds and (match is None or match(j))]


def job_panel(ws: Workspace, kinds: Collection[str], *, where: str, match: JobMatch | None = None,
              show_failure: bool = True) -> bool:
    """Draw this page's active jobs (oldest first) or its last failure; True while one is active."""
    active = matching_jobs(ws, kinds, match)

    def body() -> None:
        now = [j for j in watch_finished_jobs(ws) if j.kind in kinds and (match is None or match(j))]
        for job in reversed(now):
            with st.container(border=True):
                job_card(ws, job, where=where)

    if active:
        st.fragment(body, run_every=view.ACTIVE_POLL_S)()
        return True
    if show_failure:
        recent = matching_jobs(ws, kinds, match, active_only=False, limit=20)
        if recent and recent[0].status in ("failed", "cancelled"):
            job_card(ws, recent[0], where=where)
    return False


def submit_once(ws: Workspace, kind: str, params: dict) -> int:
    """Queue a job unless an identical one is already active, and make sure a worker will pick it up."""
    job_id = jobs.submit_once(ws, kind, params)
    start_worker(ws)
    return job_id
