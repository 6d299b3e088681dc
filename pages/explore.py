"""Explore: the pool as a UMAP map (computed once per embedding by a job, cached in the workspace), coloured by
source, cluster, run, iteration, decision or score. A lasso or box selection becomes the map selection
(`st.session_state["selection_ids"]`, which the Data and Review pages also use): inspect it, approve, reject or
pin it, compare its response lengths and Vendi score with the pool's."""

from __future__ import annotations

import streamlit as st

from curation.backends import BackendConfig
from curation.geometry import maps
from curation.services import browse, map_colours, map_figure, map_queue, map_selection, plots
from curation.workspace import runs, samples
from pages import _explore_data as data
from pages._common import md, require_pool, shown_errors, start_worker, workspace
from pages._job_panel import job_panel
from pages._sample import decision_buttons, selection_table

ws = workspace()
state = st.session_state
st.title("Explore")
require_pool(ws)
VENDI_HELP = "Effective number of distinct samples (cosine kernel on the map's embeddings)."

root = str(ws.root)
points = data.pool_points(root, samples.version(ws))  # cached per pool version: no per-rerun id reads
ids = points.ids
stamp = map_figure.maps_stamp(ws)
pool_map = data.current_map(root, points.version, stamp)

# -- computing the map (a job: embedding, then UMAP) ------------------------------------------------------
busy = job_panel(ws, map_queue.MAP_JOB_KINDS, where="explore")
with st.expander("Map settings" if pool_map is not None else "Compute the map", expanded=pool_map is None):
    st.caption("The map embeds every sample with all-MiniLM-L6-v2 (cached: only new samples cost time), then "
               "lays the embeddings out with UMAP (cosine, k-NN from FAISS). Both run in the background and are "
               "kept in the workspace, so the map is computed once per pool. A quick PCA layout shows within "
               "seconds; the UMAP map replaces it when it is ready.")
    preview = st.toggle("Fast preview (50 UMAP epochs: several times faster, a little looser)",
                        key="explore_preview", value=len(ids) > 20_000, persist_state="session")
    backend, ray_cols = None, st.columns([2, 3, 1])
    if ray_cols[0].toggle("Run on Ray", key="explore_ray", help="Embed on Ray Data actors (pip install -r "
                          "requirements-ray.txt): local starts a cluster in the worker, auto joins the running one, "
                          "or give ray://host:port."):
        address = ray_cols[1].text_input("Ray address", "local", key="explore_ray_address").strip() or "local"
        actors = int(ray_cols[2].number_input("Actors", 1, 1024, 1, key="explore_ray_actors"))
        backend = BackendConfig(kind="ray", address=address, actors=actors).to_models()
    label = "Compute the map" if pool_map is None else ("Recompute as a full map" if pool_map.preview
                                                        else "Recompute the map")
    if st.button(label, key="explore_compute", icon=":material/scatter_plot:", type="primary", disabled=busy):
        map_queue.queue_map(ws, preview=bool(preview), backend=backend)
        start_worker(ws)  # the app's worker exits when idle: a click must bring one back
        st.rerun()
if pool_map is None:
    if not busy:
        older = maps.available(ws)
        st.info(map_selection.missing_map_note(older, len(ids)),
                icon=":material/update:" if older else ":material/scatter_plot:")
    st.stop()

key, texts = pool_map.key, points.texts
run_list = browse.run_choices(ws)
run_labels = {run_id: label for run_id, label, _ in run_list}

# -- colouring ------------------------------------------------------------------------------------------
colour_col, run_col, detail_col = st.columns([2, 3, 2])
choice = colour_col.selectbox("Colour by", map_colours.offered(bool(run_list)), format_func=map_colours.COLOURS.get,
                              key="explore_colour", persist_state="session")
