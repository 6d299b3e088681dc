"""What the Explore map is coloured by: per-sample values and categories for `plots.map_figure`.

`colour_values` returns the figure's keyword arguments (colour, categories, colour label, ...) for one
choice of `COLOURS`; `hover_frame` gives the escaped hover label, source file name and response length of every
sample. Everything is in row order (`samples.rowid`), the order of the map's points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curation.services import plots, timeline
from curation.workspace import runs, views
from curation.workspace.db import Workspace

COLOURS = {"decision": "Decision", "source": "Source", "cluster": "Cluster", "run": "Selected by a run",
           "iteration": "Iteration a run added it", "score": "Score"}
RUN_COLOURS = ("run", "iteration")  # offered only once a run has completed an iteration
STATIC_COLOURS = ("source", "cluster")  # fixed for a pool version and map: no decision or run changes them
RESPONSE_LENGTH = "response length (chars)"
DECISION_COLOURS = {"pending": "#7f9cc0", "approved": "#2e9d4f", "rejected": "#d9453d", "pending, pinned": "#3d5a80",
                    "approved, pinned": "#146b2e", "rejected, pinned": "#8f1f1a"}


def offered(has_runs: bool) -> list[str]:
    return [c for c in COLOURS if has_runs or c not in RUN_COLOURS]


def hover_frame(ws: Workspace) -> pd.DataFrame:
    """id, escaped hover label, source file name and response length of every sample."""
    df = views.map_texts(ws)
    return pd.DataFrame({"id": df["id"], "hover": plots.hover_texts(df["prompt"], df["response"]),
                         "source": df["source"].map(lambda s: Path(s).name), "response_chars": df["response_chars"]})


def decision_labels(states: pd.DataFrame) -> np.ndarray:
    """"approved", "rejected, pinned", ... per row of `views.decision_states`."""
    return np.where(states["pinned"].astype(bool), states["status"] + ", pinned", states["status"])


def rows_of(index: pd.Index, sample_ids: Sequence[str]) -> np.ndarray:
    """Rows of the samples in the pool's id index (ids no longer in the pool left out), vectorised."""
    rows = index.get_indexer(list(sample_ids))
    return rows[rows >= 0]


def first_selected(its: Sequence[runs.Iteration], index: pd.Index) -> np.ndarray:
    """For every row, the first iteration whose selection holds it (NaN: never selected)."""
    out = np.full(len(index), np.nan)
    for it in reversed(its):  # earlier iterations overwrite later ones
        out[rows_of(index, it.selected)] = it.iteration
    return out


def labelled(rows: np.ndarray, values: np.ndarray, n: int, names: dict[float, str]) -> np.ndarray:
    """An object array of n labels: names[values[i]] at rows[i], None elsewhere."""
    out = np.full(n, None, dtype=object)
    for value, name in names.items():
        out[rows[values == value]] = name
    return out


def chosen_iteration(its: Sequence[runs.Iteration], iteration: int | None) -> runs.Iteration | None:
    """The iteration numbered `iteration`, else the last one (None for a run without iterations)."""
    return next((it for it in its if it.iteration == iteration), its[-1]) if its else None


def run_scores(ws: Workspace, run_id: int, iteration: int | None) -> pd.DataFrame | None:
    """Every sample's numeric score components at that iteration of the run (sample_id first)."""
    chosen = chosen_iteration(runs.iterations(ws, run_id), iteration)
    return None if chosen is None else timeline.score_columns(ws, chosen)


def score_options(scores: pd.DataFrame | None) -> list[str]:
    """What "Colour by score" offers: the response length, then the run's numeric score components."""
    return [RESPONSE_LENGTH, *([c for c in scores.columns if c != "sample_id"] if scores is not None else [])]


def colour_values(ws: Workspace, choice: str, *, texts: pd.DataFrame, clusters: Sequence[int], ids: Sequence[str],
                  run_id: int | None = None, iteration: int | None = None, score: str | None = None,
                  index: pd.Index | None = None, rowids: np.ndarray | None = None) -> dict[str, Any]:
    """Keyword arguments for `plots.map_figure` colouring the map by `choice` (texts: `hover_frame`; index: the
    ids hashed once, as `map_figure.PoolPoints` keeps them, so a million rows are looked up in numpy; rowids:
    theirs, so the decision colours read only the decided samples)."""
    index = index if index is not None else pd.Index(list(ids))
    if choice == "decision":
        values = decision_labels(views.decision_states(ws, rowids))
        order = [c for c in DECISION_COLOURS if c in set(values)]
        return {"colour": values, "categories": order, "colour_label": "decision", "colours": DECISION_COLOURS}
    if choice == "source":
        return {"colour": texts["source"].to_numpy(), "colour_label": "source"}
    if choice == "cluster":
        uniq, inverse = np.unique(np.asarray(clusters), return_inverse=True)
        return {"colour": np.array([f"cluster {c}" for c in uniq], dtype=object)[inverse], "colour_label": "cluster"}
    if choice in RUN_COLOURS and run_id is not None:
        its = runs.iterations(ws, run_id)
        if choice == "iteration":
            first = first_selected(its, index)
            rows = np.flatnonzero(~np.isnan(first))
            labels = labelled(rows, first[rows], len(index), {it.iteration: f"iteration {it.iteration}" for it in its})
            return {"colour": labels, "colour_label": f"run {run_id}: iteration added",
                    "categories": [f"iteration {it.iteration}" for it in its], "missing_label": "never selected"}
        chosen = chosen_iteration(its, iteration)
        labels = np.full(len(index), None, dtype=object)
        labels[rows_of(index, chosen.selected if chosen else [])] = "selected"
        return {"colour": labels, "colour_label": f"run {run_id}", "categories": ["selected"],
                "missing_label": "not selected"}
    if choice == "score":
        if score == RESPONSE_LENGTH or run_id is None:
            return {"colour": texts["response_chars"].to_numpy(np.float64), "continuous": True,
                    "colour_label": RESPONSE_LENGTH}
        frame = run_scores(ws, run_id, iteration)
        if frame is not None and score in frame.columns:
            scores = frame.set_index("sample_id")[score].reindex(index).to_numpy(np.float64)
            return {"colour": scores, "continuous": True, "colour_label": score}
    return {"colour": [None] * len(index), "colour_label": ""}
