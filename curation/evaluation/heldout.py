"""The held-out set an evaluation scores: pool samples carved out before any run, or a file the user names.

A carved sample is rejected with origin "heldout" (runs never select rejected samples, exports leave them out,
and `decisions.undo_last(ws, origin="heldout")` gives them back), and the carved ids are kept in the workspace's
settings. The held-out set is the carved ids that are still rejected by that carve: a later human decision on one
of them takes it out of the held-out set instead of leaving it half in.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from curation.errors import CurationError
from curation.records import Record
from curation.workspace import decisions, runs, samples
from curation.workspace.db import Workspace

ORIGIN = "heldout"
REASON = "held out for evaluation"
SETTING = "evaluation.heldout_ids"


def carve(ws: Workspace, *, rows: int | None = None, percent: float | None = None, seed: int = 0,
          force: bool = False) -> list[str]:
    """Hold out `rows` (or `percent` %) pending pool samples, drawn with `seed`; returns their ids.

    Refused once a run exists (its selection may already hold them) unless `force`, and refused while an earlier
    carve is still in place (undo it first), so the held-out set is one draw.
    """
    if (rows is None) == (percent is None):
        raise CurationError("give the held-out size as rows or as percent, not both")
    if runs.list_runs(ws) and not force:
        raise CurationError("runs exist already: samples held out now may be in their selections; carve before "
                            "the first run, or pass force")
    if heldout_ids(ws):
        raise CurationError(f"{len(heldout_ids(ws))} samples are held out already; undo that carve first")
    states = decisions.states(ws)
    pool = [s for s in samples.ids(ws) if states.get(s, decisions.State()).status == "pending"]
    if percent is not None:
        if not 0 < percent < 100:
            raise CurationError(f"percent must be between 0 and 100, got {percent}")
        rows = max(1, math.floor(len(pool) * percent / 100))
    assert rows is not None
    if rows < 1 or rows >= len(pool):
        raise CurationError(f"cannot hold out {rows} of {len(pool)} pending samples: leave some to select from")
    picked = np.random.default_rng(seed).choice(len(pool), rows, replace=False)
    ids = [pool[i] for i in sorted(picked)]
    with ws.transaction():  # the rejections and the id list land together or not at all
        decisions.record(ws, ids, "reject", origin=ORIGIN, reason=REASON)
        ws.set_setting(SETTING, json.dumps(ids))
    return ids


def heldout_ids(ws: Workspace) -> list[str]:
    """The carved ids that are still held out (rejected by the carve), in carve order."""
    carved = json.loads(ws.get_setting(SETTING) or "[]")
    states = decisions.states(ws)
    return [s for s in carved if (st := states.get(s)) is not None and st.status == "rejected"
            and st.origin == ORIGIN]


def heldout_records(ws: Workspace) -> tuple[list[str], list[Record]]:
    """(ids, records) of the carved held-out set; an error when nothing is held out."""
    ids = heldout_ids(ws)
    if not ids:
        raise CurationError("no held-out split: carve one with `heldout --rows N` before the first run, "
                            "or name a held-out file")
    found = samples.get_many(ws, ids)
    return ids, [found[s] for s in ids]


def read_records(path: str | os.PathLike[str]) -> list[Record]:
    """Every row of a held-out file as records (`decontamination.read_eval_file`: the first unreadable row is an
    error naming the file and line; a held-out set with silently skipped rows would not be the set named)."""
    from curation.evaluation.decontamination import read_eval_file

    return list(read_eval_file(os.fspath(path)).records)
