"""One sample in full (its text as plain text, where it came from, which runs chose it, its decision history)
and the decision actions shared by the Data and Review pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation.services import browse, sample_view
from curation.workspace import Workspace, decisions
from pages._common import actor, show_record

BULK_ACTIONS = (("approve", "Approve", ":material/check:"), ("reject", "Reject", ":material/block:"),
                ("pin", "Pin", ":material/push_pin:"), ("unpin", "Unpin", ":material/keep_off:"),
                ("clear", "Clear decisions", ":material/restart_alt:"))


def decide(ws: Workspace, ids: list[str], action: str, *, reason: str = "") -> None:
    """Record a human decision (one batch, so one undo takes it back) and say so."""
    decisions.record(ws, ids, action, origin="human", reason=reason, actor=actor())
    st.toast(f"{action}: {len(ids):,} sample(s)", icon=":material/done:")


def undo(ws: Workspace) -> list[str]:
    """Undo this tab's most recent decision (a whole bulk action at once)."""
    undone = decisions.undo_last(ws, origin="human", actor=actor())
    st.toast(f"undid the last decision on {len(undone):,} sample(s)" if undone else "nothing to undo",
             icon=":material/undo:")
    return undone


def meta(d: sample_view.SampleDetail) -> None:
    """Where a sample came from, which runs picked it, and its decision history."""
    st.markdown(sample_view.status_line(d.state))
    st.caption(sample_view.origin_caption(d))
    if d.selected_by:
        st.caption(sample_view.picks_caption(d.selected_by))
    if len(d.occurrences) > 1:
        with st.expander(f"All {len(d.occurrences)} occurrences"):
            st.dataframe(pd.DataFrame(d.occurrences, columns=["source", "line"]), hide_index=True)
    if d.history:
        with st.expander(f"Decision history ({len(d.history)} events)"):
            st.dataframe(sample_view.history_frame(d.history), hide_index=True)


def sample_panel(ws: Workspace, sample_id: str, *, key: str) -> None:
    """A sample with approve / reject / pin / clear buttons (the Data page's row detail)."""
    d = sample_view.detail(ws, sample_id)
    text_col, side_col = st.columns([3, 2])
    with text_col:
        show_record(d.record)
    with side_col:
        meta(d)
        actions = [("approve", "Approve", ":material/check:"), ("reject", "Reject", ":material/block:"),
                   ("unpin" if d.state.pinned else "pin", "Unpin" if d.state.pinned else "Pin",
                    ":material/push_pin:"), ("clear", "Clear", ":material/restart_alt:")]
        with st.container(horizontal=True):
            for action, label, icon in actions:
                st.button(label, key=f"{key}_{action}", icon=icon, on_click=decide,
                          args=(ws, [sample_id], action))


def decision_buttons(ws: Workspace, ids: list[str], *, key: str, reason: str) -> None:
    """Approve, reject, pin, unpin or clear every one of `ids` (one batch each); call inside a container."""
    for action, label, icon in BULK_ACTIONS:
        st.button(f"{label} {len(ids):,}", key=f"{key}_{action}", icon=icon, on_click=decide,
                  args=(ws, ids, action), kwargs={"reason": reason})


def selection_table(ws: Workspace, ids: list[str], *, key: str, limit: int = 500) -> None:
    """The first `limit` of `ids` as a table; a clicked row opens in full with its decision buttons."""
    table = browse.page(ws, browse.Filter(ids=tuple(ids)), limit=limit)
    picked = st.dataframe(table, hide_index=True, key=f"{key}_table", on_select="rerun",
                          selection_mode="single-row", height=260,
                          column_order=["row", "status", "pinned", "prompt", "response", "response_chars", "source"],
                          column_config={"prompt": st.column_config.TextColumn("instruction", width="large"),
                                         "response": st.column_config.TextColumn("response", width="large")})
    if len(ids) > len(table):
        st.caption(f"The table shows the first {len(table):,}; actions apply to all {len(ids):,}.")
    chosen = picked.selection.rows if picked is not None else []
    if chosen and chosen[0] < len(table):
        with st.container(border=True):
            sample_panel(ws, table["id"].iloc[chosen[0]], key=f"{key}_detail")
