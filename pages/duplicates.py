"""Duplicates: one scan (a job) finds every pair of prompts above a floor similarity; a threshold slider then
previews counts and groups instantly. Per group: keep this one (reject the rest) or keep all (not duplicates);
or apply the threshold to every group at once. Every rejection is a decision with its reason, undoable."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from curation.geometry import dedup
from curation.geometry import dedup_scan as dup_store
from curation.services import plots
from curation.workspace import samples
from pages._common import md, require_pool, shown_errors, workspace
from pages._job_panel import job_panel, submit_once

GROUPS_PER_PAGE = 5
COLUMNS = 4
KEEPERS = {"longest": "the longest response", "first": "the first seen"}

ws = workspace()
state = st.session_state
st.title("Duplicates")
require_pool(ws)

busy = job_panel(ws, ("dedup_scan",), where="duplicates")
saved = dup_store.load(ws)

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
when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved.created))
st.caption(f"Scan of {scan.n:,} samples ({md(saved.field)}, {'near and exact' if saved.near else 'exact only'}, "
           f"floor {saved.floor:.2f}) from {when}" + (f"; {saved.n_distinct} pairs marked keep-both"
                                                      if saved.n_distinct else "") + ".")
if saved.n_distinct and st.button(f"Forget the {saved.n_distinct} keep-all marks", key="dup_forget",
                                  icon=":material/history:"):
    dup_store.forget_keep_all(ws)
    st.rerun()
if saved.stale:
    st.warning("Samples were imported after this scan (or its embeddings left the cache): they are not in it. "
               "Scan again to include them.", icon=":material/update:")


@st.cache_data(show_spinner=False, max_entries=8)
def curve(created: float, n_pairs: int, signature: int, floor: float) -> tuple[list[float], list[int], list[int]]:
    """Dropped and group counts over the slider's range (keyed by the scan and what changed since)."""
    thresholds = [float(t) for t in np.round(np.arange(floor, 1.0 + 1e-9, 0.005), 3)]
    counts = scan.preview(thresholds)
    return thresholds, [c.dropped for c in counts], [c.groups for c in counts]


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


# -- threshold: live counts -----------------------------------------------------------------------------
slider_col, keeper_col = st.columns([3, 1])
threshold = slider_col.slider("Cosine threshold", min_value=float(saved.floor), max_value=1.0,
                              value=float(max(saved.floor, 0.95)), step=0.005, format="%.3f",
                              key=f"dup_threshold_{round(saved.floor * 1000)}", persist_state="session")
keeper = keeper_col.selectbox("Keep in each group", list(KEEPERS), format_func=KEEPERS.get, key="dup_keeper",
                              persist_state="session")
count = scan.preview([threshold])[0]
tiles = st.columns(4)
tiles[0].metric("Groups", f"{count.groups:,}")
tiles[1].metric("Samples in groups", f"{count.in_groups:,}")
tiles[2].metric("Would be rejected", f"{count.dropped:,}")
tiles[3].metric("Pairs", f"{count.pairs:,}")
thresholds, dropped, groups_n = curve(saved.created, len(scan.i), hash(scan.sim.tobytes()) ^ hash(scan.i.tobytes()),
                                      saved.floor)
st.plotly_chart(plots.threshold_curve(thresholds, dropped, groups_n, current=threshold), key="dup_curve",
                config={"displaylogo": False})

drops = dedup.plan(scan, threshold, X=saved.pool.X, keeper=keeper, response_chars=saved.pool.response_chars,
                   protected=saved.pool.protected)
by_row = {d.row: d for d in drops}
groups = scan.groups(threshold)

# -- apply to all, undo -----------------------------------------------------------------------------------
apply_col, undo_col = st.columns([4, 1])
if apply_col.button(f"Apply to all: reject {len(drops):,} {_plural(len(drops), 'duplicate')}, keep one per group",
                    key="dup_apply",
                    type="primary", icon=":material/done_all:", disabled=not drops):
    state["dup_confirm"] = (threshold, keeper)
if undo_col.button("Undo last", key="dup_undo", icon=":material/undo:", width="stretch",
                   help="Undo the last duplicate decision: an apply to all, or a keep this."):
    undone = dup_store.undo_last(ws)
    st.toast(f"undid the rejection of {len(undone):,} sample(s)" if undone else "nothing to undo",
             icon=":material/undo:")
    st.rerun()
