"""The Duplicates page's groups, side by side: each member's prompt and response, its verdict at the threshold
(`curation.services.duplicates_view`), "Keep this" (reject the rest) and "Keep all" (not duplicates)."""

from __future__ import annotations

import streamlit as st

from curation.geometry import dedup_scan as dup_store
from curation.geometry.dedup_scan import SavedScan
from curation.records import Record
from curation.services import duplicates_view as view
from curation.workspace import Workspace, samples

GROUPS_PER_PAGE = 5
COLUMNS = 4
MEMBERS_SHOWN = 12  # a group of hundreds of copies shows its first ones; "Keep all" and the verdicts cover all


@st.cache_resource(show_spinner=False, max_entries=2)
def _scan_files(root: str, stamp: int | None) -> dup_store.ScanFiles | None:
    """The saved scan's files (pairs, ids, lengths, embeddings): read once per scan, shared by every session."""
    return dup_store.read_files(Workspace(root))


@st.cache_resource(show_spinner=False, max_entries=1)
def _loaded(root: str, state: tuple) -> SavedScan | None:
    """The scan as of `state` (dup_store.state_key: a scan, a decision, a "keep all" or an import changes it),
    with the component labels it has worked out: a rerun that changed none of these masks no pairs again."""
    ws = Workspace(root)
    return dup_store.load(ws, files=_scan_files(root, state[0]))


def saved_scan(ws: Workspace) -> SavedScan | None:
    """The saved scan with the decisions made since (read again only when one was made)."""
    state = dup_store.state_key(ws)
    return None if state[0] is None else _loaded(str(ws.root), state)


def _keep_one(ws: Workspace, group_ids: list[str], keeper_id: str) -> None:
    rejected = dup_store.keep_one(ws, group_ids, keeper_id)
    st.toast(f"kept one, rejected {len(rejected)}", icon=":material/check:")


def _keep_all(ws: Workspace, group_ids: list[str]) -> None:
    dup_store.keep_all(ws, group_ids)
    st.toast(f"kept all {len(group_ids)}: they no longer count as duplicates", icon=":material/done_all:")


def _member(ws: Workspace, label: str, sample_id: str, group_ids: list[str], record: Record) -> None:
    st.markdown(label)
    st.caption(f"id `{sample_id}` · {len(record.response):,} response chars")
    st.caption("Prompt")
    st.code(record.prompt, language=None, wrap_lines=True, height=120)
    st.caption("Response")
    st.code(record.response, language=None, wrap_lines=True, height=180)
    st.button("Keep this", key=f"dup_keep_{group_ids[0]}_{sample_id}", icon=":material/check:", width="stretch",
              on_click=_keep_one, args=(ws, group_ids, sample_id))


def group_cards(ws: Workspace, saved: SavedScan, shown: view.Preview, *, page_key: str) -> None:
    """One page of groups (largest first) and the pagination under them (its page in session key `page_key`)."""
    for group in shown.page(int(st.session_state.get(page_key, 1)), GROUPS_PER_PAGE):
        records = samples.get_many(ws, group.ids[:MEMBERS_SHOWN])
        with st.container(border=True, key=f"dup_group_{group.number}"):
            head, button = st.columns([4, 1])
            head.markdown(f"**Group {group.number} of {len(shown.groups):,}** · {len(group.rows)} samples")
            button.button("Keep all", key=f"dup_keepall_{group.ids[0]}", icon=":material/done_all:",
                          on_click=_keep_all, args=(ws, group.ids), width="stretch",
                          help="These are not duplicates: keep every one, and leave them out of later previews.")
            width = min(len(group.rows), COLUMNS)
            shown_rows = group.rows[:MEMBERS_SHOWN]
            for start in range(0, len(shown_rows), width):
                for column, row, sample_id in zip(st.columns(width), shown_rows[start:start + width],
                                                  group.ids[start:start + width]):
                    with column:
                        _member(ws, view.member_label(row, shown.by_row, saved.pool.protected), sample_id,
                                group.ids, records[sample_id])
            if len(group.rows) > MEMBERS_SHOWN:
                st.caption(f"… and {len(group.rows) - MEMBERS_SHOWN:,} more samples in this group (the threshold "
                           "plan and the buttons cover them all).")
    with st.container(horizontal=True, vertical_alignment="center"):
        st.pagination(view.n_pages(len(shown.groups), GROUPS_PER_PAGE), key=page_key)
        st.caption(f"{GROUPS_PER_PAGE} groups per page, largest first.")
