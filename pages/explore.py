"""Explore: the pool as a UMAP map (computed once per embedding by a job, cached in the workspace), coloured by
source, cluster, run, iteration, decision or score. A lasso or box selection becomes the map selection
(`st.session_state["selection_ids"]`, which the Data and Review pages also use): inspect it, approve, reject or
pin it, compare its response lengths and Vendi score with the pool's."""

from __future__ import annotations

import numpy as np
import streamlit as st

from curation.geometry import maps
from curation.services import browse, plots
from curation.workspace import runs, samples
from pages import _explore_data as data
from pages._common import md, require_pool, shown_errors, workspace
from pages._filters import MAP_SELECTION
from pages._job_panel import job_panel, submit_once
from pages._sample import decide, sample_panel

ws = workspace()
state = st.session_state
st.title("Explore")
require_pool(ws)

ids = samples.ids(ws)
pool_map = maps.current(ws, ids)

# -- computing the map (a job: embedding, then UMAP) ------------------------------------------------------
busy = job_panel(ws, ("embed", "umap"), where="explore")
with st.expander("Map settings" if pool_map is not None else "Compute the map", expanded=pool_map is None):
    st.caption("The map embeds every sample with all-MiniLM-L6-v2 (cached: only new samples cost time), then "
               "lays the embeddings out with UMAP (cosine, k-NN from FAISS). Both run in the background and are "
               "kept in the workspace, so the map is computed once per pool.")
    preview = st.toggle("Fast preview (50 UMAP epochs: several times faster, a little looser)",
                        key="explore_preview", value=len(ids) > 20_000, persist_state="session")
    label = "Compute the map" if pool_map is None else ("Recompute as a full map" if pool_map.preview
                                                        else "Recompute the map")
    if st.button(label, key="explore_compute", icon=":material/scatter_plot:", type="primary",
                 disabled=busy):
        submit_once(ws, "embed", {"config": {}, "field": "text"})
        submit_once(ws, "umap", {"field": "text", "map": {"preview": bool(preview)}})
        st.rerun()
if pool_map is None:
    older = maps.available(ws)
    if busy:
        pass
    elif older:
        st.info(f"The pool changed since the last map was drawn ({older[0]['n']:,} samples then, {len(ids):,} "
                "now): compute it again above.", icon=":material/update:")
    else:
        st.info("No map of this pool yet: compute it above (a few seconds for hundreds of samples, minutes for "
                "tens of thousands).", icon=":material/scatter_plot:")
    st.stop()

root, key = str(ws.root), pool_map.key
texts = data.pool_texts(root, maps.ids_hash(ids))
run_list = browse.run_choices(ws)
run_labels = {run_id: label for run_id, label, _ in run_list}

# -- colouring ------------------------------------------------------------------------------------------
colour_col, run_col, detail_col = st.columns([2, 3, 2])
offered = [c for c in data.COLOURS if c not in ("run", "iteration") or run_list]
choice = colour_col.selectbox("Colour by", offered, format_func=data.COLOURS.get, key="explore_colour",
                              persist_state="session")
run_id = iteration = score = None
if choice in ("run", "iteration", "score") and run_list:
    run_id = run_col.selectbox("Run", list(run_labels), format_func=run_labels.get, key="explore_run")
    its = next(its for rid, _, its in run_list if rid == run_id)
    if choice in ("run", "score"):
        iteration = detail_col.selectbox("Iteration", its[::-1], key=f"explore_iteration_{run_id}")
if choice == "score":
    frame = data.run_scores(ws, run_id, iteration) if run_id is not None else None
    options = [data.RESPONSE_LENGTH, *([c for c in frame.columns if c != "sample_id"] if frame is not None else [])]
    score = (detail_col if run_id is None else run_col).selectbox("Score", options, key="explore_score")

colours = data.colour_values(ws, choice, texts=texts, pool_map=pool_map, ids=ids, run_id=run_id,
                             iteration=iteration, score=score)
figure = plots.map_figure(pool_map.coords, hover=texts["hover"].tolist(), **colours)
chart_key = f"explore_map_{state.get('explore_map_generation', 0)}"
event = st.plotly_chart(figure, key=chart_key, on_select="rerun", selection_mode=("box", "lasso"),
                        config={"displaylogo": False})
method = "PCA (too few samples for UMAP)" if pool_map.meta["method"] == "pca" else "UMAP"
st.caption(f"{len(ids):,} samples · {method}{' preview' if pool_map.preview else ''} of "
           f"{md(pool_map.meta.get('field', 'text'))} embeddings · computed in {pool_map.meta['seconds']:.0f} s. "
           "Drag a lasso or a box to select samples; double-click to reset the view.")

