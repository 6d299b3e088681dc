"""The Explore map at any pool size: what is drawn, what is read for it, and what the page caches.

Up to `MAX_DRAWN` points every point is drawn, with its hover label. Above it the figure holds a deterministic,
stratified sample of `MAX_DRAWN` points (every colour group keeps at least `MIN_PER_GROUP`, or all of its points)
over a density image of every point, so the figure stays a few MB at a million points (the full figure was 316 MB
there: over Streamlit's 200 MB message limit). Hover labels are read for the drawn rows only. A lasso or box is
resolved on the server against every point (`map_selection.rows_of_event` with the map's coordinates), so what
is selected does not depend on what is drawn.

`PoolPoints` is the per-point data the page needs (ids, rowids, source file names, response lengths), kept in one
array file per pool version (`samples.version`: its count and largest rowid, which every import changes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from curation.services import plots
from curation.workspace import samples
from curation.workspace.db import Workspace

MAX_DRAWN = 20_000  # markers in the figure: ~4 MB with hover labels (bench/bench_map.py)
MIN_PER_GROUP = 200  # a small colour group keeps this many points (or all it has) however rare it is
DENSITY_BINS = 200  # the density image's cells per axis
DRAW_SEED = 7
DENSITY_NAME = "density of all points"
DENSITY_SCALE = [[0.0, "#f1f3f6"], [1.0, "#7d8796"]]
POINTS_DIR = "points"  # per-point array files, one per pool version


@dataclass(frozen=True)
class PoolPoints:
    """Per-point data of one version of the pool, in row order (row i = the i-th sample by rowid)."""
    version: str
    ids: list[str]
    index: pd.Index  # id -> row, hashed once
    rowids: np.ndarray  # int64: samples.rowid of each row (what a hover query asks for)
    texts: pd.DataFrame  # id, source (file name), response_chars: what `map_colours.colour_values` reads


def maps_stamp(ws: Workspace) -> tuple[tuple[str, int], ...]:
    """The cached maps and when each was published (a new map, or one recomputed, changes it)."""
    root = ws.root / "maps"
    metas = sorted(root.glob("*/meta.json")) if root.exists() else []
    return tuple((p.parent.name, p.stat().st_mtime_ns) for p in metas)


def pool_points(ws: Workspace) -> PoolPoints:
    """The pool's per-point data, from its array file (`points/<version>.npz`, written the first time a version
    is read, older versions removed): a million rows load in well under a second instead of a scan of samples."""
    version = samples.version(ws)
    path = ws.root / POINTS_DIR / f"{version.replace(':', '-')}.npz"
    if not path.exists():
        _write_points(ws, path)
    with np.load(path, allow_pickle=False) as arrays:
        ids = arrays["ids"].tolist()
        names = arrays["source_names"]
        texts = pd.DataFrame({"id": ids, "source": names[arrays["source_codes"]],
                              "response_chars": arrays["response_chars"]})
        rowids = arrays["rowids"].astype(np.int64)
    return PoolPoints(version=version, ids=ids, index=pd.Index(ids), rowids=rowids, texts=texts)


def _write_points(ws: Workspace, path: Path) -> None:
    from curation.workspace.arrays import atomic_path

    frame = pd.read_sql_query("SELECT rowid AS rowid_, id, source, response_chars FROM samples ORDER BY rowid",
                              ws.connect())
    codes, sources = pd.factorize(frame["source"])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=frame["id"].to_numpy(str), rowids=frame["rowid_"].to_numpy(np.int64),
                     response_chars=frame["response_chars"].to_numpy(np.int64),
                     source_codes=codes.astype(np.int32),
                     source_names=np.array([Path(s).name for s in sources], dtype=str))
    for old in path.parent.glob("*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


def hover_of_rows(ws: Workspace, rowids: np.ndarray) -> list[str]:
    """Hover labels of these samples only (by rowid, in the given order)."""
    wanted = np.asarray(rowids, dtype=np.int64)
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(wanted), 900):
        chunk = [int(r) for r in wanted[start:start + 900]]
        marks = ",".join("?" * len(chunk))
        for rowid, prompt, response in ws.query(
                f"SELECT rowid, prompt, response FROM samples WHERE rowid IN ({marks})", tuple(chunk)):
            found[rowid] = (prompt, response)
    pairs = [found.get(int(r), ("", "")) for r in wanted]
    return plots.hover_texts([p for p, _ in pairs], [r for _, r in pairs])


def colour_groups(colour: Sequence | np.ndarray, continuous: bool) -> np.ndarray:
    """int64 group per row: one per category (missing values one more group), or finite / not for a scale."""
    if continuous:
        return np.isfinite(np.asarray(colour, dtype=np.float64)).astype(np.int64)
    codes, _ = pd.factorize(pd.Series(np.asarray(colour, dtype=object)), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)  # -1 (missing) is a group too


def drawn_rows(groups: np.ndarray, limit: int = MAX_DRAWN, *, min_per_group: int = MIN_PER_GROUP,
               seed: int = DRAW_SEED) -> np.ndarray:
    """Sorted rows to draw: all when there are at most `limit`; else each group gets its share of `limit`
    (at least `min_per_group`, at most its size), the points of lowest rank in one fixed random order. The
    order depends only on the pool's size, so a recolouring keeps most points where they were."""
    n = len(groups)
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    rank = np.random.default_rng(seed).permutation(n)
    picked = []
    labels, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    by_group = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for g in range(len(labels)):
        members = by_group[starts[g]:starts[g + 1]]
        quota = min(len(members), max(min_per_group, int(round(limit * len(members) / n))))
        picked.append(members[np.argsort(rank[members], kind="stable")[:quota]])
    return np.sort(np.concatenate(picked)).astype(np.int64)


