"""The Explore page's cached reads (no model, no umap): the computing lives in `curation.services.map_colours`
and `curation.geometry`; this module only decides what Streamlit caches.

Texts never change for a given pool (samples are append-only and keyed by content), so hover labels and
lengths are cached by the pool's id hash; decisions change, so their states are read fresh on every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from curation.geometry import maps
from curation.services import map_colours
from curation.workspace import Workspace


@st.cache_resource(show_spinner=False, max_entries=4)
def pool_texts(root: str, digest: str) -> pd.DataFrame:
    """id, escaped hover label, source file name and response length of every sample, in row order."""
    return map_colours.hover_frame(Workspace(root))


@st.cache_resource(show_spinner=False, max_entries=2)
def map_embeddings(root: str, key: str) -> np.ndarray | None:
    """The map's embeddings from the workspace cache (read-only: shared by every session)."""
    ws = Workspace(root)
    pool_map = maps.load(ws, key)
    return None if pool_map is None else maps.embeddings(ws, pool_map)


@st.cache_data(show_spinner=False, max_entries=8)
def pool_vendi(root: str, key: str) -> float | None:
    from curation.geometry.vendi import vendi_score

    X = map_embeddings(root, key)
    return None if X is None else vendi_score(X)


def selection_vendi(root: str, key: str, rows: np.ndarray) -> float | None:
    from curation.geometry.vendi import vendi_score

    X = map_embeddings(root, key)
    return None if X is None or not len(rows) else vendi_score(X[np.asarray(rows, np.int64)])
