"""Start: load a default pool into an empty workspace, or import your own file, folder or hub dataset."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from curation.formats import bundled_pools, demo
from curation.services import browse
from curation.workspace import samples
from pages._common import md, workspace
from pages._importing import import_status, past_imports, preview_and_import, save_upload, start_import

ws = workspace()
st.title("Start")


@st.cache_data(ttl=300, show_spinner="Checking whether the Hugging Face hub is reachable…")
def hub_reachable() -> bool:
    return demo.hub_reachable()


n_samples = samples.count(ws)
import_status(ws)

if n_samples == 0:
    st.info("The workspace is empty. Load a default pool to look around, or import your own data below.",
            icon=":material/inbox:")
    bundled_col, hub_col, demo_col = st.columns(3, border=True)
    with bundled_col:
        dolly = bundled_pools.POOLS["dolly-15k"]
        st.subheader(dolly.title, anchor=False)
        st.caption(f"{dolly.description} Licence: {dolly.licence}.")
        if st.button("Load Dolly-15k", key="load_bundled", type="primary", icon=":material/inventory_2:"):
            start_import(ws, dolly.name, schema=dolly.schema)
            st.rerun()
    with hub_col:
        st.subheader("From the hub", anchor=False)
        st.caption(f"{demo.HUB_DATASET} from the Hugging Face hub: all 15,011 rows with their categories.")
        reachable = hub_reachable()
        if st.button("Import Dolly from the hub", key="load_dolly", icon=":material/cloud_download:",
                     disabled=not reachable):
            start_import(ws, demo.HUB_DATASET, schema="dolly")
            st.rerun()
        if not reachable:
            st.caption(":material/cloud_off: The hub cannot be reached from here (offline mode or no network); "
                       "the bundled copy needs none.")
    with demo_col:
        st.subheader("Demo pool", anchor=False)
        st.caption("Generated here: about 330 pairs over ten topics with planted near-duplicates, exact "
                   "duplicates, noisy answers and a few broken lines, so every page has a problem to find.")
        if st.button("Load the demo pool", key="load_demo", icon=":material/science:"):
            pool = demo.write_demo_pool(demo.demo_path(ws))
            start_import(ws, str(pool.path), schema="alpaca")
            st.rerun()
else:
    n_sources = len(browse.sources(ws))
    st.success(f"The pool holds {n_samples:,} samples from {n_sources} source(s).", icon=":material/check:")
    st.page_link("pages/data.py", label="Browse them on the Data page", icon=":material/table:")

st.header("Import your own data", anchor=False)
st.caption("JSONL, JSON array, CSV/TSV, Parquet, a `save_to_disk` folder, or a hub dataset name. Schemas: "
           "alpaca, dolly, sharegpt, messages (OpenAI/TRL), prompt/completion. Re-importing is harmless: "
           "exact duplicates collapse into one sample.")
by_path, by_upload, by_hub = st.tabs(["Path on this machine", "Upload", "Hugging Face dataset"])
with by_path:
    path = st.text_input("File or folder path", key="import_path", placeholder="/data/my-sft-set.jsonl")
    if path.strip():
        preview_and_import(ws, str(Path(path.strip()).expanduser()), key="path")
with by_upload:
    uploaded = st.file_uploader("File", type=["jsonl", "ndjson", "json", "csv", "tsv", "parquet"],
                                key="import_upload")
    if uploaded is not None:
        saved = save_upload(ws, uploaded)
        st.caption(f"Saved as {md(saved)}")
        preview_and_import(ws, str(saved), key="upload")
with by_hub:
    name = st.text_input("Dataset name", key="import_hub", placeholder=demo.HUB_DATASET)
    split = st.text_input("Split", value="train", key="import_hub_split")
    if name.strip():
        if st.toggle("Preview (reads the first rows from the hub)", key="hub_preview"):
            preview_and_import(ws, name.strip(), key="hub", split=split.strip() or "train")
        elif st.button("Import", key="hub_import", icon=":material/cloud_download:"):
            start_import(ws, name.strip(), split=split.strip() or "train")
            st.rerun()

past_imports(ws)