if state.get("dup_confirm") == (threshold, keeper):
    with st.container(border=True):
        st.warning(f"Reject {len(drops):,} samples in {len(groups):,} groups at cosine ≥ {threshold:.3f}, keeping "
                   f"{KEEPERS[keeper]} of each (approved and pinned samples are never rejected)? One undo takes "
                   "it back.", icon=":material/warning:")
        yes, no = st.columns(2)
        if yes.button("Confirm", key="dup_confirm_yes", type="primary", width="stretch"):
            with shown_errors():
                outcome = dedup.apply(ws, saved.pool, threshold, keeper=keeper)
                st.toast(f"rejected {len(outcome.dropped_ids):,} duplicates", icon=":material/done_all:")
            state.pop("dup_confirm", None)
            st.rerun()
        if no.button("Cancel", key="dup_confirm_no", width="stretch"):
            state.pop("dup_confirm", None)
            st.rerun()


# -- the groups, side by side ---------------------------------------------------------------------------
def keep_one(group_ids: list[str], keeper_id: str) -> None:
    rejected = dup_store.keep_one(ws, group_ids, keeper_id)
    st.toast(f"kept one, rejected {len(rejected)}", icon=":material/check:")


def keep_all(group_ids: list[str]) -> None:
    dup_store.keep_all(ws, group_ids)
    st.toast(f"kept all {len(group_ids)}: they no longer count as duplicates", icon=":material/done_all:")


def member(row: int, group_key: str, group_ids: list[str], record) -> None:
    sample_id = saved.pool.ids[row]
    if row in by_row:
        d = by_row[row]
        label = f":red[**drop**] · {'exact duplicate of' if d.exact else f'cosine {d.cosine:.3f} to'} the kept one"
    elif saved.pool.protected[row]:
        label = ":blue[**protected**] · approved or pinned"
    else:
        label = ":green[**keep**]"
    st.markdown(label)
    st.caption(f"id `{sample_id}` · {len(record.response):,} response chars")
    st.caption("Prompt")
    st.code(record.prompt, language=None, wrap_lines=True, height=120)
    st.caption("Response")
    st.code(record.response, language=None, wrap_lines=True, height=180)
    st.button("Keep this", key=f"dup_keep_{group_key}_{sample_id}", icon=":material/check:", width="stretch",
              on_click=keep_one, args=(group_ids, sample_id))


st.subheader(f"{len(groups):,} {_plural(len(groups), 'group')} at cosine ≥ {threshold:.3f}", anchor=False)
if not groups:
    st.success("No duplicates at this threshold.", icon=":material/task_alt:")
    st.stop()
order = sorted(groups, key=lambda g: (-len(g), int(g[0])))  # the largest groups first
pages = -(-len(order) // GROUPS_PER_PAGE)
page_key = f"dup_page_{threshold:.3f}_{keeper}"
page_no = min(int(state.get(page_key, 1)), pages)
for number, group in enumerate(order[(page_no - 1) * GROUPS_PER_PAGE: page_no * GROUPS_PER_PAGE],
                               start=(page_no - 1) * GROUPS_PER_PAGE + 1):
    group_ids = [saved.pool.ids[int(r)] for r in group]
    records = samples.get_many(ws, group_ids)
    group_key = group_ids[0]
    with st.container(border=True, key=f"dup_group_{number}"):
        head, button = st.columns([4, 1])
        head.markdown(f"**Group {number} of {len(order):,}** · {len(group)} samples")
        button.button("Keep all", key=f"dup_keepall_{group_key}", icon=":material/done_all:",
                      on_click=keep_all, args=(group_ids,), width="stretch",
                      help="These are not duplicates: keep every one, and leave them out of later previews.")
        width = min(len(group), COLUMNS)
        for start in range(0, len(group), width):
            for column, row in zip(st.columns(width), group[start:start + width]):
                with column:
                    member(int(row), group_key, group_ids, records[saved.pool.ids[int(row)]])
with st.container(horizontal=True, vertical_alignment="center"):
    st.pagination(pages, key=page_key)
    st.caption(f"{GROUPS_PER_PAGE} groups per page, largest first.")
