"""The Explore map's selection: the rows a lasso or box event holds, the selected rows, and the response
length series the page compares (pool, selection, a run's iterations)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np

from curation.workspace import runs


def rows_of_event(event: Any, figure: Any) -> list[int] | None:
    """Rows a box or lasso selection holds (None when the chart reports no selection). `event` is what
    `st.plotly_chart(on_select=...)` returns: `.selection["points"]`, each with the point's customdata (its row)."""
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


def selected_rows(ids: Sequence[str], selected: Sequence[str]) -> np.ndarray:
    """Rows of the selected ids in the pool, in the selection's order (ids no longer in the pool dropped)."""
    row_of = {s: r for r, s in enumerate(ids)}
    return np.array([row_of[s] for s in selected if s and s in row_of], dtype=np.int64)


def length_series(lengths: np.ndarray, ids: Sequence[str], *, selection: np.ndarray | None = None,
                  run_id: int | None = None, iterations: Sequence[runs.Iteration] = (),
                  shown: Sequence[int] = ()) -> Mapping[str, np.ndarray]:
    """Named response-length arrays for `plots.length_histogram`: the pool, the map selection (rows), and
    the iterations in `shown` of a run."""
    lengths = np.asarray(lengths)
    series = {"pool": lengths}
    if selection is not None and len(selection):
        series["map selection"] = lengths[np.asarray(selection, np.int64)]
    row_of = {s: r for r, s in enumerate(ids)}
    for it in iterations:
        if it.iteration in shown:
            rows = np.array([row_of[s] for s in it.selected if s in row_of], dtype=np.int64)
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
    if rows is not None and tuple(rows) != state.get(_LAST_EVENT):
        state[_LAST_EVENT] = tuple(rows)
        state[SELECTION] = [ids[r] for r in rows]


def clear(state: MutableMapping[str, Any]) -> None:
    """Empty the selection and ask for a fresh chart (a new key: the old lasso is not drawn again)."""
    state[SELECTION] = []
    state[_LAST_EVENT] = None
    state[GENERATION] = int(state.get(GENERATION, 0)) + 1