rows = data.rows_of_event(event, figure)
if rows is not None and tuple(rows) != state.get("_explore_last_event"):  # a new lasso: it becomes the selection
    state["_explore_last_event"] = tuple(rows)
    state[MAP_SELECTION] = [ids[r] for r in rows]


def clear_selection() -> None:
    state[MAP_SELECTION] = []
    state["_explore_last_event"] = None
    state["explore_map_generation"] = state.get("explore_map_generation", 0) + 1  # a fresh chart: no lasso


# -- the selection --------------------------------------------------------------------------------------
selected = [s for s in (state.get(MAP_SELECTION) or []) if s]
row_of = {s: r for r, s in enumerate(ids)}
selected_rows = np.array([row_of[s] for s in selected if s in row_of], dtype=np.int64)
st.subheader(f"Selection: {len(selected_rows):,} samples" if len(selected_rows) else "Selection", anchor=False)
pool_score = data.pool_vendi(root, key)
if not len(selected_rows):
    st.caption("Nothing selected yet: draw a lasso or a box on the map.")
else:
    counts = browse.status_counts(ws, browse.Filter(ids=tuple(selected)))
    tiles = st.columns(5)
    tiles[0].metric("Pending", f"{counts['pending']:,}")
    tiles[1].metric("Approved", f"{counts['approved']:,}")
    tiles[2].metric("Rejected", f"{counts['rejected']:,}")
    selection_score = data.selection_vendi(root, key, selected_rows)
    tiles[3].metric("Vendi (selection)", "n/a" if selection_score is None else f"{selection_score:.1f}",
                    help="Effective number of distinct samples (cosine kernel on the map's embeddings).")
    tiles[4].metric("Vendi (pool)", "n/a" if pool_score is None else f"{pool_score:.1f}")
    actions = (("approve", "Approve", ":material/check:"), ("reject", "Reject", ":material/block:"),
               ("pin", "Pin", ":material/push_pin:"), ("unpin", "Unpin", ":material/keep_off:"),
               ("clear", "Clear decisions", ":material/restart_alt:"))
    with st.container(horizontal=True):
        for action, label, icon in actions:
            st.button(f"{label} {len(selected):,}", key=f"explore_{action}", icon=icon, on_click=decide,
                      args=(ws, selected, action), kwargs={"reason": "map selection"})
        st.button("Clear the selection", key="explore_deselect", icon=":material/deselect:", on_click=clear_selection)
        st.page_link("pages/review.py", label="Review them one by one", icon=":material/rate_review:")
    table = browse.page(ws, browse.Filter(ids=tuple(selected)), limit=500)
    picked = st.dataframe(table, hide_index=True, key="explore_table", on_select="rerun",
                          selection_mode="single-row", height=260,
                          column_order=["row", "status", "pinned", "prompt", "response", "response_chars", "source"],
                          column_config={"prompt": st.column_config.TextColumn("instruction", width="large"),
                                         "response": st.column_config.TextColumn("response", width="large")})
    if len(selected) > len(table):
        st.caption(f"The table shows the first {len(table):,}; actions apply to all {len(selected):,}.")
    chosen = picked.selection.rows if picked is not None else []
    if chosen and chosen[0] < len(table):
        with st.container(border=True), shown_errors():
            sample_panel(ws, table["id"].iloc[chosen[0]], key="explore_detail")

# -- lengths and diversity ------------------------------------------------------------------------------
st.subheader("Response lengths", anchor=False)
series = {"pool": texts["response_chars"].to_numpy()}
if len(selected_rows):
    series["map selection"] = series["pool"][selected_rows]
if run_list:
    hist_run_col, hist_it_col = st.columns(2)
    hist_run = hist_run_col.selectbox("Add a run's selection", [None, *run_labels], key="explore_hist_run",
                                      format_func=lambda r: "none" if r is None else run_labels[r])
    if hist_run is not None:
        run_its = runs.iterations(ws, hist_run)
        shown = hist_it_col.multiselect("Iterations", [it.iteration for it in run_its],
                                        default=[run_its[-1].iteration], key=f"explore_hist_its_{hist_run}")
        for it in run_its:
            if it.iteration in shown:
                series[f"run {hist_run} iteration {it.iteration}"] = series["pool"][[row_of[s] for s in it.selected
                                                                                      if s in row_of]]
st.plotly_chart(plots.length_histogram(series), key="explore_lengths", config={"displaylogo": False})
if pool_score is not None:
    st.caption(f"Vendi score of the pool: {pool_score:.1f} (of {len(ids):,} samples).")
else:
    st.caption("The Vendi score needs the map's embeddings, which are no longer in the workspace cache: "
               "recompute the map.")
