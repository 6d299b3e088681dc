"""Review: one sample at a time from a queue, keyboard first (a approve, x reject, space skip, backspace undo)

Every decision is written to the workspace the moment it is made, so a refresh or a restart loses nothing;
only skips (which are not decisions) and the position in the queue live in the session
(`curation.services.review_queue`).
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from curation.services import browse, review_queue, sample_view
from pages._common import actor, confirm, md, require_pool, show_record, shown_errors, workspace
from pages._filters import DATA_FILTER, MAP_SELECTION
from pages._sample import decide, meta

ws = workspace()
st.title("Review")
require_pool(ws)

state = st.session_state
session = review_queue.Session(state, actor=actor())

# -- which queue ----------------------------------------------------------------------------------------
offered = review_queue.offered(has_runs=bool(browse.run_choices(ws)), has_data_filter=DATA_FILTER in state,
                               has_map_selection=bool(state.get(MAP_SELECTION)))
queue_col, redo_col = st.columns([3, 2])
queue = queue_col.segmented_control("Queue", offered, format_func=review_queue.QUEUES.get, key="review_queue",
                                    default=offered[0], required=True, persist_state="session")
redo = redo_col.toggle("Include samples already decided (re-review)", key="review_redo",
                       persist_state="session")
scope = review_queue.scope(queue or offered[0], redo=redo, data_filter=state.get(DATA_FILTER),
                           map_ids=state.get(MAP_SELECTION))
queue_filter = review_queue.without_skipped(scope, session.skipped)
session.choose_queue(queue, redo)
st.caption(f"Queue filter: {md(scope.describe())}.")


# -- actions (callbacks: they run before the page redraws) ---------------------------------------------
def act(action: str, sample_id: str, row: int) -> None:
    session.act(ws, action, sample_id, row, reason=state.get("review_reason", ""))
    if action != "skip":
        state["review_reason"] = ""  # a reason belongs to one decision


def undo_last() -> None:
    undone = session.undo(ws)
    if undone is not None:
        st.toast(f"undid the last decision on {len(undone):,} sample(s)" if undone else "nothing to undo",
                 icon=":material/undo:")


# -- counters -------------------------------------------------------------------------------------------
counts = browse.status_counts(ws, replace(scope, statuses=()))
left = browse.count(ws, queue_filter)
tiles = (("To review", left), ("Approved", counts["approved"]), ("Rejected", counts["rejected"]),
         ("Skipped", len(session.skipped)), ("Reviewed now", session.reviewed))
for col, (label, value) in zip(st.columns(5), tiles):
    col.metric(label, f"{value:,}")
done = review_queue.progress(counts)
if done.in_scope:
    st.progress(done.fraction, text=done.text)
st.caption(session.undo_preview(ws))  # our own words: no user text in it

# -- the current sample ---------------------------------------------------------------------------------
current = session.current(ws, queue_filter)
buttons = st.columns(4)
if current is None:
    st.success("Nothing left to review in this queue.", icon=":material/task_alt:")
    if session.skipped and st.button(f"Show the {len(session.skipped)} skipped again", key="review_unskip"):
        session.unskip()
        st.rerun()
    buttons[3].button("Undo", key="review_undo", icon=":material/undo:", shortcut="backspace",
                      on_click=undo_last, width="stretch")
else:
    with shown_errors():
        d = sample_view.detail(ws, current)
        keyed = (("approve", "Approve", ":material/check:", "a"),
                 ("reject", "Reject", ":material/block:", "x"),
                 ("skip", "Skip", ":material/skip_next:", "space"))
        for col, (action, label, icon, key) in zip(buttons, keyed):
            col.button(label, key=f"review_{action}", icon=icon, shortcut=key, on_click=act,
                       args=(action, d.id, d.row), width="stretch",
                       type="primary" if action == "approve" else "secondary")
        buttons[3].button("Undo", key="review_undo", icon=":material/undo:", shortcut="backspace",
                          on_click=undo_last, width="stretch")
        st.text_input("Reason (optional)", key="review_reason", placeholder="kept with the next decision",
                      help="Keys do not act while this field has the focus: press Enter, then a key.")
        st.caption("Keys: **a** approve · **x** reject · **space** skip · **backspace** undo "
                   "(click the page background first if a text field has the focus).")
        with st.container(border=True, key="review_sample"):
            text_col, side_col = st.columns([3, 1])
            with text_col:
                show_record(d.record)
            with side_col, st.container(key="review_meta"):
                meta(d)

# -- bulk on the whole queue ----------------------------------------------------------------------------
with st.expander(f"Bulk action on this queue ({left:,} samples)"):
    st.caption("Decides every sample the queue holds now (skipped ones included), in one undoable step.")
    bulk_filter = replace(queue_filter, exclude_ids=())
    n_bulk = browse.count(ws, bulk_filter) if session.skipped else left  # the same filter when none is skipped
    for col, action in zip(st.columns(2), ("approve", "reject")):
        if col.button(f"{action.capitalize()} all {n_bulk:,}", key=f"review_bulk_{action}", width="stretch"):
            state["review_bulk"] = action
    if state.get("review_bulk"):
        action = state["review_bulk"]
        confirm(f"{action.capitalize()} every sample of the queue ({md(bulk_filter.describe())})?",
                lambda: decide(ws, browse.matching_ids(ws, bulk_filter), action,
                               reason=f"bulk in review: {scope.describe()}"),
                pending="review_bulk", keys=("review_bulk_confirm", "review_bulk_cancel"), border=False, icon=None)
