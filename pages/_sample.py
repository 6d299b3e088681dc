"""One sample in full (its text as plain text, where it came from, which runs chose it, its decision history)
and the decision actions shared by the Data and Review pages."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from curation.services import browse
from curation.workspace import Workspace, decisions
from pages._common import md, show_record

ACTOR = "app"
_STATUS_ICON = {"pending": ":material/hourglass_empty:", "approved": ":material/check_circle:",
                "rejected": ":material/block:"}


def decide(ws: Workspace, ids: list[str], action: str, *, reason: str = "") -> None:
    """Record a human decision (one batch, so one undo takes it back) and say so."""
    decisions.record(ws, ids, action, origin="human", reason=reason, actor=ACTOR)
    st.toast(f"{action}: {len(ids):,} sample(s)", icon=":material/done:")


def undo(ws: Workspace) -> list[str]:
    """Undo the most recent human decision (a whole bulk action at once)."""
    undone = decisions.undo_last(ws, origin="human")
    st.toast(f"undid the last decision on {len(undone):,} sample(s)" if undone else "nothing to undo",
             icon=":material/undo:")
    return undone


def status_line(state: decisions.State) -> str:
    text = f"{_STATUS_ICON[state.status]} **{state.status}**"
    if state.pinned:
        text += " · :material/push_pin: pinned"
    if state.origin:
        text += f" · by {md(state.origin)}"
    if state.reason:
        text += f" · {md(state.reason)}"
    return text


def meta(d: browse.SampleDetail) -> None:
    """Where a sample came from, which runs picked it, and its decision history."""
    st.markdown(status_line(d.state))
    st.caption(f"Row {d.row} · id `{d.id}` · {md(Path(d.source).name)}:{d.line}"
               + (f" · seen {d.dup_count} times" if d.dup_count > 1 else "")
               + f" · {len(d.record.response):,} response chars")
    if d.selected_by:
        picks = ", ".join(f"run {r} iteration {i} (rank {k})" for r, i, k in d.selected_by[:6])
        st.caption(f"Selected by {picks}" + (" …" if len(d.selected_by) > 6 else ""))
    if len(d.occurrences) > 1:
        with st.expander(f"All {len(d.occurrences)} occurrences"):
            st.dataframe(pd.DataFrame(d.occurrences, columns=["source", "line"]), hide_index=True)
    if d.history:
        with st.expander(f"Decision history ({len(d.history)} events)"):
            st.dataframe(pd.DataFrame([{
                "when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time)), "action": e.action,
                "by": e.origin, "reason": e.reason, "undoes": e.undoes} for e in d.history]), hide_index=True)


def sample_panel(ws: Workspace, sample_id: str, *, key: str) -> None:
    """A sample with approve / reject / pin / clear buttons (the Data page's row detail)."""
    d = browse.detail(ws, sample_id)
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
