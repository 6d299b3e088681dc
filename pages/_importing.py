"""Import widgets for the Start page: a source's preview with schema override, the import job, its report."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from curation.formats import importer, loaders, schemas
from curation.formats import preview as import_preview
from curation.services import jobs
from curation.workspace import Workspace
from curation.workspace.arrays import atomic_write_bytes
from pages._common import job_card, md, shown_errors, submit

IMPORT_JOB = "import_job"  # session key: the import this session started (its progress and report show)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@st.cache_data(show_spinner=False, max_entries=32)
def _preview(source: str, schema: str | None, split: str, stamp: tuple) -> import_preview.Preview:
    return import_preview.preview(source, schema=schema, hub_split=split)


def _stamp(source: str) -> tuple:
    """Cache key part that changes when a file changes (hub names: never)."""
    try:
        st_ = os.stat(source)
        return (st_.st_mtime_ns, st_.st_size)
    except OSError:
        return ()


def save_upload(ws: Workspace, uploaded) -> Path:
    """Keep an uploaded file in the workspace (the worker imports it from there); written once per upload."""
    safe = _UNSAFE_NAME.sub("_", Path(uploaded.name).name).strip("._") or "upload.jsonl"
    path = ws.path("uploads", safe)
    if st.session_state.get("_saved_upload") != (uploaded.file_id, str(path)) or not path.exists():
        atomic_write_bytes(path, uploaded.getvalue())
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
        detected = _preview(source, None, split, _stamp(source))
        choices = ["detected"] + list(schemas.SCHEMAS)
        label = f"detected: {detected.detected}" if detected.detected else "detected: none fits"
        choice = st.selectbox("Schema", choices, key=f"{key}_schema",
                              format_func=lambda c: label if c == "detected" else c,
                              help="Override when detection picks the wrong schema.")
        schema = None if choice == "detected" else choice
        pv = detected if schema is None else _preview(source, schema, split, _stamp(source))
        st.caption(f"Format **{pv.fmt}**, fields: {md(', '.join(pv.fields) or 'none')}; "
                   f"{pv.scanned} rows scanned for the preview.")
        if pv.detect_error and schema is None:
            st.warning(md(pv.detect_error), icon=":material/help:")
        if pv.converted:
            rows = pd.DataFrame(pv.converted)
            columns = ["line", "instruction", "response"]
            columns += [c for c in ("input", "system") if rows[c].astype(bool).any()]
            columns += ["turns"] if (rows["turns"] > 1).any() else []
            st.dataframe(rows, hide_index=True, key=f"{key}_converted", column_order=columns, column_config={
                "line": st.column_config.NumberColumn(width="small"),
                "turns": st.column_config.NumberColumn(width="small"),
                **{c: st.column_config.TextColumn(width="medium") for c in ("instruction", "response", "input")}})
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
    cols = st.columns(5)
    for col, (label, value) in zip(cols, (("Rows read", imp["rows_read"]), ("Valid", imp["rows_imported"]),
                                          ("New samples", imp["new_samples"]),
                                          ("Duplicates", imp["duplicates"]), ("Skipped", imp["skipped"]))):
        col.metric(label, f"{value:,}")
    problems = imp["problems"]
    if not imp["skipped"]:
        st.caption("No problems: every row was imported.")
        return
    counts = problems.get("counts", {})
    st.dataframe(pd.DataFrame([{"problem": k, "rows": v, "meaning": loaders.PROBLEM_KINDS.get(k, "")}
                               for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]),
                 hide_index=True, key=f"problem_counts_{imp['import_id']}")
    first = problems.get("first", [])
    if first:
        st.caption(f"First {len(first)} problem(s), located by file and line:")
        st.dataframe(pd.DataFrame([{"where": f"{Path(p['source']).name}:{p['line']}", "problem": p["kind"],
                                    "message": p["message"]} for p in first]),
                     hide_index=True, key=f"problems_{imp['import_id']}")


def past_imports(ws: Workspace) -> None:
    imports = importer.list_imports(ws)
    if not imports:
        return
    st.subheader("Imports")
    st.dataframe(pd.DataFrame([{
        "import": imp["import_id"], "source": imp["source"], "schema": imp["schema"],
        "rows read": imp["rows_read"], "new samples": imp["new_samples"], "duplicates": imp["duplicates"],
        "skipped": imp["skipped"], "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(imp["created"])),
    } for imp in reversed(imports)]), hide_index=True, key="imports_table")
    by_id = {imp["import_id"]: imp for imp in imports}
    chosen = st.selectbox("Report of import", list(reversed(by_id)), key="report_of",
                          format_func=lambda i: f"#{i}: {Path(by_id[i]['source']).name}")
    report(by_id[chosen])