def density_trace(coords: np.ndarray, bins: int = DENSITY_BINS) -> go.Heatmap:
    """Every point as a grey density image (log counts; empty cells transparent), beneath the markers."""
    return _density_heatmap(density_image(coords, bins))


def density_image(coords: np.ndarray, bins: int = DENSITY_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x centres, y centres, log counts with NaN for empty cells; rows are y) of every point."""
    xy = np.asarray(coords, dtype=np.float64)
    counts, x_edges, y_edges = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins)
    shade = np.where(counts > 0, np.log1p(counts), np.nan).T.astype(np.float32)
    return (((x_edges[:-1] + x_edges[1:]) / 2).astype(np.float32),
            ((y_edges[:-1] + y_edges[1:]) / 2).astype(np.float32), shade)


def _density_heatmap(image: tuple[np.ndarray, np.ndarray, np.ndarray]) -> go.Heatmap:
    x, y, shade = image
    return go.Heatmap(x=x, y=y, z=shade, colorscale=DENSITY_SCALE, showscale=False, hoverinfo="skip",
                      name=DENSITY_NAME, showlegend=False)


@dataclass(frozen=True)
class FigureParts:
    """What a map figure is drawn from, minus the hover labels: the O(N) work (colour groups, the stratified
    sample, the density image: ~1.5 s at a million points), worth caching per colouring; the figure itself is
    built from it on every rerun (a cached figure object made plotly_chart drop the lasso events)."""
    rows: np.ndarray
    values: np.ndarray  # the colour of each drawn row
    options: dict[str, Any]  # plots.map_figure's other keyword arguments
    density: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # when not every point is drawn


def figure_parts(coords: np.ndarray, colours: dict[str, Any], *, limit: int = MAX_DRAWN) -> FigureParts:
    coords = np.asarray(coords, dtype=np.float32)
    continuous = bool(colours.get("continuous"))
    values = np.asarray(colours["colour"], dtype=np.float64 if continuous else object)
    rows = drawn_rows(colour_groups(values, continuous), limit)
    options = {k: v for k, v in colours.items() if k != "colour"}
    if continuous and np.isfinite(values).any():
        options["colour_range"] = (float(np.nanmin(values)), float(np.nanmax(values)))  # the scale of every point
    return FigureParts(rows=rows, values=values[rows], options=options,
                       density=density_image(coords) if len(rows) < len(coords) else None)


def figure_from_parts(coords: np.ndarray, parts: FigureParts, hover: list[str]) -> go.Figure:
    figure = plots.map_figure(np.asarray(coords, dtype=np.float32)[parts.rows], parts.values, hover=hover,
                              rows=parts.rows, **parts.options)
    if parts.density is not None:
        figure.add_trace(_density_heatmap(parts.density))
        figure.data = (figure.data[-1], *figure.data[:-1])  # the image first: underneath every marker
    return figure


def pool_map_figure(coords: np.ndarray, colours: dict[str, Any], hover_of: Callable[[np.ndarray], list[str]], *,
                    limit: int = MAX_DRAWN) -> tuple[go.Figure, np.ndarray]:
    """(the map, the rows it draws). `colours`: `map_colours.colour_values`; `hover_of(rows)`: their labels."""
    parts = figure_parts(coords, colours, limit=limit)
    return figure_from_parts(coords, parts, hover_of(parts.rows)), parts.rows
