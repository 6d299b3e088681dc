"""The filter widgets shared by the Data and Review pages: they draw and return a `curation.services.browse.Filter`.

Widget values persist for the whole session (`persist_state="session"`), so a filter survives page switches;
the Data page also keeps its last filter in `st.session_state[DATA_FILTER]` for the Review page's queue.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from curation.geometry import dedup_scan as dup_store
from curation.services import browse, duplicates_view, filter_form, map_selection
from curation.workspace import Workspace

DATA_FILTER = "data_filter"        # the Data page's current Filter (Review can use it as its queue)
MAP_SELECTION = map_selection.SELECTION  # ids chosen on the Explore map (a lasso or box), written by that page
DUPLICATE_GROUP = "duplicate_group_ids"  # ids of the near-duplicate group open on the Duplicates page
# id sets other pages publish in the session, offered as "only these" filters
ID_SETS = ((MAP_SELECTION, "the map selection"), (DUPLICATE_GROUP, "the duplicate group"))


@st.cache_data(max_entries=16, show_spinner=False)
def _choices(_ws: Workspace, root: str, version: tuple) -> tuple:
    """What the widgets offer, recomputed only when the pool, a decision or a run changed."""
    return (browse.sources(_ws), browse.response_length_bounds(_ws), browse.decided_by_values(_ws),
            browse.run_choices(_ws))


def _near_duplicate_ids(ws: Workspace, col, key: str) -> list[str] | None:
    """A checkbox for "in a near-duplicate group" at the Duplicates page's threshold (None: not filtering)."""
    from pages._dup_groups import saved_scan

    floor = dup_store.saved_floor(ws)  # the scan itself is read only once the box is ticked
    if floor is None:
        col.caption("Near-duplicate groups: scan on the Duplicates page first.")
        return None
    threshold = duplicates_view.threshold_in(st.session_state, floor)
    if not col.checkbox(f"Only near-duplicate groups (cosine ≥ {threshold:.3f})", key=f"{key}_near",
                        persist_state="session", help="From the last scan on the Duplicates page, at its slider's "
                                                      "threshold; rejected samples are left out."):
        return None
    saved = saved_scan(ws)
    return None if saved is None else dup_store.grouped_ids(saved, threshold)


def filter_controls(ws: Workspace, *, key: str, default_statuses: tuple[str, ...] = ()) -> browse.Filter:
    """Draw the filter widgets (keys prefixed with `key`) and return the filter they describe."""
    sources, (lo, hi), origins, runs = _choices(ws, str(ws.root), browse.version(ws))
    text_col, status_col, source_col = st.columns([3, 2, 3])
    text = text_col.text_input("Search text", key=f"{key}_text", persist_state="session",
                               placeholder="words that must all occur in the prompt or response",
                               help="Case-insensitive; every word must occur in the instruction or response. "
                                    "Whole words through the full-text index (`water*` for words that begin "
                                    "so; order by relevance to rank); tick below for parts of words.")
    parts = text_col.checkbox("Match parts of words (substring search)", key=f"{key}_substring",
                              persist_state="session")
    behind = browse.unindexed_samples(ws) if text.strip() else 0
    if behind:
        text_col.caption(f"The search index is catching up with the last import: {behind:,} samples are matched "
                         "by substring until it has them.")
    statuses = status_col.multiselect("Decision", list(browse.STATUSES), default=list(default_statuses),
                                      key=f"{key}_statuses", persist_state="session", placeholder="any")
    chosen_sources = source_col.multiselect(
        "Source", list(sources), key=f"{key}_sources", persist_state="session", placeholder="any",
        format_func=lambda s: f"{Path(s).name} ({sources.get(s, 0):,})")

    with st.expander("More filters: length, run selection, pins, duplicates, map selection"):
        length = (lo, hi)
        if hi > lo:
            length = st.slider("Response length (characters)", lo, hi, (lo, hi), key=f"{key}_len_{lo}_{hi}",
                               persist_state="session")
        run_col, it_col, pin_col = st.columns(3)
        options, iterations = filter_form.run_options(runs)
        labels = {run_id: label for run_id, label, _ in runs}
        run_choice = run_col.selectbox(
            "Run selection", options, key=f"{key}_run", persist_state="session",
            format_func=lambda o: filter_form.run_option_label(o, labels),
            help="Samples a selection run picked (or did not pick)." if iterations else
                 "No run has completed an iteration yet (runs are started on the Select page).")
        iteration = None
        if run_choice[1] is not None:
            its = iterations.get(run_choice[1], [])
            iteration = it_col.selectbox("Iteration", [None, *its], key=f"{key}_iteration_{run_choice[1]}",
                                         format_func=lambda i: "last" if i is None else str(i))
        pinned = pin_col.selectbox("Pinned", list(filter_form.PINNED), key=f"{key}_pinned", persist_state="session")
        decided_col, dup_col, map_col = st.columns(3)
        decided_by = decided_col.multiselect("Decided by", origins, key=f"{key}_origin",
                                             persist_state="session", placeholder="anyone",
                                             help="Who made the current decision: human, dedup, a method…")
        exact = dup_col.checkbox("Only exact duplicates (seen more than once)", key=f"{key}_exact",
                                 persist_state="session")
        near_ids = _near_duplicate_ids(ws, dup_col, key)
        # id sets other pages publish (the Explore map's lasso, the open duplicate group), ticked here
        published = [st.session_state.get(session_key) or [] for session_key, _ in ID_SETS]
        ticked = [ids if ids and map_col.checkbox(f"Only {label} ({len(ids):,})", key=f"{key}_{session_key}")
                  else None for ids, (session_key, label) in zip(published, ID_SETS)]
    return filter_form.build_filter(
        text=text, match="substring" if parts else "words", sources=chosen_sources, statuses=statuses,
        length=length, bounds=(lo, hi), pinned=pinned,
        decided_by=decided_by, exact=exact, run=run_choice, iteration=iteration,
        ids=filter_form.intersect([*ticked, near_ids]))
