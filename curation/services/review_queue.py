"""The Review page's queue and session, without a browser: which queue maps to which `browse.Filter`, and
what a decision, a skip or an undo does to the session's state.

The session lives in any mutable mapping (Streamlit's `st.session_state` on the page, a dict in tests). Only
skips and the position in the queue are kept there; decisions go to the workspace at once, so a refresh loses
none of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from curation.services import browse
from curation.workspace import decisions
from curation.workspace.db import Workspace

QUEUES = {"selected": "Selected by a run", "pool": "The whole pool", "data": "The Data page's filter",
          "map": "The map selection"}
ACTOR = "app"  # the decision log's actor when a caller names no browser tab
SKIPPED, HISTORY, CURSOR, REVIEWED, CURRENT = ("review_skipped", "review_history", "review_cursor",
                                               "review_reviewed", "review_current")
_LAST_QUEUE = "_review_last_queue"


def app_actor(tab_id: str) -> str:
    """The decision log's actor for one browser tab: "app:<id>" (the id comes from the URL: only [A-Za-z0-9])."""
    clean = re.sub(r"[^A-Za-z0-9]", "", tab_id)[:32]
    return f"app:{clean or 'unknown'}"


def ago(when: float, now: float | None = None) -> str:
    """"just now", "5 seconds ago", "2 minutes ago", "3 hours ago", "4 days ago"."""
    seconds = max(0, int((time.time() if now is None else now) - when))
    if seconds < 2:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def undo_text(pending: decisions.PendingUndo | None, *, now: float | None = None,
              nothing: str = "Nothing to undo.") -> str:
    """What an undo will revert: "Undo: approve of 12 samples, 2 minutes ago"."""
    if pending is None:
        return nothing
    n = f"{pending.samples:,} sample{'s' if pending.samples != 1 else ''}"
    return f"Undo: {pending.action} of {n}, {ago(pending.time, now)}"


def undo_preview(ws: Workspace, actor: str, *, now: float | None = None) -> str:
    """What this tab's next undo (Data and Review pages) will take back."""
    return undo_text(decisions.pending_undo(ws, actor=actor), now=now, nothing="Nothing of this tab's to undo.")


def offered(*, has_runs: bool, has_data_filter: bool, has_map_selection: bool) -> list[str]:
    """The queues worth offering, in order (the first is the default): a run's selection only once a run has
    completed an iteration, the Data filter once that page set one, the map selection once there is one."""
    available = {"selected": has_runs, "pool": True, "data": has_data_filter, "map": has_map_selection}
    return [q for q in QUEUES if available[q]]


def scope(queue: str, *, redo: bool, data_filter: browse.Filter | None = None,
          map_ids: Sequence[str] | None = None) -> browse.Filter:
    """The samples a queue covers. Without `redo` only undecided ones, unless the Data filter names decisions
    itself (e.g. "rejected", to re-check them): then it keeps its own."""
    if queue not in QUEUES:
        raise ValueError(f"unknown review queue {queue!r}; use one of {', '.join(QUEUES)}")
    flt = {"selected": browse.Filter(any_run=True), "pool": browse.Filter(),
           "data": data_filter or browse.Filter(), "map": browse.Filter(ids=tuple(map_ids or ()))}[queue]
    if not redo and not flt.statuses:
        flt = replace(flt, statuses=("pending",))
    return flt


def without_skipped(flt: browse.Filter, skipped: Sequence[str]) -> browse.Filter:
    """What is left to show: the scope minus the samples skipped in this session."""
    return replace(flt, exclude_ids=tuple(skipped))


@dataclass(frozen=True)
class Progress:
    decided: int
    in_scope: int

    @property
    def fraction(self) -> float:
        return self.decided / self.in_scope if self.in_scope else 0.0

    @property
    def text(self) -> str:
        return f"{self.decided:,} of {self.in_scope:,} decided"


def progress(counts: dict[str, int]) -> Progress:
    """Decided versus every sample in scope, from `browse.status_counts` (pins do not count)."""
    decided = counts["approved"] + counts["rejected"]
    return Progress(decided=decided, in_scope=decided + counts["pending"])


class Session:
    """The review state of one browser session, over a mutable mapping (the page's `st.session_state`)."""

    def __init__(self, state: MutableMapping[str, Any], *, actor: str = ACTOR) -> None:
        self.state, self.actor = state, actor  # actor: this tab's name in the decision log (app_actor)
        state.setdefault(SKIPPED, [])
        state.setdefault(HISTORY, [])   # ("decision" | "skip", sample id), newest last
        state.setdefault(CURSOR, 0)     # row of the sample handled last: the queue continues after it
        state.setdefault(REVIEWED, 0)

    @property
    def skipped(self) -> list[str]:
        return self.state[SKIPPED]

    @property
    def reviewed(self) -> int:
        return int(self.state[REVIEWED])

    def choose_queue(self, queue: str | None, redo: bool) -> None:
        """A different queue (or re-review switched) starts from its beginning."""
        if self.state.get(_LAST_QUEUE) != (queue, redo):
            self.state[_LAST_QUEUE] = (queue, redo)
            self.state[CURSOR] = 0
            self.state.pop(CURRENT, None)

    def current(self, ws: Workspace, flt: browse.Filter) -> str | None:
        """The sample to show: one an undo brought back, else the next in the queue after the cursor."""
        return self.state.get(CURRENT) or browse.next_in_queue(ws, flt, after_row=self.state[CURSOR])

    def act(self, ws: Workspace, action: str, sample_id: str, row: int, *, reason: str = "") -> None:
        """Approve or reject (a decision, written now) or skip (kept in the session only); then move on."""
        if action == "skip":
            self.skipped.append(sample_id)
        else:
            decisions.record(ws, [sample_id], action, origin="human", actor=self.actor,
                             reason=reason.strip() or "review")
            self.state[REVIEWED] = self.reviewed + 1
        self.state[HISTORY].append(("skip" if action == "skip" else "decision", sample_id))
        self.state[CURSOR] = row
        self.state.pop(CURRENT, None)

    def undo(self, ws: Workspace) -> list[str] | None:
        """Take back the last skip (None) or decision (the ids it undid, also after a refresh, when the
        session's history is empty) and show that sample again."""
        history = self.state[HISTORY]
        if history and history[-1][0] == "skip":
            _, sample_id = history.pop()
            self.skipped.remove(sample_id)
            self.state[CURRENT] = sample_id
            return None
        if history:
            history.pop()
        undone = decisions.undo_last(ws, origin="human", actor=self.actor)  # this tab's own, not another's
        if undone:
            self.state[CURRENT] = undone[0]
            self.state[REVIEWED] = max(0, self.reviewed - 1)
        return undone

    def undo_preview(self, ws: Workspace, *, now: float | None = None) -> str:
        """What `undo` will take back, in words."""
        history = self.state[HISTORY]
        if history and history[-1][0] == "skip":
            return "Undo: the last skip."
        return undo_preview(ws, self.actor, now=now)

    def unskip(self) -> None:
        self.state[SKIPPED] = []
