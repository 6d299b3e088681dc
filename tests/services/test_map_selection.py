"""The Explore map's selection helpers (curation.services.map_selection) with hand-built chart events."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from curation.services import map_selection
from curation.workspace.runs import Iteration


def event(points):
    return SimpleNamespace(selection={"points": points})


def test_rows_of_event_reads_customdata_or_the_traces_index():
    figure = SimpleNamespace(data=[SimpleNamespace(customdata=[7, 8, 9]), SimpleNamespace(customdata=[3, 4])])
    assert map_selection.rows_of_event(event([{"customdata": 5}, {"customdata": [2]}, {"customdata": 5}]),
                                       figure) == [2, 5]
    assert map_selection.rows_of_event(event([{"curve_number": 1, "point_index": 1},
                                              {"curve_number": 0, "point_number": 2}]), figure) == [4, 9]
    assert map_selection.rows_of_event(event([]), figure) is None
    assert map_selection.rows_of_event(None, figure) is None
    assert map_selection.rows_of_event(SimpleNamespace(selection=None), figure) is None


def test_selected_rows_and_length_series():
    ids = ["a", "b", "c", "d"]
    rows = map_selection.selected_rows(ids, ["c", "gone", "", "a"])
    assert rows.tolist() == [2, 0] and rows.dtype == np.int64
    lengths = np.array([10, 20, 30, 40])
    its = [Iteration(1, 0, ["d"], {}, "", "", 0.0), Iteration(1, 1, ["d", "b", "zz"], {}, "", "", 0.0)]
    series = map_selection.length_series(lengths, ids, selection=rows, run_id=1, iterations=its, shown=[1])
    assert {k: v.tolist() for k, v in series.items()} == {"pool": [10, 20, 30, 40], "map selection": [30, 10],
                                                          "run 1 iteration 1": [40, 20]}
    assert list(map_selection.length_series(lengths, ids, selection=np.array([], np.int64))) == ["pool"]


def test_summary_tiles_caption_and_the_missing_map_note():
    tiles = map_selection.summary_tiles({"pending": 1200, "approved": 3, "rejected": 0}, 4.25, None)
    assert tiles == [("Pending", "1,200"), ("Approved", "3"), ("Rejected", "0"), ("Vendi (selection)", "4.2"),
                     ("Vendi (pool)", "n/a")]
    assert map_selection.map_caption(1500, {"method": "umap", "field": "text", "seconds": 12.4}, preview=True) == (
        "1,500 samples · UMAP preview of text embeddings · computed in 12 s")
    assert map_selection.map_caption(9, {"method": "pca", "seconds": 0.2}, preview=False).startswith(
        "9 samples · PCA (too few samples for UMAP) of text")
    assert "300 samples then, 301 now" in map_selection.missing_map_note([{"n": 300}], 301)
    assert map_selection.missing_map_note([], 5).startswith("No map of this pool yet")


def test_a_lasso_becomes_the_selection_once_and_clearing_sticks():
    state: dict = {}
    ids = ["a", "b", "c"]
    map_selection.take_event(state, [0, 2], ids)
    assert state[map_selection.SELECTION] == ["a", "c"]
    map_selection.clear(state)
    assert state[map_selection.SELECTION] == [] and state[map_selection.GENERATION] == 1
    map_selection.take_event(state, None, ids)
    assert state[map_selection.SELECTION] == []
    map_selection.take_event(state, [1], ids)
    map_selection.take_event(state, [1], ids)  # the same event on a rerun
    assert state[map_selection.SELECTION] == ["b"]
    state[map_selection.SELECTION] = ["a"]  # e.g. set by a test or another page
    map_selection.take_event(state, [1], ids)  # the chart still reports the old lasso: nothing changes
    assert state[map_selection.SELECTION] == ["a"]
