"""Which points of a 2-D map a lasso or a box holds, resolved against every point (not only the drawn ones).

A lasso is a closed polygon given by its vertices (the last vertex joins the first); a point is inside by the
even-odd rule, as Plotly's own lasso decides it. Points are sorted by y once, so each edge toggles only the points
whose horizontal ray it crosses (a binary search finds them): a 1M-point map with a 300-vertex lasso resolves in
well under a second, where testing every point against every edge would cost n x m.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curation.errors import CurationError

Shape = tuple[Sequence[float], Sequence[float]]  # (xs, ys): a lasso's vertices or a box's two corners


def _xy(xs: Sequence[float], ys: Sequence[float], what: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(xs, dtype=np.float64).ravel(), np.asarray(ys, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise CurationError(f"a {what} needs as many x as y values, got {len(x)} and {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise CurationError(f"a {what} has a coordinate that is not a finite number")
    return x, y


def inside_polygon(points: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    """bool [n]: which rows of `points` (float [n, 2]) lie inside the polygon with vertices (xs, ys)."""
    px, py = np.asarray(points, dtype=np.float64)[:, 0], np.asarray(points, dtype=np.float64)[:, 1]
    vx, vy = _xy(xs, ys, "lasso")
    inside = np.zeros(len(px), dtype=bool)
    if len(vx) < 3 or not len(px):
        return inside  # a polygon of fewer than three vertices has no inside
    candidates = np.flatnonzero((px >= vx.min()) & (px <= vx.max()) & (py >= vy.min()) & (py <= vy.max()))
    order = candidates[np.argsort(py[candidates], kind="stable")]
    sorted_y, sorted_x = py[order], px[order]
    flips = np.zeros(len(order), dtype=bool)
    for (x0, y0), (x1, y1) in zip(np.column_stack([vx, vy]), np.roll(np.column_stack([vx, vy]), -1, axis=0)):
        if y0 == y1:
            continue  # a horizontal edge never crosses a horizontal ray
        lo, hi = (y0, y1) if y0 < y1 else (y1, y0)
        start, stop = np.searchsorted(sorted_y, [lo, hi], side="left")  # lo <= y < hi: half-open, like Plotly
        if start == stop:
            continue
        crossing = x0 + (sorted_y[start:stop] - y0) * (x1 - x0) / (y1 - y0)
        flips[start:stop] ^= sorted_x[start:stop] < crossing
    inside[order] = flips
    return inside


def inside_box(points: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    """bool [n]: rows of `points` inside the box spanned by two corners (xs, ys), edges included."""
    x, y = _xy(xs, ys, "box")
    if len(x) != 2:
        raise CurationError(f"a box needs two corners, got {len(x)}")
    pts = np.asarray(points, dtype=np.float64)
    return ((pts[:, 0] >= x.min()) & (pts[:, 0] <= x.max()) & (pts[:, 1] >= y.min()) & (pts[:, 1] <= y.max()))


def selected_rows(points: np.ndarray, *, lassos: Sequence[Shape] = (), boxes: Sequence[Shape] = ()) -> np.ndarray:
    """Sorted rows (int64) inside any of the lassos or boxes: several shapes add up, as in Plotly."""
    chosen = np.zeros(len(points), dtype=bool)
    for xs, ys in lassos:
        chosen |= inside_polygon(points, xs, ys)
    for xs, ys in boxes:
        chosen |= inside_box(points, xs, ys)
    return np.flatnonzero(chosen).astype(np.int64)
