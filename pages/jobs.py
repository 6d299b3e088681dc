"""Jobs: the background queue (one job at a time), live progress, cancel, and what each job returned."""

from __future__ import annotations

import json

import streamlit as st

from curation.services import jobs
from curation.services import jobs_view as view
from pages._common import md, start_worker, workspace
from pages._job_panel import job_card

ws = workspace()
st.title("Jobs")
st.caption("Imports, embeddings, maps and selection runs run in a separate worker process, one after the "
           "other, so they survive page switches, browser refreshes and server restarts.")


def queue() -> None:
    listed = jobs.list_jobs(ws, limit=100)
    alive = jobs.worker_alive(ws)
    worker_col, start_col = st.columns([3, 1])
    worker_col.markdown(":material/memory: Worker: **running**" if alive else
                        ":material/power_off: Worker: **stopped** (it exits after 10 idle minutes and starts "
                        "again with the next job)")
    active = [j for j in listed if j.active]
    if not alive and active and start_col.button("Start the worker", key="jobs_start_worker"):
        start_worker(ws)
        st.rerun()
    for job in reversed(active):  # oldest first: the running one, then the queue in order
        with st.container(border=True):
            job_card(ws, job, where="jobs")
    if not listed:
        st.info("No jobs yet. Importing data (Start page) runs one.", icon=":material/inbox:")
        return
    st.dataframe(view.jobs_table(listed), hide_index=True, key="jobs_table", column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0,
                                                    format="percent"),
        "message": st.column_config.TextColumn("message", width="large")})
    finished = [j for j in listed if not j.active]
    if finished:
        chosen = st.selectbox("Details of job", [j.job_id for j in finished], key="jobs_detail",
                              format_func=lambda i: f"#{i}")
        job = next(j for j in finished if j.job_id == chosen)
        job_card(ws, job, where="jobs_detail")
        st.caption("Parameters")
        st.code(json.dumps(job.params, indent=2, ensure_ascii=False), language="json")
        if job.result:
            st.caption("Result")
            summary = job.result.get("summary")
            if isinstance(summary, str):
                st.code(summary, language=None, wrap_lines=True)
            st.code(view.result_json(job), language="json")
        if job.error:
            st.caption(f"Error: {md(job.error)}")


has_active = bool(jobs.list_jobs(ws, limit=1, active_only=True))
st.fragment(queue, run_every=view.ACTIVE_POLL_S if has_active else 5.0)()
