"""What every page shares: the workspace, readable errors, plain-text display of user text, jobs.

User text (instructions, responses, file names, error messages that quote them) is never rendered as HTML:
it goes through `st.code` / `st.text` / dataframes, or through `md()` which escapes Markdown before a
Markdown-rendering call (st.caption, st.error, progress labels).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from curation.errors import CurationError
from curation.records import Record
from curation.services import jobs
from curation.workspace import DEFAULT_WORKSPACE, Workspace, samples

WORKSPACE_ENV = "CURATION_WORKSPACE"
LONG_TEXT_CHARS = 1500
# Tests drive the queue in-process (jobs.run_pending) and set this to "0" so no detached worker is spawned.
START_WORKER_ENV = "CURATION_START_WORKER"
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


@st.cache_resource(show_spinner=False)
def _open_workspace(root: str) -> Workspace:
    return Workspace(root)


def workspace() -> Workspace:
    """The app's workspace: $CURATION_WORKSPACE, default ./workspace (one shared object per server)."""
    return _open_workspace(os.environ.get(WORKSPACE_ENV, DEFAULT_WORKSPACE))


def require_pool(ws: Workspace) -> None:
    """Stop the page with a pointer to Start when the workspace holds no samples yet."""
    if samples.count(ws) == 0:
        st.info("The pool is empty: load or import data on the Start page first.", icon=":material/inbox:")
        st.page_link("pages/start.py", label="Start", icon=":material/home:")
        st.stop()


def md(text: object) -> str:
    """`text` escaped so that a Markdown-rendering element shows it verbatim (no links, HTML, LaTeX)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", "  \n")


@contextmanager
def shown_errors(*also: type[BaseException]) -> Iterator[None]:
    """Show a CurationError (something the user can fix) as a readable message, and the exception types in
    `also` (OSError where the user names a path); anything else is a bug and propagates to Streamlit's
    traceback."""
    try:
        yield
    except (CurationError, *also) as exc:
        st.error(md(exc), icon=":material/error:")


def plain(label: str, text: str) -> None:
    """A labelled block of user text, verbatim (never interpreted as Markdown or HTML)."""
    st.caption(label)
    if text.strip():  # long texts (Dolly's reference passages) scroll inside their block
        st.code(text, language=None, wrap_lines=True, height=360 if len(text) > LONG_TEXT_CHARS else "content")
    else:
        st.text("(empty)")


def show_record(record: Record) -> None:
    """A conversation as plain text: system, instruction/input for single-turn rows, else every turn."""
    if record.system.strip():
        plain("System", record.system)
    turns = record.turns
    if len(turns) == 2 and record.parts:
        plain("Instruction", record.instruction)
        if record.input.strip():
            plain("Input", record.input)
    else:
        for number, message in enumerate(turns[:-1], 1):
            plain(f"Turn {number}: {message.role}", message.content)
    plain("Response", record.response)


# -- jobs ---------------------------------------------------------------------------------------------
def start_worker(ws: Workspace) -> None:
    """Make sure a worker runs jobs for this workspace (cheap when one does: a lock probe)."""
    if os.environ.get(START_WORKER_ENV, "1") == "0":
        return
    # the worker runs `python -m curation` from the server's working directory: let it find the package
    # even when the app was started from elsewhere (`streamlit run /path/to/app.py`)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if _PROJECT_ROOT not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([_PROJECT_ROOT, *paths])
    jobs.ensure_worker(ws)


def submit(ws: Workspace, kind: str, params: dict) -> int:
    """Queue a job and make sure a worker will pick it up."""
    job_id = jobs.submit(ws, kind, params)
    start_worker(ws)
    return job_id


def job_card(ws: Workspace, job: jobs.Job, *, where: str) -> None:
    """Progress of one job with a cancel button (for queued and running jobs) or its outcome."""
    label = f"{job.kind} #{job.job_id}"
    if job.active:
        waiting = "waiting for the worker" if job.status == "queued" else ""
        detail = md(job.message) if job.message else waiting
        st.progress(job.fraction, text=f"**{label}** {job.status}: {detail}")
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
