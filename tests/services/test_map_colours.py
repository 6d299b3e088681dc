"""Colouring the Explore map (curation.services.map_colours) and its whole-pool reads (curation.workspace.views),
on a small pool with hand-made decisions, sources and a two-iteration run; expectations are written out per row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curation.formats import importer
from curation.services import map_colours
from curation.workspace import Workspace, decisions, runs, samples, views

ROWS = [("first question", "a short answer"), ("second <b>question</b>", "x" * 40), ("third", "ok"),
        ("fourth", "four"), ("fifth", "five five")]


@pytest.fixture
def pool(tmp_path):
    ws = Workspace(tmp_path / "ws")
    for name, rows in (("one.jsonl", ROWS[:3]), ("two.jsonl", ROWS[3:])):
        path = tmp_path / name
        path.write_text("".join(json.dumps({"instruction": p, "input": "", "output": r}) + "\n" for p, r in rows))
        importer.import_source(ws, str(path))
    yield ws
    ws.close()


def test_views_read_texts_and_states_in_row_order(pool):
    ids = samples.ids(pool)
    texts = views.map_texts(pool)
    assert texts["id"].tolist() == ids
    assert texts["prompt"].tolist() == [p for p, _ in ROWS] and texts["response"].tolist() == [r for _, r in ROWS]
    assert texts["response_chars"].tolist() == [14, 40, 2, 4, 9]
    assert [s.rsplit("/", 1)[-1] for s in texts["source"]] == ["one.jsonl"] * 3 + ["two.jsonl"] * 2
    decisions.record(pool, [ids[1]], "approve")
    decisions.record(pool, [ids[3]], "reject")
    decisions.record(pool, [ids[3], ids[4]], "pin")
    states = views.decision_states(pool)
    assert states["status"].tolist() == ["pending", "approved", "pending", "rejected", "pending"]
    assert states["pinned"].tolist() == [False, False, False, True, True]
    rowids = np.array([r[0] for r in pool.query("SELECT rowid FROM samples ORDER BY rowid")], np.int64)
    decided_only = views.decision_states(pool, rowids)  # reads the decided samples alone
    assert decided_only["status"].tolist() == states["status"].tolist()
    assert decided_only["pinned"].tolist() == states["pinned"].tolist()
    assert map_colours.decision_labels(states).tolist() == ["pending", "approved", "pending", "rejected, pinned",
                                                            "pending, pinned"]


def test_hover_frame_escapes_markup_and_names_sources_by_file(pool):
    frame = map_colours.hover_frame(pool)
    assert frame["source"].tolist() == ["one.jsonl"] * 3 + ["two.jsonl"] * 2
    assert frame["hover"][1] == ("<b>Instruction</b><br>second &lt;b&gt;question&lt;/b&gt;<br><b>Response</b><br>"
                                 + "x" * 40)


def test_colour_by_decision_source_and_cluster(pool):
    ids = samples.ids(pool)
    decisions.record(pool, [ids[0]], "reject")
    texts = map_colours.hover_frame(pool)
    kw = dict(texts=texts, clusters=[0, 1, 1, 0, 2], ids=ids)
    by_decision = map_colours.colour_values(pool, "decision", **kw)
    assert by_decision["colour"].tolist() == ["rejected", "pending", "pending", "pending", "pending"]
    assert by_decision["categories"] == ["pending", "rejected"]  # present ones, in the fixed order
    assert by_decision["colours"]["rejected"] == "#d9453d"
    assert map_colours.colour_values(pool, "source", **kw)["colour"].tolist() == ["one.jsonl"] * 3 + ["two.jsonl"] * 2
    assert map_colours.colour_values(pool, "cluster", **kw)["colour"].tolist() == [
        "cluster 0", "cluster 1", "cluster 1", "cluster 0", "cluster 2"]
    assert map_colours.colour_values(pool, "run", **kw) == {"colour": [None] * 5, "colour_label": ""}  # no run


@pytest.fixture
def run(pool):
    ids = samples.ids(pool)
    run_id = runs.create(pool, name="r", method="kcenter", config={}, budget={}, seed=0)
    scores = pd.DataFrame({"sample_id": ids, "row": range(5), "gain": [0.5, np.nan, 2.0, 1.0, 3.0],
                           "reason": ["r"] * 5})
    runs.add_iteration(pool, run_id, 0, [ids[2], ids[4]], scores=scores)
    runs.add_iteration(pool, run_id, 1, [ids[2], ids[4], ids[0]])
    return run_id


def test_first_selected_and_colour_by_iteration_or_selection(pool, run):
    ids = samples.ids(pool)
    its = runs.iterations(pool, run)
    np.testing.assert_array_equal(map_colours.first_selected(its, pd.Index(ids)), [1, np.nan, 0, np.nan, 0])
    kw = dict(texts=map_colours.hover_frame(pool), clusters=[0] * 5, ids=ids, run_id=run)
    added = map_colours.colour_values(pool, "iteration", **kw)
    assert added["colour"].tolist() == ["iteration 1", None, "iteration 0", None, "iteration 0"]
    assert added["categories"] == ["iteration 0", "iteration 1"] and added["missing_label"] == "never selected"
    at_0 = map_colours.colour_values(pool, "run", iteration=0, **kw)
    assert at_0["colour"].tolist() == [None, None, "selected", None, "selected"]
    last = map_colours.colour_values(pool, "run", iteration=None, **kw)  # no such iteration: the last one
    assert last["colour"].tolist() == ["selected", None, "selected", None, "selected"]


def test_colour_by_score_reads_the_iterations_components(pool, run):
    ids = samples.ids(pool)
    scores = map_colours.run_scores(pool, run, 0)
    assert map_colours.score_options(scores) == [map_colours.RESPONSE_LENGTH, "gain"]  # not "row", not text
    assert map_colours.score_options(None) == [map_colours.RESPONSE_LENGTH]
    assert map_colours.run_scores(pool, run, 1) is None  # that iteration saved no scores
    kw = dict(texts=map_colours.hover_frame(pool), clusters=[0] * 5, ids=ids, run_id=run, iteration=0)
    gain = map_colours.colour_values(pool, "score", score="gain", **kw)
    np.testing.assert_array_equal(gain["colour"], [0.5, np.nan, 2.0, 1.0, 3.0])
    assert gain["continuous"] and gain["colour_label"] == "gain"
    length = map_colours.colour_values(pool, "score", score=map_colours.RESPONSE_LENGTH, **kw)
    np.testing.assert_array_equal(length["colour"], [14, 40, 2, 4, 9])


def test_run_colours_are_offered_only_with_runs():
    assert map_colours.offered(False) == ["decision", "source", "cluster", "score"]
    assert map_colours.offered(True) == ["decision", "source", "cluster", "run", "iteration", "score"]
