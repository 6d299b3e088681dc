"""The Data page's filter form as values (curation.services.filter_form): options, labels, id intersections and
the Filter built from widget values, written out by hand; plus the built filter's matches against pandas."""

from __future__ import annotations

from curation.services import browse, filter_form
from curation.workspace import runs, samples

RUNS = [(4, "run 4: b (kcenter, done)", [0, 1]), (2, "run 2: a (random, done)", [0])]


def test_run_options_and_their_labels():
    options, its = filter_form.run_options(RUNS)
    assert options == [("all", None), ("any", None), ("not_any", None), ("in", 4), ("not_in", 4), ("in", 2),
                       ("not_in", 2)]
    assert its == {4: [0, 1], 2: [0]}
    assert filter_form.run_options([]) == ([("all", None)], {})
    labels = {run_id: label for run_id, label, _ in RUNS}
    assert [filter_form.run_option_label(o, labels) for o in options[:5]] == [
        "any sample", "selected by any run", "not selected by any run", "selected by run 4: b (kcenter, done)",
        "not selected by run 4: b (kcenter, done)"]


def test_intersections_of_id_sets():
    assert filter_form.intersect([None, None]) is None
    assert filter_form.intersect([["c", "a"], None]) == ("a", "c")
    assert filter_form.intersect([["c", "a", "b"], ["b", "c", "d"], None]) == ("b", "c")
    assert filter_form.intersect([["a"], ["b"]]) == ()


def test_the_filter_the_values_describe():
    # "any sample" leaves in_selection False: without a run it restricts nothing (the whole pool)
    unrestricted = filter_form.build_filter(bounds=(3, 900), length=(3, 900))
    assert unrestricted == browse.Filter(in_selection=False) and unrestricted.describe() == "the whole pool"
    assert filter_form.build_filter(
        text="water", sources=["s.jsonl"], statuses=["approved"], length=(10, 900), bounds=(3, 900),
        pinned="not pinned", decided_by=["human"], exact=True, run=("not_in", 4), iteration=1, ids=("x",),
    ) == browse.Filter(text="water", sources=("s.jsonl",), statuses=("approved",), min_response_chars=10,
                       pinned=False, decided_by=("human",), exact_duplicates=True, run_id=4, iteration=1,
                       in_selection=False, ids=("x",))
    assert filter_form.build_filter(run=("any", None), length=(3, 50), bounds=(3, 900)) == browse.Filter(
        any_run=True, max_response_chars=50)
    assert filter_form.build_filter(run=("not_any", None)) == browse.Filter(any_run=True, in_selection=False)
    assert filter_form.build_filter(run=("in", 2), pinned="pinned") == browse.Filter(run_id=2, pinned=True)


def test_a_built_filter_matches_what_pandas_finds(dolly_workspace):
    ws = dolly_workspace(60)
    frame = samples.frame(ws)
    ids = samples.ids(ws)
    run_id = runs.create(ws, name="r", method="kcenter", config={}, budget={}, seed=0)
    runs.add_iteration(ws, run_id, 0, ids[:30])
    lo, hi = int(frame["response_chars"].min()), int(frame["response_chars"].max())
    flt = filter_form.build_filter(length=(200, hi), bounds=(lo, hi), run=("in", run_id))
    expected = frame[(frame["response_chars"] >= 200) & frame["id"].isin(ids[:30])]["id"].tolist()
    assert browse.matching_ids(ws, flt) == expected and 0 < len(expected) < 30
