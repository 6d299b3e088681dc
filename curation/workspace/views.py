"""Whole-pool reads for the map views, in row order (`samples.rowid`), with only the columns they need.

Texts never change for a sample (samples are append-only and keyed by content), so callers may cache
`map_texts` per pool; decisions change, so `decision_states` is meant to be read fresh.
"""

from __future__ import annotations

import pandas as pd

from curation.workspace.db import Workspace


def map_texts(ws: Workspace) -> pd.DataFrame:
    """id, prompt, response, source and response length of every sample."""
    return pd.read_sql_query("SELECT id, prompt, response, source, response_chars FROM samples ORDER BY rowid",
                             ws.connect())


def decision_states(ws: Workspace) -> pd.DataFrame:
    """Decision status ('pending' when undecided) and pin (bool) of every sample."""
    frame = pd.read_sql_query(
        "SELECT COALESCE(st.status, 'pending') AS status, COALESCE(st.pinned, 0) AS pinned"
        " FROM samples s LEFT JOIN sample_state st ON st.sample_id = s.id ORDER BY s.rowid", ws.connect())
    frame["pinned"] = frame["pinned"].astype(bool)
    return frame
