"""What the Explore page draws, read from the workspace and cached per pool and map (no model, no umap).

Texts never change for a given pool (samples are append-only and keyed by content), so hover labels and
lengths are cached by the pool's id hash; decisions change, so their states are read fresh on every run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from curation.geometry import maps
from curation.services import plots, timeline
from curation.workspace import Workspace, runs

COLOURS = {"decision": "Decision", "source": "Source", "cluster": "Cluster", "run": "Selected by a run",
           "iteration": "Iteration a run added it", "score": "Score"}
RESPONSE_LENGTH = "response length (chars)"
DECISION_COLOURS = {"pending": "#7f9cc0", "approved": "#2e9d4f", "rejected": "#d9453d", "pending, pinned": "#3d5a80",
                    "approved, pinned": "#146b2e", "rejected, pinned": "#8f1f1a"}


@st.cache_resource(show_spinner=False, max_entries=4)
def pool_texts(root: str, digest: str) -> pd.DataFrame:
    """id, escaped hover label, source file name and response length of every sample, in row order."""
    ws = Workspace(root)
    df = pd.read_sql_query("SELECT id, prompt, response, source, response_chars FROM samples ORDER BY rowid",
                           ws.connect())
    return pd.DataFrame({"id": df["id"], "hover": plots.hover_texts(df["prompt"], df["response"]),
                         "source": df["source"].map(lambda s: Path(s).name), "response_chars": df["response_chars"]})


def states(ws: Workspace) -> pd.DataFrame:
    """Decision status and pin of every sample, in row order (read fresh: decisions change)."""
    return pd.read_sql_query("SELECT COALESCE(st.status, 'pending') AS status, COALESCE(st.pinned, 0) AS pinned"
                             " FROM samples s LEFT JOIN sample_state st ON st.sample_id = s.id ORDER BY s.rowid",
                             ws.connect())


@st.cache_resource(show_spinner=False, max_entries=2)
def map_embeddings(root: str, key: str) -> np.ndarray | None:
    """The map's embeddings from the workspace cache (read-only: shared by every session)."""
    ws = Workspace(root)
    pool_map = maps.load(ws, key)
    return None if pool_map is None else maps.embeddings(ws, pool_map)


@st.cache_data(show_spinner=False, max_entries=8)
def pool_vendi(root: str, key: str) -> float | None:
    from curation.geometry.diversity import vendi_score

    X = map_embeddings(root, key)
    return None if X is None else vendi_score(X)


def selection_vendi(root: str, key: str, rows: np.ndarray) -> float | None:
    from curation.geometry.diversity import vendi_score

    X = map_embeddings(root, key)
    return None if X is None or not len(rows) else vendi_score(X[np.asarray(rows, np.int64)])


def first_selected(its: list[runs.Iteration], ids: list[str]) -> np.ndarray:
    """For every row, the first iteration whose selection holds it (NaN: never selected)."""
    row = {s: r for r, s in enumerate(ids)}
    out = np.full(len(ids), np.nan)
    for it in reversed(its):  # earlier iterations overwrite later ones
        rows = [row[s] for s in it.selected if s in row]
        out[rows] = it.iteration
    return out


def colour_values(ws: Workspace, choice: str, *, texts: pd.DataFrame, pool_map: maps.PoolMap, ids: list[str],
                  run_id: int | None, iteration: int | None, score: str | None) -> dict:
    """Keyword arguments for `plots.map_figure` colouring the map by `choice`."""
    if choice == "decision":
        st_ = states(ws)
        values = np.where(st_["pinned"].astype(bool), st_["status"] + ", pinned", st_["status"])
        order = [c for c in ("pending", "approved", "rejected", "pending, pinned", "approved, pinned",
                             "rejected, pinned") if c in set(values)]
        return {"colour": values, "categories": order, "colour_label": "decision", "colours": DECISION_COLOURS}
    if choice == "source":
        return {"colour": texts["source"].to_numpy(), "colour_label": "source"}
    if choice == "cluster":
        return {"colour": [f"cluster {c}" for c in pool_map.clusters], "colour_label": "cluster"}
    if choice in ("run", "iteration") and run_id is not None:
        its = runs.iterations(ws, run_id)
        if choice == "iteration":
            first = first_selected(its, ids)
            values = np.array([None if np.isnan(v) else f"iteration {int(v)}" for v in first], dtype=object)
            return {"colour": values, "colour_label": f"run {run_id}: iteration added",
                    "categories": [f"iteration {it.iteration}" for it in its], "missing_label": "never selected"}
        chosen = next((it for it in its if it.iteration == iteration), its[-1]) if its else None
        picked = set(chosen.selected) if chosen else set()
        values = np.array(["selected" if s in picked else None for s in ids], dtype=object)
        return {"colour": values, "colour_label": f"run {run_id}", "categories": ["selected"],
                "missing_label": "not selected"}
    if choice == "score":
        if score == RESPONSE_LENGTH or run_id is None:
            return {"colour": texts["response_chars"].to_numpy(np.float64), "continuous": True,
                    "colour_label": RESPONSE_LENGTH}
        frame = run_scores(ws, run_id, iteration)
        if frame is not None and score in frame.columns:
            values = frame.set_index("sample_id")[score].reindex(ids).to_numpy(np.float64)
            return {"colour": values, "continuous": True, "colour_label": score}
    return {"colour": [None] * len(ids), "colour_label": ""}


def run_scores(ws: Workspace, run_id: int, iteration: int | None) -> pd.DataFrame | None:
    its = runs.iterations(ws, run_id)
    if not its:
        return None
    chosen = next((it for it in its if it.iteration == iteration), its[-1])
    return timeline.score_columns(ws, chosen)


def rows_of_event(event, figure) -> list[int] | None:
    """Rows a box or lasso selection holds (None when the chart reports no selection)."""
    selection = getattr(event, "selection", None) if event is not None else None
    points = (selection or {}).get("points") or []
    if not points:
        return None
    rows = []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if data is None:  # not every Streamlit version forwards customdata: map the trace's index instead
            trace = figure.data[point.get("curve_number", 0)]
            data = trace.customdata[point.get("point_index", point.get("point_number", 0))]
        rows.append(int(data))
    return sorted(set(rows))
