"""Data: the pool as a server-side paged table with search and filters, bulk actions on everything matching
the filter, and one sample in full."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from curation.errors import CurationError
from curation.services import browse, review_queue
from pages._common import actor, confirm, md, require_pool, shown_errors, workspace
from pages._filters import DATA_FILTER, filter_controls
from pages._sample import decide, sample_panel, undo

ws = workspace()
st.title("Data")
require_pool(ws)

flt = filter_controls(ws, key="data")
try:
    browse.check_search(flt.text)
except CurationError as exc:  # too long to run: say so, and keep it out of the Review page's queue
    st.error(md(exc), icon=":material/error:")
    st.stop()
st.session_state[DATA_FILTER] = flt
counts = browse.status_counts(ws, flt)
total = counts["pending"] + counts["approved"] + counts["rejected"]
st.markdown(f"**{total:,}** matching ({md(flt.describe())}): {counts['approved']:,} approved · "
            f"{counts['rejected']:,} rejected · {counts['pending']:,} pending · {counts['pinned']:,} pinned")

# -- bulk actions on everything the filter matches (not just the visible page) --------------------------
BULK = {"approve": ("Approve all", ":material/check:"), "reject": ("Reject all", ":material/block:"),
        "pin": ("Pin all", ":material/push_pin:"), "clear": ("Clear all", ":material/restart_alt:")}
bulk_cols = st.columns(len(BULK) + 1)
for col, (action, (label, icon)) in zip(bulk_cols, BULK.items()):
    if col.button(f"{label} {total:,}", key=f"bulk_{action}", icon=icon, disabled=total == 0,
                  width="stretch"):
        st.session_state["bulk_pending"] = (action, flt, total)
bulk_cols[-1].button("Undo", key="data_undo", icon=":material/undo:", on_click=undo, args=(ws,),
                     width="stretch")
st.caption(review_queue.undo_preview(ws, actor()))  # our own words: no user text in it
pending = st.session_state.get("bulk_pending")
if pending is not None:
    action, bulk_filter, n = pending
    confirm(f"{BULK[action][0]} {n:,} samples matching {md(bulk_filter.describe())}? One undo takes the whole "
            "action back.", lambda: decide(ws, browse.matching_ids(ws, bulk_filter), action,
                                           reason=f"bulk on filter: {bulk_filter.describe()}"),
            pending="bulk_pending", keys=("bulk_confirm", "bulk_cancel"))

# -- one page of the table ------------------------------------------------------------------------------
order_col, size_col, _ = st.columns([2, 1, 4])
order = order_col.selectbox("Order", list(browse.ORDERS), key="data_order", persist_state="session")
size = size_col.selectbox("Rows per page", [25, 50, 100, 200], index=1, key="data_size",
                          persist_state="session")
pages = browse.n_pages(total, size)
page_key = f"data_page_{size}_{hash(flt) & 0xFFFFFFFF:x}"  # a new filter (or page size) starts at page 1
if st.session_state.get(page_key, 1) > pages:  # decisions shrank the match: start over
    del st.session_state[page_key]
page_no = int(st.session_state.get(page_key, 1))  # the pagination widget below the table sets it
table = browse.page(ws, flt, offset=(page_no - 1) * size, limit=size, order=order)
view = table.assign(source=table["source"].map(lambda s: Path(s).name))
event = st.dataframe(
    view, hide_index=True, key=f"data_table_{page_no}_{size}", on_select="rerun", selection_mode="single-row",
    column_order=["row", "status", "pinned", "prompt", "response", "response_chars", "source", "line",
                  "dup_count", "decided_by"],
    column_config={
        "row": st.column_config.NumberColumn("row", width="small"),
        "prompt": st.column_config.TextColumn("instruction", width="large"),
        "response": st.column_config.TextColumn("response", width="large"),
        "response_chars": st.column_config.NumberColumn("chars", width="small"),
        "dup_count": st.column_config.NumberColumn("seen", width="small", help="exact occurrences"),
        "pinned": st.column_config.CheckboxColumn("pin", width="small"),
    })
with st.container(horizontal=True, vertical_alignment="center"):
    st.pagination(pages, key=page_key)
    first, last = browse.row_range(total, size, page_no)
    st.caption(f"Rows {first:,}–{last:,} of {total:,}. Click a row to see it in full.")

# -- the chosen row in full -----------------------------------------------------------------------------
if not table.empty:
    picked = event.selection.rows if event is not None else []
    ids = table["id"].tolist()
    prompts = dict(zip(table["id"], table["prompt"]))
    rows = dict(zip(table["id"], table["row"]))
    default = picked[0] if picked and picked[0] < len(ids) else 0
    sample_id = st.selectbox("Sample", ids, index=default, key=f"data_detail_{page_no}_{size}_{default}",
                             format_func=lambda s: browse.row_label(rows[s], prompts[s]))
    with st.container(border=True), shown_errors():
        sample_panel(ws, sample_id, key="data_detail")
