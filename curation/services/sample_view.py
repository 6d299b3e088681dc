"""One sample's side panel as text and tables: its decision line, where it came from, which runs picked it and
its decision history. Markdown strings escape every user-supplied part (`curation.services.markdown`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from curation.services.browse import SampleDetail
from curation.services.markdown import escape
from curation.workspace import decisions

STATUS_ICON = {"pending": ":material/hourglass_empty:", "approved": ":material/check_circle:",
               "rejected": ":material/block:"}
PICKS_SHOWN = 6


def status_line(state: decisions.State) -> str:
    """"✓ **approved** · pinned · by human · <reason>" as Markdown (origin and reason escaped)."""
    text = f"{STATUS_ICON[state.status]} **{state.status}**"
    if state.pinned:
        text += " · :material/push_pin: pinned"
    if state.origin:
        text += f" · by {escape(state.origin)}"
    if state.reason:
        text += f" · {escape(state.reason)}"
    return text


def origin_caption(d: SampleDetail) -> str:
    """Row, id, source file and line, exact repeats and response length, as Markdown."""
    return (f"Row {d.row} · id `{d.id}` · {escape(Path(d.source).name)}:{d.line}"
            + (f" · seen {d.dup_count} times" if d.dup_count > 1 else "")
            + f" · {len(d.record.response):,} response chars")


def picks_caption(selected_by: Sequence[tuple[int, int, int]]) -> str:
    """"Selected by run 2 iteration 0 (rank 5), ..." for the first few (run, iteration, rank) picks; "" for none."""
    if not selected_by:
        return ""
    picks = ", ".join(f"run {r} iteration {i} (rank {k})" for r, i, k in selected_by[:PICKS_SHOWN])
    return f"Selected by {picks}" + (" …" if len(selected_by) > PICKS_SHOWN else "")


def history_frame(events: Sequence[decisions.Event]) -> pd.DataFrame:
    """The decision log of one sample, oldest first, with local times."""
    return pd.DataFrame([{"when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time)), "action": e.action,
                          "by": e.origin, "reason": e.reason, "undoes": e.undoes} for e in events],
                        columns=["when", "action", "by", "reason", "undoes"])
