"""The Review page's queue mapping and session (curation.services.review_queue), on a small real pool; expected
filters are written out by hand and samples are checked against the workspace's own decision log."""

from __future__ import annotations

import pytest

from curation.services import browse, review_queue
from curation.workspace import decisions, runs, samples


@pytest.fixture(scope="module")
def pool(dolly_workspace):
    return dolly_workspace(20)


def test_offered_queues_depend_on_what_exists():
    assert review_queue.offered(has_runs=False, has_data_filter=False, has_map_selection=False) == ["pool"]
    assert review_queue.offered(has_runs=True, has_data_filter=False, has_map_selection=False) == ["selected", "pool"]
    assert review_queue.offered(has_runs=True, has_data_filter=True, has_map_selection=True) == [
        "selected", "pool", "data", "map"]
    assert review_queue.offered(has_runs=False, has_data_filter=False, has_map_selection=True) == ["pool", "map"]


def test_each_queue_maps_to_its_filter_undecided_by_default():
    data = browse.Filter(text="water", sources=("a.jsonl",))
    assert review_queue.scope("selected", redo=False) == browse.Filter(any_run=True, statuses=("pending",))
    assert review_queue.scope("pool", redo=False) == browse.Filter(statuses=("pending",))
    assert review_queue.scope("data", redo=False, data_filter=data) == browse.Filter(
        text="water", sources=("a.jsonl",), statuses=("pending",))
    assert review_queue.scope("map", redo=False, map_ids=["b", "a"]) == browse.Filter(ids=("b", "a"),
                                                                                     statuses=("pending",))
    assert review_queue.scope("map", redo=False, map_ids=None) == browse.Filter(ids=(), statuses=("pending",))
    assert review_queue.scope("data", redo=False) == browse.Filter(statuses=("pending",))  # no Data filter yet


def test_re_review_and_a_data_filter_naming_decisions_keep_decided_samples():
    assert review_queue.scope("pool", redo=True) == browse.Filter()
    assert review_queue.scope("selected", redo=True) == browse.Filter(any_run=True)
    rejected = browse.Filter(statuses=("rejected",))
    assert review_queue.scope("data", redo=False, data_filter=rejected) == rejected
    with pytest.raises(ValueError, match="unknown review queue"):
        review_queue.scope("elsewhere", redo=False)


def test_skipped_samples_leave_the_queue_filter_only():
    flt = browse.Filter(statuses=("pending",))
    assert review_queue.without_skipped(flt, ["x", "y"]) == browse.Filter(statuses=("pending",),
                                                                         exclude_ids=("x", "y"))


def test_progress_counts_decided_against_the_scope():
    done = review_queue.progress({"pending": 6, "approved": 3, "rejected": 1, "pinned": 4})
    assert (done.decided, done.in_scope, done.fraction, done.text) == (4, 10, 0.4, "4 of 10 decided")
    assert review_queue.progress({"pending": 0, "approved": 0, "rejected": 0}).fraction == 0.0


def test_session_decides_skips_and_undoes_like_the_page(dolly_workspace):
    pool = dolly_workspace(8)
    ids = samples.ids(pool)
    state: dict = {}
    session = review_queue.Session(state)
    flt = review_queue.scope("pool", redo=False)
    assert session.current(pool, review_queue.without_skipped(flt, session.skipped)) == ids[0]
    session.act(pool, "approve", ids[0], 1, reason="  good  ")
    session.act(pool, "skip", ids[1], 2)
    session.act(pool, "reject", ids[2], 3)
    assert decisions.state(pool, ids[0]).status == "approved" and decisions.state(pool, ids[0]).reason == "good"
    assert decisions.state(pool, ids[2]).reason == "review"  # an empty reason names the page
    assert decisions.state(pool, ids[1]).status == "pending"
    assert (session.skipped, session.reviewed) == ([ids[1]], 2)
    queue = review_queue.without_skipped(flt, session.skipped)
    assert session.current(pool, queue) == ids[3]  # after the cursor (row 3), skipping the skipped one

    assert session.undo(pool) == [ids[2]]  # the rejection, shown again
    assert decisions.state(pool, ids[2]).status == "pending" and session.current(pool, queue) == ids[2]
    assert session.reviewed == 1
    assert session.undo(pool) is None  # the skip comes back
    assert session.skipped == [] and state[review_queue.CURRENT] == ids[1]
    session.choose_queue("pool", False)
    session.choose_queue("map", False)  # another queue starts from its beginning
    assert state[review_queue.CURSOR] == 0 and review_queue.CURRENT not in state


def test_undo_after_a_refresh_takes_back_the_last_human_decision(dolly_workspace):
    pool = dolly_workspace(5)
    ids = samples.ids(pool)
    review_queue.Session({}).act(pool, "approve", ids[4], 5)
    fresh = review_queue.Session({})  # a new browser session: no history, the decision is in the workspace
    assert fresh.undo(pool) == [ids[4]] and decisions.state(pool, ids[4]).status == "pending"


def test_the_selected_queue_walks_a_runs_picks_in_row_order(pool):
    ids = samples.ids(pool)
    run_id = runs.create(pool, name="r", method="kcenter", config={}, budget={}, seed=0)
    runs.add_iteration(pool, run_id, 0, [ids[9], ids[3], ids[15]])
    decisions.record(pool, [ids[3]], "approve")
    flt = review_queue.scope("selected", redo=False)
    assert browse.matching_ids(pool, flt) == [ids[9], ids[15]]
    session = review_queue.Session({})
    assert session.current(pool, flt) == ids[9]


def test_two_tabs_undo_only_their_own_decisions(dolly_workspace):
    pool = dolly_workspace(6)
    ids = samples.ids(pool)
    one, two = review_queue.Session({}, actor="app:one"), review_queue.Session({}, actor="app:two")
    one.act(pool, "approve", ids[0], 1)
    two.act(pool, "reject", ids[1], 2)  # later, in another tab
    assert one.undo_preview(pool, now=decisions.events(pool)[-1].time + 125).startswith(
        "Undo: approve of 1 sample, 2 minutes ago")
    assert one.undo(pool) == [ids[0]]
    assert decisions.state(pool, ids[1]).status == "rejected"  # the other tab's decision stands
    assert [e.actor for e in decisions.events(pool)] == ["app:one", "app:two", "app:one"]
    assert one.undo_preview(pool) == "Nothing of this tab's to undo."
    one.act(pool, "skip", ids[2], 3)
    assert one.undo_preview(pool) == "Undo: the last skip."


def test_app_actor_ids_are_sanitised():
    assert review_queue.app_actor("3f9a1c2b") == "app:3f9a1c2b"
    assert review_queue.app_actor('<b>x</b>"; DROP') == "app:bxbDROP"
    assert review_queue.app_actor("") == "app:unknown"
    assert review_queue.app_actor("a" * 100) == "app:" + "a" * 32
