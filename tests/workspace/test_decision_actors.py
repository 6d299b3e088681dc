"""Every decision and undo names its actor; undo takes back the actor's own last decision by default."""

from __future__ import annotations

import time

import pytest

from curation.workspace import decisions, samples


@pytest.fixture
def pool(dolly_workspace):
    return dolly_workspace(12)


def _statuses(ws, ids):
    return [decisions.state(ws, s).status for s in ids]


def test_undo_takes_back_the_same_actors_last_decision(pool):
    ids = samples.ids(pool)
    decisions.record(pool, ids[:3], "approve", actor="cli:ana")
    decisions.record(pool, ids[3:5], "reject", actor="app:tab1")  # later, in the app
    assert decisions.undo_last(pool, actor="cli:ana") == sorted(ids[:3])  # the CLI's own, not the app's later one
    assert _statuses(pool, ids[:5]) == ["pending"] * 3 + ["rejected"] * 2
    assert decisions.undo_last(pool, actor="cli:ana") == []  # nothing else of cli:ana's
    assert decisions.undo_last(pool, actor="app:tab2") == []  # another tab's decisions are not its own
    decisions.record(pool, [ids[6]], "pin", actor="app:tab2")
    assert decisions.undo_last(pool) == [ids[6]]  # actor None: the most recent of anyone
    assert decisions.undo_last(pool) == sorted(ids[3:5])
    assert _statuses(pool, ids[:7]) == ["pending"] * 7 and not decisions.state(pool, ids[6]).pinned


def test_each_event_records_who_made_it(pool):
    ids = samples.ids(pool)
    decisions.record(pool, [ids[0]], "approve", actor="cli:ana")
    decisions.record(pool, [ids[1]], "reject", origin="dedup")
    decisions.record(pool, [ids[2]], "reject", origin="method:kcenter")
    decisions.undo_last(pool, actor="cli:ana", by="app:tab9")
    actors = [(e.sample_id, e.action, e.actor) for e in decisions.events(pool)]
    assert actors == [(ids[0], "approve", "cli:ana"), (ids[1], "reject", "dedup"),
                      (ids[2], "reject", "method:kcenter"), (ids[0], "undo", "app:tab9")]
    assert decisions.undo_last(pool, origin="dedup") == [ids[1]]
    assert decisions.events(pool, ids[1])[-1].actor == "dedup"  # an undo by default names the actor it serves


def test_pending_undo_says_what_an_undo_will_revert(pool):
    ids = samples.ids(pool)
    assert decisions.pending_undo(pool, actor="app:t") is None
    before = time.time()
    decisions.record(pool, ids[:12], "approve", actor="app:t")
    decisions.record(pool, [ids[0]], "pin", actor="cli:bo")
    pending = decisions.pending_undo(pool, actor="app:t")
    assert pending is not None and (pending.action, pending.samples, pending.actor) == ("approve", 12, "app:t")
    assert before <= pending.time <= time.time()
    assert decisions.pending_undo(pool).action == "pin"  # anyone's: the newest
    decisions.undo_last(pool, actor="app:t")
    assert decisions.pending_undo(pool, actor="app:t") is None