run_id = iteration = score = None
if choice in ("run", "iteration", "score") and run_list:
    run_id = run_col.selectbox("Run", list(run_labels), format_func=run_labels.get, key="explore_run")
    its = next(its for rid, _, its in run_list if rid == run_id)
    if choice in ("run", "score"):
        iteration = detail_col.selectbox("Iteration", its[::-1], key=f"explore_iteration_{run_id}")
if choice == "score":
    options = map_colours.score_options(map_colours.run_scores(ws, run_id, iteration) if run_id is not None else None)
    score = (detail_col if run_id is None else run_col).selectbox("Score", options, key="explore_score")

parts = data.figure_parts(root, points.version, stamp, choice, run_id, iteration, score,
                          None if choice in map_colours.STATIC_COLOURS else browse.version(ws))
drawn = parts.rows
figure = map_figure.figure_from_parts(pool_map.coords, parts, data.drawn_hover(root, points.version,
                                                                                 points.rowids[drawn]))
event = st.plotly_chart(figure, key=f"explore_map_{state.get(map_selection.GENERATION, 0)}", on_select="rerun",
                        selection_mode=("box", "lasso"), config={"displaylogo": False})
drawn_note = (f" · {len(drawn):,} drawn over the density of all (a lasso selects every point inside it)"
              if len(drawn) < len(ids) else "")
st.caption(md(map_selection.map_caption(len(ids), pool_map.meta, preview=pool_map.preview) + drawn_note)
           + ". Drag a lasso or a box to select samples; double-click to reset the view.")

map_selection.take_event(state, map_selection.rows_of_event(event, figure, pool_map.coords), ids)

# -- the selection --------------------------------------------------------------------------------------
selected = [s for s in (state.get(map_selection.SELECTION) or []) if s]
selected_rows = map_selection.selected_rows(points.index, selected)
st.subheader(f"Selection: {len(selected_rows):,} samples" if len(selected_rows) else "Selection", anchor=False)
pool_score = data.pool_vendi(root, key)
if not len(selected_rows):
    st.caption("Nothing selected yet: draw a lasso or a box on the map.")
else:
    counts = browse.status_counts(ws, browse.Filter(ids=tuple(selected)))
    tiles = map_selection.summary_tiles(counts, data.selection_vendi(root, key, selected_rows), pool_score)
    for col, (label, value) in zip(st.columns(5), tiles):
        col.metric(label, value, help=VENDI_HELP if label == "Vendi (selection)" else None)
    with st.container(horizontal=True):
        decision_buttons(ws, selected, key="explore", reason="map selection")
        st.button("Clear the selection", key="explore_deselect", icon=":material/deselect:",
                  on_click=map_selection.clear, args=(state,))
        st.page_link("pages/review.py", label="Review them one by one", icon=":material/rate_review:")
    with shown_errors():
        selection_table(ws, selected, key="explore")

# -- lengths and diversity ------------------------------------------------------------------------------
st.subheader("Response lengths", anchor=False)
hist_run, run_its, shown = None, [], []
if run_list:
    hist_run_col, hist_it_col = st.columns(2)
    hist_run = hist_run_col.selectbox("Add a run's selection", [None, *run_labels], key="explore_hist_run",
                                      format_func=lambda r: "none" if r is None else run_labels[r])
    if hist_run is not None:
        run_its = runs.iterations(ws, hist_run)
        shown = hist_it_col.multiselect("Iterations", [it.iteration for it in run_its],
                                        default=[run_its[-1].iteration], key=f"explore_hist_its_{hist_run}")
series = map_selection.length_series(texts["response_chars"].to_numpy(), points.index, selection=selected_rows,
                                     run_id=hist_run, iterations=run_its, shown=shown)
st.plotly_chart(plots.length_histogram(series), key="explore_lengths", config={"displaylogo": False})
st.caption(f"Vendi score of the pool: {pool_score:.1f} (of {len(ids):,} samples)." if pool_score is not None else
           "The Vendi score needs the map's embeddings, which are no longer in the workspace cache: "
           "recompute the map.")
