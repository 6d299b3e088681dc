"""Jobs: the background queue (one job at a time), live progress, cancel, and what each job returned."""

from __future__ import annotations

import json
import time

import pandas as pd
import streamlit as st

from curation.services import jobs
from pages._common import job_card, md, start_worker, workspace

ws = workspace()
st.title("Jobs")
st.caption("Imports, embeddings, maps and selection runs run in a separate worker process, one after the "
           "other, so they survive page switches, browser refreshes and server restarts.")


def _when(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else ""


def _took(job: jobs.Job) -> str:
    if not job.started:
        return ""
    seconds = (job.finished or time.time()) - job.started
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


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
    st.dataframe(pd.DataFrame([{
        "job": j.job_id, "kind": j.kind, "status": j.status,
        "progress": j.fraction if j.total else (1.0 if j.status == "done" else 0.0),
        "message": j.error or j.message, "queued": _when(j.created), "took": _took(j),
    } for j in listed]), hide_index=True, key="jobs_table", column_config={
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
            st.code(json.dumps({k: v for k, v in job.result.items() if k != "summary"}, indent=2,
                               ensure_ascii=False, default=str), language="json")
        if job.error:
            st.caption(f"Error: {md(job.error)}")


has_active = bool(jobs.list_jobs(ws, limit=1, active_only=True))
st.fragment(queue, run_every=1.0 if has_active else 5.0)()
