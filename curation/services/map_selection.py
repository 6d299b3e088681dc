"""The Explore map's selection: the rows a lasso or box event holds, the selected rows, and the response
length series the page compares (pool, selection, a run's iterations).

A lasso or box is resolved against every point of the map (`curation.geometry.lasso`), not only against the
points the chart drew and reported: above `map_figure.MAX_DRAWN` points the chart draws a sample of them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from curation.geometry import lasso
from curation.workspace import runs


def shapes_of_event(event: Any) -> tuple[list[lasso.Shape], list[lasso.Shape]]:
    """(lassos, boxes) of a chart event in data coordinates: Streamlit reports each lasso's vertices and each
    box's corners as {"x": [...], "y": [...]}."""
    selection = (getattr(event, "selection", None) if event is not None else None) or {}

    def shapes(kind: str) -> list[lasso.Shape]:
        return [(s["x"], s["y"]) for s in selection.get(kind) or [] if s.get("x") and s.get("y")]

    return shapes("lasso"), shapes("box")


def rows_of_event(event: Any, figure: Any, coords: np.ndarray | None = None) -> list[int] | None:
    """Rows a box or lasso selection holds (None when the chart reports no selection). `event` is what
    `st.plotly_chart(on_select=...)` returns. With the map's `coords` (every point), its lasso polygons and boxes
    are resolved against every point; otherwise (or when the event has no shape) `.selection["points"]` give
    the rows, each by the point's customdata."""
    lassos, boxes = shapes_of_event(event)
    if coords is not None and (lassos or boxes):
        return lasso.selected_rows(coords, lassos=lassos, boxes=boxes).tolist()
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


def selected_rows(ids: Sequence[str] | pd.Index, selected: Sequence[str]) -> np.ndarray:
    """Rows of the selected ids in the pool, in the selection's order (ids no longer in the pool dropped).
    `ids` may be a `pd.Index` (the page's cached one: no per-rerun hashing of the pool's ids)."""
    index = ids if isinstance(ids, pd.Index) else pd.Index(list(ids))
    rows = index.get_indexer([s for s in selected if s]) if len(selected) else np.zeros(0, np.int64)
    return rows[rows >= 0].astype(np.int64)


def length_series(lengths: np.ndarray, ids: Sequence[str] | pd.Index, *, selection: np.ndarray | None = None,
                  run_id: int | None = None, iterations: Sequence[runs.Iteration] = (),
                  shown: Sequence[int] = ()) -> Mapping[str, np.ndarray]:
    """Named response-length arrays for `plots.length_histogram`: the pool, the map selection (rows), and
    the iterations in `shown` of a run."""
    lengths = np.asarray(lengths)
    series = {"pool": lengths}
    if selection is not None and len(selection):
        series["map selection"] = lengths[np.asarray(selection, np.int64)]
    for it in iterations:
        if it.iteration in shown:
            rows = selected_rows(ids, it.selected)
            series[f"run {run_id} iteration {it.iteration}"] = lengths[rows]
    return series


def map_caption(n: int, meta: Mapping[str, Any], *, preview: bool) -> str:
    """How the map was made ("330 samples · UMAP preview of text embeddings · computed in 4 s")."""
    note = ""
    if meta["method"] != "pca":
        method = "UMAP"
    elif meta.get("config", {}).get("method") == "pca":  # queued before UMAP by services/map_queue.py
        method, note = "PCA first look", " · the UMAP map replaces it when it is ready"
    else:
        method = "PCA (too few samples for UMAP)"
    return (f"{n:,} samples · {method}{' preview' if preview else ''} of {meta.get('field', 'text')} embeddings"
            f" · computed in {meta['seconds']:.0f} s{note}")


def summary_tiles(counts: Mapping[str, int], selection_vendi: float | None,
                  pool_vendi: float | None) -> list[tuple[str, str]]:
    """(label, value) of the selection's tiles: decision counts and both Vendi scores ("n/a" when unknown)."""
    def vendi(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    return [("Pending", f"{counts['pending']:,}"), ("Approved", f"{counts['approved']:,}"),
            ("Rejected", f"{counts['rejected']:,}"), ("Vendi (selection)", vendi(selection_vendi)),
            ("Vendi (pool)", vendi(pool_vendi))]


def missing_map_note(available: Sequence[Mapping[str, Any]], n_now: int) -> str:
    """Why no map shows: the pool changed since the newest map (`maps.available`), or there never was one."""
    if available:
        return (f"The pool changed since the last map was drawn ({available[0]['n']:,} samples then, {n_now:,} "
                "now): compute it again above.")
    return ("No map of this pool yet: compute it above (a quick PCA layout within seconds, then UMAP: under a "
            "minute for hundreds of samples, minutes for tens of thousands).")


# -- the selection in the session (any mutable mapping: `st.session_state` on the page) ----------------------
SELECTION = "selection_ids"  # read by the Data page's filter and the Review page's queue too
_LAST_EVENT, GENERATION = "_explore_last_event", "explore_map_generation"


def take_event(state: MutableMapping[str, Any], rows: Sequence[int] | None, ids: Sequence[str]) -> None:
    """A new lasso or box becomes the selection; the same event seen again on a rerun changes nothing (so
    clearing the selection sticks while the chart still reports the old lasso)."""
    if rows is None:
        return
    seen = hashlib.sha256(np.asarray(rows, np.int64).tobytes()).hexdigest()
    if seen != state.get(_LAST_EVENT):
        state[_LAST_EVENT] = seen  # a digest: a lasso over a million points holds a million rows
        state[SELECTION] = [ids[r] for r in rows]


def clear(state: MutableMapping[str, Any]) -> None:
    """Empty the selection and ask for a fresh chart (a new key: the old lasso is not drawn again)."""
    state[SELECTION] = []
    state[_LAST_EVENT] = None
    state[GENERATION] = int(state.get(GENERATION, 0)) + 1
