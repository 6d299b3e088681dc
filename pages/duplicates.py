"""Duplicates: one scan (a job) finds every pair of prompts above a floor similarity; a threshold slider then
previews counts and groups instantly. Per group: keep this one (reject the rest) or keep all (not duplicates);
or apply the threshold to every group at once. Every rejection is a decision with its reason, undoable."""

from __future__ import annotations

import streamlit as st

from curation.geometry import dedup
from curation.geometry import dedup_scan as dup_store
from curation.services import duplicates_view as view
from curation.services import plots
from pages._common import confirm, md, require_pool, workspace
from pages._dup_groups import group_cards, saved_scan
from pages._job_panel import job_panel, submit_once

ws = workspace()
state = st.session_state
st.title("Duplicates")
require_pool(ws)

busy = job_panel(ws, ("dedup_scan",), where="duplicates")
saved = saved_scan(ws)

with st.expander("Scan for duplicates" if saved is None else "Scan again", expanded=saved is None):
    st.caption("Exact duplicates are identical texts (after folding whitespace); near duplicates are pairs whose "
               "embeddings (all-MiniLM-L6-v2) have a cosine similarity at or above the threshold. One scan finds "
               "every pair above the floor, so the slider below previews any higher threshold at once. Rejected "
               "samples are left out.")
    field_col, floor_col, exact_col = st.columns(3)
    field = field_col.radio("Compare", ["prompt", "text"], key="dup_field", horizontal=True,
                            format_func={"prompt": "prompts (system + user turns)",
                                         "text": "whole conversations"}.get)
    floor = floor_col.number_input("Floor (lowest threshold offered)", 0.5, 1.0, 0.85, 0.01, key="dup_floor")
    exact_only = exact_col.checkbox("Exact duplicates only (no model)", key="dup_exact")
    if st.button("Scan", key="dup_scan", type="primary", icon=":material/search:", disabled=busy):
        submit_once(ws, "dedup_scan", {"field": field, "floor": float(floor), "near": not exact_only})
        st.rerun()
if saved is None:
    if not busy:
        st.info("The pool has not been scanned yet: scan it above.", icon=":material/content_copy:")
    st.stop()

scan = saved.pool.scan
st.caption(md(view.scan_caption(saved)))
if saved.n_distinct and st.button(f"Forget the {saved.n_distinct} keep-all marks", key="dup_forget",
                                  icon=":material/history:"):
    dup_store.forget_keep_all(ws)
    st.rerun()
if saved.stale:
    st.warning("Samples were imported after this scan (or its embeddings left the cache): they are not in it. "
               "Scan again to include them.", icon=":material/update:")


@st.cache_data(show_spinner=False, max_entries=8)
def curve(_scan: dedup.Scan, key: tuple) -> tuple[list[float], list[int], list[int]]:
    """Dropped and group counts over the slider's range (keyed by what the scan holds now)."""
    return dup_store.curve(_scan)


@st.cache_resource(show_spinner=False, max_entries=4)
def preview(_saved: dup_store.SavedScan, key: tuple, threshold: float, keeper: str) -> view.Preview:
    """The plan at this threshold, kept until a scan, a decision or a "keep all" changes what it depends on
    (a rerun that only pages or scrolls does not plan a million rows again)."""
    return view.preview(_saved, threshold, keeper)


scan_state = (str(ws.root), *dup_store.state_key(ws))  # with the workspace: a server may open several


# -- threshold: live counts -----------------------------------------------------------------------------
slider_col, keeper_col = st.columns([3, 1])
threshold = slider_col.slider("Cosine threshold", min_value=float(saved.floor), max_value=1.0, step=0.005,
                              value=view.default_threshold(saved.floor), format="%.3f",
                              key=view.threshold_key(saved.floor), persist_state="session")
keeper = keeper_col.selectbox("Keep in each group", list(view.KEEPERS), format_func=view.KEEPERS.get,
                              key="dup_keeper", persist_state="session")
shown = preview(saved, scan_state, threshold, keeper)
for col, (label, value) in zip(st.columns(4), shown.tiles()):
    col.metric(label, value)
st.plotly_chart(plots.threshold_curve(*curve(scan, scan_state), current=threshold),
                key="dup_curve", config={"displaylogo": False})
drops, groups = shown.drops, shown.groups

# -- apply to all, undo -----------------------------------------------------------------------------------
apply_col, undo_col = st.columns([4, 1])
if apply_col.button(f"Apply to all: reject {len(drops):,} {view.plural(len(drops), 'duplicate')}, keep one per "
                    "group", key="dup_apply", type="primary", icon=":material/done_all:", disabled=not drops):
    state["dup_confirm"] = (threshold, keeper)
if undo_col.button("Undo last", key="dup_undo", icon=":material/undo:", width="stretch",
                   help="Undo the last duplicate decision: an apply to all, or a keep this."):
    undone = dup_store.undo_last(ws)
    st.toast(f"undid the rejection of {len(undone):,} sample(s)" if undone else "nothing to undo",
             icon=":material/undo:")
    st.rerun()
if state.get("dup_confirm") == (threshold, keeper):
    def apply_all() -> None:
        outcome = dedup.apply(ws, saved.pool, threshold, keeper=keeper)
        st.toast(f"rejected {len(outcome.dropped_ids):,} duplicates", icon=":material/done_all:")

    confirm(view.confirm_text(len(drops), len(groups), threshold, keeper), apply_all, pending="dup_confirm",
            keys=("dup_confirm_yes", "dup_confirm_no"))


# -- the groups, side by side ---------------------------------------------------------------------------
st.subheader(f"{len(groups):,} {view.plural(len(groups), 'group')} at cosine ≥ {threshold:.3f}", anchor=False)
if not groups:
    st.success("No duplicates at this threshold.", icon=":material/task_alt:")
    st.stop()
group_cards(ws, saved, shown, page_key=f"dup_page_{threshold:.3f}_{keeper}")
