"""The Explore map at any size: lasso and box resolution against every point (curation.geometry.lasso) checked
against matplotlib's point-in-path and a scalar ray-casting loop written here, the drawn sample
(curation.services.map_figure), the figure's size at 200k points, and the per-point data cache's invalidation."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from curation.errors import CurationError
from curation.formats import importer
from curation.geometry import lasso
from curation.services import map_colours, map_figure, map_selection
from curation.workspace import samples
from tests.shared_data import DOLLY, write_jsonl_head

SQUARE = ([0.1, 0.9, 0.9, 0.1], [0.1, 0.1, 0.9, 0.9])
C_SHAPE = ([0.1, 0.9, 0.9, 0.3, 0.3, 0.9, 0.9, 0.1], [0.1, 0.1, 0.3, 0.3, 0.7, 0.7, 0.9, 0.9])  # concave
STAR = ([0.5 + (0.45 if k % 2 == 0 else 0.15) * np.cos(k * np.pi / 5) for k in range(10)],
        [0.5 + (0.45 if k % 2 == 0 else 0.15) * np.sin(k * np.pi / 5) for k in range(10)])
# two squares touching at the vertex (0.5, 0.5), drawn as one closed path (a figure eight of squares)
TOUCHING = ([0.1, 0.5, 0.5, 0.9, 0.9, 0.5, 0.5, 0.1], [0.1, 0.1, 0.5, 0.5, 0.9, 0.9, 0.5, 0.5])
SHAPES = {"square": SQUARE, "concave": C_SHAPE, "star": STAR, "self-touching": TOUCHING}


def matplotlib_inside(points: np.ndarray, xs, ys) -> np.ndarray:
    vertices = np.column_stack([[*xs, xs[0]], [*ys, ys[0]]])
    return MplPath(vertices, closed=True).contains_points(points)


def ray_casting(points: np.ndarray, xs, ys) -> np.ndarray:
    """The textbook even-odd test, one point and one edge at a time."""
    out = []
    for px, py in points:
        inside = False
        for i in range(len(xs)):
            x0, y0, x1, y1 = xs[i], ys[i], xs[(i + 1) % len(xs)], ys[(i + 1) % len(xs)]
            if (y0 > py) != (y1 > py) and px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
        out.append(inside)
    return np.array(out)


@pytest.fixture
def points():
    return np.random.default_rng(3).uniform(0, 1, size=(4000, 2))


@pytest.mark.parametrize("name", list(SHAPES))
def test_a_lasso_holds_exactly_the_points_inside_it(points, name):
    xs, ys = SHAPES[name]
    got = lasso.inside_polygon(points, xs, ys)
    expected = matplotlib_inside(points, xs, ys)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, ray_casting(points, xs, ys))
    assert 0 < got.sum() < len(points)


def test_hand_counted_points_of_the_concave_and_the_touching_shapes():
    probes = np.array([[0.2, 0.5], [0.6, 0.5], [0.6, 0.2], [0.6, 0.8], [0.95, 0.5],  # C: arm, gap, arms, out
                       [0.3, 0.3], [0.7, 0.7], [0.3, 0.7], [0.7, 0.3]])  # touching squares: in, in, out, out
    assert lasso.inside_polygon(probes[:5], *C_SHAPE).tolist() == [True, False, True, True, False]
    assert lasso.inside_polygon(probes[5:], *TOUCHING).tolist() == [True, True, False, False]


def test_a_box_includes_its_edges_and_shapes_add_up():
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [1.5, 0.5], [3.0, 3.0]])
    assert lasso.inside_box(pts, [1.0, 0.0], [0.0, 1.0]).tolist() == [True, True, True, False, False]
    rows = lasso.selected_rows(pts, lassos=[([2.5, 3.5, 3.0], [2.5, 2.5, 3.5])], boxes=[([1.0, 0.0], [0.0, 1.0])])
    assert rows.tolist() == [0, 1, 2, 4] and rows.dtype == np.int64
    assert lasso.inside_polygon(pts, [0, 1], [0, 1]).tolist() == [False] * 5  # two vertices: no inside


def test_bad_shapes_are_clear_errors():
    with pytest.raises(CurationError, match="as many x as y"):
        lasso.inside_polygon(np.zeros((1, 2)), [0, 1, 2], [0, 1])
    with pytest.raises(CurationError, match="not a finite number"):
        lasso.inside_polygon(np.zeros((1, 2)), [0, 1, float("nan")], [0, 1, 2])
    with pytest.raises(CurationError, match="two corners"):
        lasso.inside_box(np.zeros((1, 2)), [0, 1, 2], [0, 1, 2])


def test_an_event_resolves_against_every_point_not_only_the_reported_ones(points):
    # the chart drew (and reported) two points; the lasso holds many more of the map's points
    event = SimpleNamespace(selection={"points": [{"customdata": 0}, {"customdata": 1}],
                                       "lasso": [{"xref": "x", "yref": "y", "x": STAR[0], "y": STAR[1]}],
                                       "box": [{"xref": "x", "yref": "y", "x": [0.0, 0.05], "y": [0.0, 0.05]}]})
    expected = matplotlib_inside(points, *STAR) | (points <= 0.05).all(axis=1)
    assert map_selection.rows_of_event(event, None, points) == np.flatnonzero(expected).tolist()
    assert map_selection.rows_of_event(event, None) == [0, 1]  # without coordinates: the reported points


def test_the_drawn_sample_keeps_every_group_and_is_deterministic():
    rng = np.random.default_rng(0)
    colour = rng.choice(["common", "rare", None], p=[0.995, 0.004, 0.001], size=60_000).astype(object)
    colour[:3] = "tiny"  # a group of three points
    groups = map_figure.colour_groups(colour, continuous=False)
    rows = map_figure.drawn_rows(groups, 5000, min_per_group=100)
    assert np.array_equal(rows, map_figure.drawn_rows(groups, 5000, min_per_group=100))
    assert np.all(np.diff(rows) > 0) and len(rows) <= 5000 + 3 * 100
    drawn = colour[rows]
    assert (drawn == "tiny").sum() == 3  # all of a group smaller than the floor
    for label in ("rare", None):
        total = sum(1 for v in colour if v == label)
        assert sum(1 for v in drawn if v == label) == min(total, 100)  # the floor, not its share (~20 or 5)
    assert np.array_equal(map_figure.drawn_rows(groups[:4000], 5000), np.arange(4000))  # small: all drawn


def test_a_200k_map_stays_under_10_mb_and_draws_every_colour(tmp_path):
    n = 200_000
    rng = np.random.default_rng(1)
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    rows = [json.loads(line) for line in DOLLY.read_text(encoding="utf-8").splitlines()[:2000]]
    labels = np.array(map_colours.plots.hover_texts([r["instruction"] for r in rows],
                                                    [r["output"] for r in rows]), dtype=object)
    colours = {"colour": np.array([f"source {i % 7}" for i in range(n)], dtype=object), "colour_label": "source"}
    asked = []

    def hover_of(drawn):
        asked.append(len(drawn))
        return labels[np.asarray(drawn) % len(labels)].tolist()

    figure, drawn = map_figure.pool_map_figure(coords, colours, hover_of)
    assert asked == [len(drawn)] and len(drawn) <= map_figure.MAX_DRAWN + 7 * map_figure.MIN_PER_GROUP
    size = len(figure.to_json())
    assert size < 10_000_000, f"{size / 1e6:.1f} MB"
    assert figure.data[0].type == "heatmap" and int(np.nansum(np.expm1(figure.data[0].z))) == pytest.approx(n, 1e-3)
    names = [t.name for t in figure.data[1:]]
    assert names == [f"source {i}" for i in range(7)]
    for trace in figure.data[1:]:
        np.testing.assert_array_equal(trace.x, coords[trace.customdata, 0])


def test_the_pool_version_and_the_cached_points_follow_an_import(tmp_path, ws):
    from pages import _explore_data as data

    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 30)))
    first = samples.version(ws)
    points = data.pool_points(str(ws.root), first)
    assert points.ids == samples.ids(ws) and len(points.texts) == 30
    assert data.pool_points(str(ws.root), first) is points  # cached: a rerun reads nothing
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "b.jsonl", 50)))
    second = samples.version(ws)
    assert second != first
    grown = data.pool_points(str(ws.root), second)
    assert grown.ids == samples.ids(ws) and len(grown.ids) == 50 and grown.ids[:30] == points.ids
    assert set(grown.texts["source"]) == {"a.jsonl", "b.jsonl"}
    # kept in one array file per pool version (the older one removed), equal to the samples table
    files = sorted((ws.root / map_figure.POINTS_DIR).glob("*.npz"))
    assert [f.name for f in files] == [second.replace(":", "-") + ".npz"]
    rows = ws.query("SELECT rowid, id, response_chars FROM samples ORDER BY rowid")
    reread = map_figure.pool_points(ws)  # from the file this time
    assert reread.rowids.tolist() == [r[0] for r in rows] and reread.ids == [r[1] for r in rows]
    assert reread.texts["response_chars"].tolist() == [r[2] for r in rows]
    assert reread.texts["source"].tolist() == grown.texts["source"].tolist() and reread.index.get_loc(rows[7][1]) == 7
    assert map_figure.maps_stamp(ws) == ()
    (ws.root / "maps" / "k1").mkdir(parents=True)
    (ws.root / "maps" / "k1" / "meta.json").write_text("{}")
    assert [name for name, _ in map_figure.maps_stamp(ws)] == ["k1"]


def test_hover_labels_are_read_for_the_drawn_rows_only_in_their_order(tmp_path, ws):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"instruction": f"q{i} <b>", "input": "", "output": f"a{i}"}) + "\n"
                            for i in range(6)))
    importer.import_source(ws, str(path))
    points = map_figure.pool_points(ws)
    labels = map_figure.hover_of_rows(ws, points.rowids[[4, 1]])
    assert labels == ["<b>Instruction</b><br>q4 &lt;b&gt;<br><b>Response</b><br>a4",
                      "<b>Instruction</b><br>q1 &lt;b&gt;<br><b>Response</b><br>a1"]
