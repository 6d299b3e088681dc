"""Review: one sample at a time from a queue, keyboard first (a approve, x reject, space skip, backspace undo)

Every decision is written to the workspace the moment it is made, so a refresh or a restart loses nothing;
only skips (which are not decisions) and the position in the queue live in the session.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from curation.services import browse
from curation.workspace import decisions
from pages._common import md, require_pool, show_record, shown_errors, workspace
from pages._filters import DATA_FILTER, MAP_SELECTION
from pages._sample import ACTOR, decide, meta

ws = workspace()
st.title("Review")
require_pool(ws)

state = st.session_state
state.setdefault("review_skipped", [])
state.setdefault("review_history", [])   # ("decision" | "skip", sample id), newest last
state.setdefault("review_cursor", 0)     # row of the sample handled last: the queue continues after it
state.setdefault("review_reviewed", 0)

# -- which queue ----------------------------------------------------------------------------------------
has_runs = bool(browse.run_choices(ws))
queues = {"selected": "Selected by a run", "pool": "The whole pool", "data": "The Data page's filter",
          "map": "The map selection"}
offered = [q for q in queues if (q != "selected" or has_runs) and (q != "data" or DATA_FILTER in state)
           and (q != "map" or state.get(MAP_SELECTION))]
queue_col, redo_col = st.columns([3, 2])
queue = queue_col.segmented_control("Queue", offered, format_func=queues.get, key="review_queue",
                                    default=offered[0], required=True, persist_state="session")
redo = redo_col.toggle("Include samples already decided (re-review)", key="review_redo",
                       persist_state="session")
scope = {"selected": browse.Filter(any_run=True), "pool": browse.Filter(),
         "data": state.get(DATA_FILTER, browse.Filter()),
         "map": browse.Filter(ids=tuple(state.get(MAP_SELECTION) or ()))}[queue or offered[0]]
if not redo and not scope.statuses:  # undecided only (a Data filter that names decisions keeps its own)
    scope = replace(scope, statuses=("pending",))
queue_filter = replace(scope, exclude_ids=tuple(state["review_skipped"]))
if state.get("_review_last_queue") != (queue, redo):  # a different queue starts from its beginning
    state["_review_last_queue"] = (queue, redo)
    state["review_cursor"] = 0
    state.pop("review_current", None)
st.caption(f"Queue filter: {md(scope.describe())}.")


# -- actions (callbacks: they run before the page redraws) ---------------------------------------------
def act(action: str, sample_id: str, row: int) -> None:
    if action == "skip":
        state["review_skipped"].append(sample_id)
    else:
        reason = state.get("review_reason", "").strip()
        decisions.record(ws, [sample_id], action, origin="human", actor=ACTOR, reason=reason or "review")
        state["review_reviewed"] += 1
        state["review_reason"] = ""  # a reason belongs to one decision
    state["review_history"].append(("skip" if action == "skip" else "decision", sample_id))
    state["review_cursor"] = row
    state.pop("review_current", None)


def undo_last() -> None:
    """Take back the last skip or decision and show that sample again (decisions also after a refresh)."""
    history = state["review_history"]
    if history and history[-1][0] == "skip":
        _, sample_id = history.pop()
        state["review_skipped"].remove(sample_id)
        state["review_current"] = sample_id
        return
    if history:
        history.pop()
    undone = decisions.undo_last(ws, origin="human")
    if undone:
        state["review_current"] = undone[0]
        state["review_reviewed"] = max(0, state["review_reviewed"] - 1)
    st.toast(f"undid the last decision on {len(undone):,} sample(s)" if undone else "nothing to undo",
             icon=":material/undo:")


# -- counters -------------------------------------------------------------------------------------------
counts = browse.status_counts(ws, replace(scope, statuses=()))
left = browse.count(ws, queue_filter)
cols = st.columns(5)
tiles = (("To review", left), ("Approved", counts["approved"]), ("Rejected", counts["rejected"]),
         ("Skipped", len(state["review_skipped"])), ("Reviewed now", state["review_reviewed"]))
for col, (label, value) in zip(cols, tiles):
    col.metric(label, f"{value:,}")
in_scope = counts["pending"] + counts["approved"] + counts["rejected"]
if in_scope:
    st.progress((counts["approved"] + counts["rejected"]) / in_scope,
                text=f"{counts['approved'] + counts['rejected']:,} of {in_scope:,} decided")

# -- the current sample ---------------------------------------------------------------------------------
current = state.get("review_current") or browse.next_in_queue(ws, queue_filter,
                                                              after_row=state["review_cursor"])
buttons = st.columns(4)
if current is None:
    st.success("Nothing left to review in this queue.", icon=":material/task_alt:")
    if state["review_skipped"] and st.button(f"Show the {len(state['review_skipped'])} skipped again",
                                             key="review_unskip"):
        state["review_skipped"] = []
        st.rerun()
    buttons[3].button("Undo", key="review_undo", icon=":material/undo:", shortcut="backspace",
                      on_click=undo_last, width="stretch")
else:
    with shown_errors():
        d = browse.detail(ws, current)
        keyed = (("approve", "Approve", ":material/check:", "a"),
                 ("reject", "Reject", ":material/block:", "x"),
                 ("skip", "Skip", ":material/skip_next:", "space"))
        for col, (action, label, icon, key) in zip(buttons, keyed):
            col.button(label, key=f"review_{action}", icon=icon, shortcut=key, on_click=act,
                       args=(action, d.id, d.row), width="stretch", type="primary" if action == "approve" else
                       "secondary")
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
    approve_col, reject_col = st.columns(2)
    for col, action in ((approve_col, "approve"), (reject_col, "reject")):
        if col.button(f"{action.capitalize()} all {browse.count(ws, bulk_filter):,}",
                      key=f"review_bulk_{action}", width="stretch"):
            state["review_bulk"] = action
    if state.get("review_bulk"):
        action = state["review_bulk"]
        st.warning(f"{action.capitalize()} every sample of the queue ({md(bulk_filter.describe())})?")
        yes, no = st.columns(2)
        if yes.button("Confirm", key="review_bulk_confirm", type="primary", width="stretch"):
            decide(ws, browse.matching_ids(ws, bulk_filter), action,
                   reason=f"bulk in review: {scope.describe()}")
            state.pop("review_bulk")
            st.rerun()
        if no.button("Cancel", key="review_bulk_cancel", width="stretch"):
            state.pop("review_bulk")
            st.rerun()
