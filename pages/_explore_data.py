"""The Explore page's cached reads (no model, no umap): the computing lives in `curation.services.map_figure`,
`map_colours` and `curation.geometry`; this module only decides what Streamlit caches.

Per-point data (ids, source names, lengths) and the map are cached by the pool's version and the maps folder's
stamp, both cheap to read, so a rerun never reads every id or text; hover labels are read for the drawn rows only.
Decisions change, so their states are read fresh on every run.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from curation.geometry import maps
from curation.services import map_colours, map_figure
from curation.workspace import Workspace


@st.cache_resource(show_spinner=False, max_entries=4)
def pool_points(root: str, version: str) -> map_figure.PoolPoints:
    """Ids, rowids, source file names and response lengths of every sample of this pool version."""
    return map_figure.pool_points(Workspace(root))


@st.cache_resource(show_spinner=False, max_entries=4)
def current_map(root: str, version: str, stamp: tuple[tuple[str, int], ...]) -> maps.PoolMap | None:
    """The map to show for this pool version (`maps.current`), read again when a map is published."""
    return maps.current(Workspace(root), pool_points(root, version).ids)


@st.cache_data(show_spinner=False, max_entries=8)
def figure_parts(root: str, version: str, stamp: tuple[tuple[str, int], ...], choice: str, run_id: int | None,
                 iteration: int | None, score: str | None, state: tuple | None) -> map_figure.FigureParts:
    """What the map is drawn from for one colouring (`map_figure.FigureParts`). `state`: `browse.version` for
    colourings that read decisions or runs (None for source and cluster), so a decision recomputes only those."""
    ws, points = Workspace(root), pool_points(root, version)
    pool_map = current_map(root, version, stamp)
    assert pool_map is not None
    colours = map_colours.colour_values(ws, choice, texts=points.texts, clusters=pool_map.clusters, ids=points.ids,
                                        run_id=run_id, iteration=iteration, score=score, index=points.index,
                                        rowids=points.rowids)
    return map_figure.figure_parts(pool_map.coords, colours)


@st.cache_data(show_spinner=False, max_entries=16)
def drawn_hover(root: str, version: str, rowids: np.ndarray) -> list[str]:
    """Hover labels of the drawn samples (by rowid)."""
    return map_figure.hover_of_rows(Workspace(root), rowids)


@st.cache_resource(show_spinner=False, max_entries=2)
def map_embeddings(root: str, key: str) -> np.ndarray | None:
    """The map's embeddings from the workspace cache (read-only: shared by every session)."""
    ws = Workspace(root)
    pool_map = maps.load(ws, key)
    return None if pool_map is None else maps.embeddings(ws, pool_map)


@st.cache_data(show_spinner=False, max_entries=8)
def pool_vendi(root: str, key: str) -> float | None:
    from curation.geometry.vendi import vendi_score

    pool_map = maps.load(Workspace(root), key)
    if pool_map is not None and pool_map.meta.get("vendi") is not None:  # computed with the map
        return float(pool_map.meta["vendi"])
    X = map_embeddings(root, key)
    return None if X is None else vendi_score(X)


def selection_vendi(root: str, key: str, rows: np.ndarray) -> float | None:
    from curation.geometry.vendi import vendi_score

    X = map_embeddings(root, key)
    return None if X is None or not len(rows) else vendi_score(X[np.asarray(rows, np.int64)])
