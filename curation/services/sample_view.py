"""One sample in full (`detail`) and its side panel as text and tables: its decision line, where it came from,
which runs picked it and its decision history. Markdown strings escape every user-supplied part
(`curation.services.markdown`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from curation.errors import CurationError
from curation.records import Record, record_from_json
from curation.services.markdown import escape
from curation.workspace import decisions
from curation.workspace.db import Workspace

STATUS_ICON = {"pending": ":material/hourglass_empty:", "approved": ":material/check_circle:",
               "rejected": ":material/block:"}
PICKS_SHOWN = 6


@dataclass(frozen=True)
class SampleDetail:
    id: str
    row: int
    record: Record
    source: str
    line: int
    dup_count: int
    state: decisions.State
    occurrences: list[tuple[str, int]]              # every (source, line) this exact content came from
    selected_by: list[tuple[int, int, int]]         # (run_id, iteration, rank from 1)
    history: list[decisions.Event]


def detail(ws: Workspace, sample_id: str) -> SampleDetail:
    rows = ws.query("SELECT rowid, id, record, source, line, dup_count FROM samples WHERE id = ?",
                    (sample_id,))
    if not rows:
        raise CurationError(f"no sample with id {sample_id}")
    r = rows[0]
    occurrences = [(o[0], int(o[1])) for o in ws.query(
        "SELECT source, line FROM occurrences WHERE sample_id = ? ORDER BY import_id, line", (sample_id,))]
    selected_by = [(int(s[0]), int(s[1]), int(s[2]) + 1) for s in ws.query(
        "SELECT i.run_id, i.iteration, j.key FROM iterations i, json_each(i.selected) j WHERE j.value = ?"
        " ORDER BY i.run_id, i.iteration", (sample_id,))]
    return SampleDetail(id=r["id"], row=int(r["rowid"]), record=record_from_json(json.loads(r["record"])),
                        source=r["source"], line=int(r["line"]), dup_count=int(r["dup_count"]),
                        state=decisions.state(ws, sample_id), occurrences=occurrences,
                        selected_by=selected_by, history=decisions.events(ws, sample_id))


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
