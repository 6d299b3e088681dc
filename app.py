"""The curation app: `streamlit run app.py` (workspace: $CURATION_WORKSPACE, default ./workspace).

Pages only draw and call `curation`; every decision, run and job lives in the workspace, so a page switch, a
browser refresh or a server restart loses nothing. Long work runs as jobs in a separate worker process.
"""

from __future__ import annotations

import streamlit as st

from curation.services.jobs_view import ACTIVE_POLL_S
from curation.workspace import decisions
from pages._common import md, start_worker, workspace
from pages._job_panel import job_card, watch_finished_jobs

st.set_page_config(page_title="curation", page_icon="🗂️", layout="wide")  # an emoji: drawn locally

ws = workspace(from_entrypoint=True)
if not st.session_state.get("_worker_checked"):
    st.session_state["_worker_checked"] = True
    start_worker(ws)

page = st.navigation({
    "Pool": [
        st.Page("pages/start.py", title="Start", icon=":material/home:", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/table:"),
        st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:"),
        st.Page("pages/duplicates.py", title="Duplicates", icon=":material/content_copy:"),
    ],
    "Curate": [
        st.Page("pages/select.py", title="Select", icon=":material/filter_alt:"),
        st.Page("pages/review.py", title="Review", icon=":material/rate_review:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
    ],
    "System": [st.Page("pages/jobs.py", title="Jobs", icon=":material/work_history:")],
})


def _status() -> None:
    """Pool counts and the active job; polled so only this part reruns."""
    counts = decisions.counts(ws)
    total = counts["pending"] + counts["approved"] + counts["rejected"]
    st.caption(f"Pool: {total:,} samples")
    # pending on a row of its own: three columns of the sidebar cut a count of five digits or more to "1…"
    st.metric("Pending", f"{counts['pending']:,}")
    approved, rejected = st.columns(2)
    approved.metric("Approved", f"{counts['approved']:,}")
    rejected.metric("Rejected", f"{counts['rejected']:,}")
    active = watch_finished_jobs(ws)
    if active:
        job_card(ws, active[-1], where="sidebar")  # the oldest active job: the one running
        if len(active) > 1:
            st.caption(f"{len(active) - 1} more job(s) queued")


# poll fast while a job runs, slowly otherwise (a finished job triggers a full rerun, which re-chooses)
_has_active = bool(watch_finished_jobs(ws))
with st.sidebar:
    st.fragment(_status, run_every=ACTIVE_POLL_S if _has_active else 10.0)()
    st.caption(f"Workspace: {md(ws.root)}")

page.run()
