"""Import widgets for the Start page: a source's preview with schema override, the import job, its report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from curation.formats import importer
from curation.formats import preview as import_preview
from curation.services import import_view as view
from curation.services import jobs
from curation.workspace import Workspace
from pages._common import md, shown_errors, submit
from pages._job_panel import job_card

IMPORT_JOB = "import_job"  # session key: the import this session started (its progress and report show)


@st.cache_data(show_spinner=False, max_entries=32)
def _preview(source: str, schema: str | None, split: str, stamp: tuple) -> import_preview.Preview:
    return import_preview.preview(source, schema=schema, hub_split=split)


def save_upload(ws: Workspace, uploaded) -> Path:
    """Keep an uploaded file in the workspace (the worker imports it from there); written once per upload, in
    chunks, and old uploads are removed then."""
    path = ws.path("uploads", view.safe_upload_name(uploaded.name))
    if st.session_state.get("_saved_upload") != (uploaded.file_id, str(path)) or not path.exists():
        view.write_upload(uploaded, path)
        view.prune_uploads(path.parent, keep=path)
        st.session_state["_saved_upload"] = (uploaded.file_id, str(path))
    return path


def start_import(ws: Workspace, source: str, *, schema: str | None = None, strict: bool = False,
                 split: str = "train") -> int:
    job_id = submit(ws, "import", {"source": source, "schema": schema, "strict": strict, "split": split})
    st.session_state[IMPORT_JOB] = job_id
    return job_id


def preview_and_import(ws: Workspace, source: str, *, key: str, split: str = "train") -> None:
    """Schema preview of `source` (detected schema, override, first rows, problems) and an Import button."""
    with shown_errors(OSError):
        detected = _preview(source, None, split, view.source_stamp(source))
        choice = st.selectbox("Schema", view.schema_choices(), key=f"{key}_schema",
                              format_func=lambda c: view.schema_label(c, detected.detected),
                              help="Override when detection picks the wrong schema.")
        schema = view.chosen_schema(choice)
        pv = detected if schema is None else _preview(source, schema, split, view.source_stamp(source))
        st.caption(f"Format **{pv.fmt}**, fields: {md(', '.join(pv.fields) or 'none')}; "
                   f"{pv.scanned} rows scanned for the preview.")
        if pv.detect_error and schema is None:
            st.warning(md(pv.detect_error), icon=":material/help:")
        if pv.converted:
            rows = pd.DataFrame(pv.converted)
            widths = {"line": st.column_config.NumberColumn(width="small"),
                      "turns": st.column_config.NumberColumn(width="small"),
                      **{c: st.column_config.TextColumn(width="medium") for c in ("instruction", "response", "input")}}
            st.dataframe(rows, hide_index=True, key=f"{key}_converted", column_order=view.preview_columns(rows),
                         column_config=widths)
        with st.expander("Raw rows as read"):
            st.dataframe(pd.DataFrame(pv.raw), hide_index=True)
        if pv.problems:
            st.warning(f"{len(pv.problems)} of the first {pv.scanned} rows would be skipped:",
                       icon=":material/warning:")
            st.dataframe(pd.DataFrame(pv.problems).head(20), hide_index=True)
        strict = st.checkbox("Stop at the first problem (strict)", key=f"{key}_strict")
        if st.button("Import", key=f"{key}_import", type="primary", icon=":material/upload:",
                     disabled=pv.schema is None):
            start_import(ws, source, schema=schema, strict=strict, split=split)
            st.rerun()


def import_status(ws: Workspace) -> None:
    """Progress of this session's import and, once done, its report."""
    job_id = st.session_state.get(IMPORT_JOB)
    if job_id is None:
        return
    with shown_errors():
        job = jobs.get(ws, job_id)
        if job.active:
            st.fragment(_live_status, run_every=1.0)(ws, job_id)
            return
        job_card(ws, job, where="start")
        if job.status == "done" and "import_id" in job.result:
            imports = {imp["import_id"]: imp for imp in importer.list_imports(ws)}
            report(imports[job.result["import_id"]])


def _live_status(ws: Workspace, job_id: int) -> None:
    job = jobs.get(ws, job_id)
    job_card(ws, job, where="start")
    if not job.active:
        st.rerun(scope="app")


def report(imp: dict) -> None:
    """One import's report: counts, problems by kind, the first problems with file:line."""
    for col, (label, value) in zip(st.columns(5), view.report_tiles(imp)):
        col.metric(label, value)
    if not imp["skipped"]:
        st.caption("No problems: every row was imported.")
        return
    st.dataframe(view.problem_counts(imp), hide_index=True, key=f"problem_counts_{imp['import_id']}")
    first = view.first_problems(imp)
    if len(first):
        st.caption(f"First {len(first)} problem(s), located by file and line:")
        st.dataframe(first, hide_index=True, key=f"problems_{imp['import_id']}")


def past_imports(ws: Workspace) -> None:
    imports = importer.list_imports(ws)
    if not imports:
        return
    st.subheader("Imports")
    st.dataframe(view.imports_table(imports), hide_index=True, key="imports_table")
    by_id = {imp["import_id"]: imp for imp in imports}
    chosen = st.selectbox("Report of import", list(reversed(by_id)), key="report_of",
                          format_func=lambda i: view.import_label(by_id[i]))
    report(by_id[chosen])
