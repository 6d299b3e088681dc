"""Export: a run's iteration and the decisions to honour, in a schema and format, written with a manifest."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from curation.formats import exporter
from curation.services import browse
from curation.services import export_view as view
from pages._common import md, require_pool, shown_errors, workspace

ws = workspace()
st.title("Export")
require_pool(ws)

runs = browse.run_choices(ws)
run_labels = {run_id: label for run_id, label, _ in runs}
what_col, how_col = st.columns(2, border=True)
with what_col:
    st.subheader("What", anchor=False)
    run_id = st.selectbox("Selection", [None, *run_labels], key="export_run", persist_state="session",
                          format_func=lambda r: "The whole pool (no run)" if r is None else run_labels[r])
    iteration = None
    if run_id is not None:
        its = next(its for rid, _, its in runs if rid == run_id)
        iteration = st.selectbox("Iteration", [None, *its], key=f"export_iteration_{run_id}",
                                 format_func=lambda i: f"last ({its[-1]})" if i is None else str(i))
    chosen_decisions = st.radio("Decisions", list(view.DECISIONS), format_func=view.DECISIONS.get,
                                key="export_decisions", persist_state="session")
with how_col:
    st.subheader("How", anchor=False)
    fmt = st.selectbox("Format", list(exporter.FORMATS), key="export_format", persist_state="session",
                       format_func=view.format_label)
    parquet_schema = "messages"
    if fmt == "parquet":
        parquet_schema = st.selectbox("Row schema inside the Parquet file",
                                      list(view.PARQUET_SCHEMAS), key="export_parquet_schema")
    provenance = st.checkbox("Add a `_curation` column: id, rank, score components, decision",
                             key="export_provenance", persist_state="session")
    write_rejected = st.checkbox("Also write the rejected samples to a separate file", key="export_rejected",
                                 persist_state="session")

spec = exporter.ExportSpec(fmt=fmt, parquet_schema=parquet_schema, run_id=run_id, iteration=iteration,
                           decisions=chosen_decisions, provenance=provenance, write_rejected=write_rejected)


@st.cache_data(max_entries=32, show_spinner=False)
def export_size(_ws, root: str, spec: exporter.ExportSpec, version: tuple) -> int:
    """How many samples `spec` exports, recomputed only when the pool, a decision or a run changed."""
    return len(exporter.choose_ids(_ws, spec)[0])


n_export = 0
with shown_errors():
    n_export = export_size(ws, str(ws.root), spec, browse.version(ws))
    st.markdown(f"**{n_export:,}** samples will be exported.")

default_path = view.default_path(ws.root, fmt, parquet_schema)
out = st.text_input("Write to", value=str(default_path), key=f"export_path_{fmt}_{parquet_schema}",
                    help="A path on the machine running the app; written atomically, a manifest beside it.")
target = Path(out.strip()).expanduser()
existing = view.existing_targets(target, write_rejected) if out.strip() else []
replace = False
if existing:
    replace = st.checkbox(f"Replace the existing {', '.join(p.name for p in existing)}", key="export_replace",
                          help="The file is there already; an export never replaces one unless you say so.")
if st.button("Export", key="export_go", type="primary", icon=":material/save:",
             disabled=not n_export or (bool(existing) and not replace)):
    with shown_errors(OSError), st.spinner("Writing…"):
        result = exporter.export(ws, target, spec, overwrite=replace)
        st.session_state["last_export"] = {"path": str(result.path), "manifest": str(result.manifest_path),
                                           "rejected": str(result.rejected_path or ""), "count": result.count,
                                           "warnings": result.warnings}

last = st.session_state.get("last_export")
if last and Path(last["path"]).exists():
    path, manifest_path = Path(last["path"]), Path(last["manifest"])
    st.success(f"Wrote {last['count']:,} samples to {md(path)}", icon=":material/check_circle:")
    for warning in last.get("warnings", []):
        st.warning(md(warning), icon=":material/warning:")
    dl_file, dl_manifest, dl_rejected = st.columns(3)
    dl_file.download_button(f"Download {path.name}", data=path.read_bytes(), file_name=path.name,
                            key="export_download", icon=":material/download:", type="primary",
                            mime=view.mime(path))
    dl_manifest.download_button("Download the manifest", data=manifest_path.read_bytes(),
                                file_name=manifest_path.name, key="export_download_manifest",
                                mime="application/json", icon=":material/description:")
    if last["rejected"] and Path(last["rejected"]).exists():
        rejected = Path(last["rejected"])
        dl_rejected.download_button(f"Download {rejected.name}", data=rejected.read_bytes(),
                                    file_name=rejected.name, key="export_download_rejected",
                                    icon=":material/block:")
    st.caption("Manifest: what was exported and how to reproduce it")
    st.json(json.loads(manifest_path.read_text(encoding="utf-8")), expanded=1)
