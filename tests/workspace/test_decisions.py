"""The decision log: fold semantics against a hand-written reference, undo/redo, bulk undo, state cache."""

from __future__ import annotations

import json
import random
import time

import pytest

from curation.errors import CurationError
from curation.records import record_to_json, single_turn
from curation.workspace import decisions
from curation.workspace.decisions import Event, fold


def add_samples(ws, n: int) -> list[str]:
    ids = []
    with ws.transaction() as conn:
        imp = conn.execute("INSERT INTO imports(source, schema, rows_read, rows_imported, new_samples, duplicates,"
                           " skipped, problems, created) VALUES ('t', 'alpaca', 0, 0, 0, 0, 0, '{}', 0)").lastrowid
        for i in range(n):
            r = single_turn(f"question {i}", f"answer {i}")
            conn.execute("INSERT INTO samples(id, record, prompt, response, n_turns, prompt_chars, response_chars,"
                         " source, line, import_id, created) VALUES (?,?,?,?,1,?,?,'t',?,?,?)",
                         (r.id, json.dumps(record_to_json(r)), r.prompt, r.response, len(r.prompt),
                          len(r.response), i + 1, imp, time.time()))
            ids.append(r.id)
    return ids


def ev(i, action, undoes=None):
    return Event(i, "s", action, "human", "", undoes, None, 0.0)


def test_fold_by_hand():
    assert fold([]).status == "pending"
    assert fold([ev(1, "approve")]).status == "approved"
    assert fold([ev(1, "approve"), ev(2, "reject")]).status == "rejected"
    # undo of the reject restores the approve; undoing the undo (redo) brings the reject back
    assert fold([ev(1, "approve"), ev(2, "reject"), ev(3, "undo", 2)]).status == "approved"
    assert fold([ev(1, "approve"), ev(2, "reject"), ev(3, "undo", 2), ev(4, "undo", 3)]).status == "rejected"
    st = fold([ev(1, "pin"), ev(2, "approve"), ev(3, "clear")])
    assert (st.status, st.pinned) == ("pending", True)
    assert fold([ev(1, "pin"), ev(2, "unpin")]).pinned is False


def test_record_undo_and_state_cache(ws):
    a, b, c = add_samples(ws, 3)
    decisions.record(ws, [a], "approve")
    decisions.record(ws, [b], "reject", reason="off topic")
    decisions.record(ws, [a], "reject")
    assert decisions.state(ws, a).status == "rejected"
    assert decisions.undo_last(ws) == [a]
    assert decisions.state(ws, a).status == "approved"
    assert decisions.undo_last(ws) == [b]
    assert decisions.state(ws, b).status == "pending"
    assert decisions.undo_last(ws) == [a]
    assert decisions.state(ws, a).status == "pending"
    assert decisions.undo_last(ws) == []
    assert decisions.state(ws, c).status == "pending"
    # the log only grew: 3 actions + 3 undos
    assert len(decisions.events(ws)) == 6


def test_bulk_action_undoes_as_one(ws):
    ids = add_samples(ws, 50)
    decisions.record(ws, ids[:10], "approve")
    decisions.record(ws, ids, "reject", reason="bulk")
    assert decisions.counts(ws)["rejected"] == 50
    assert sorted(decisions.undo_last(ws)) == sorted(ids)
    counts = decisions.counts(ws)
    assert counts["approved"] == 10 and counts["rejected"] == 0 and counts["pending"] == 40


def test_unknown_sample_and_action_rejected(ws):
    (a,) = add_samples(ws, 1)
    with pytest.raises(CurationError, match="no sample"):
        decisions.record(ws, ["nope"], "approve")
    with pytest.raises(CurationError, match="unknown decision"):
        decisions.record(ws, [a], "delete")
    assert decisions.events(ws) == []


def test_random_histories_cache_equals_fold_of_log(ws):
    """Any interleaving of actions and undos: after every step the cached state (every field) equals a fresh
    fold of that sample's log."""
    ids = add_samples(ws, 8)
    rng = random.Random(0)
    for step in range(300):
        if rng.random() < 0.25:
            decisions.undo_last(ws)
        else:
            pick = rng.sample(ids, rng.randint(1, 3))
            decisions.record(ws, pick, rng.choice(["approve", "reject", "clear", "pin", "unpin"]),
                             origin=rng.choice(["human", "dedup"]), reason=f"why {step}")
        cached = decisions.states(ws)
        for sid in ids:
            assert cached.get(sid, decisions.State()) == fold(decisions.events(ws, sid)), (step, sid)
    before = {k: (v.status, v.pinned) for k, v in cached.items()}
    decisions.rebuild_state(ws)
    assert {k: (v.status, v.pinned) for k, v in decisions.states(ws).items()} == before


def test_undoing_a_bulk_action_on_fresh_and_on_decided_samples(ws):
    """The undo of a bulk action over samples with no other decision (folded in SQL) and over samples with a
    history (folded in Python) both leave the state a fresh fold of the log gives."""
    ids = add_samples(ws, 6)
    decisions.record(ws, ids[:2], "reject", reason="bad")
    decisions.record(ws, ids[:2], "pin")
    for action in ("approve", "pin", "reject"):
        decisions.record(ws, ids, action, reason=action)
        decisions.undo_last(ws)
        cached = decisions.states(ws)
        for sid in ids:
            assert cached.get(sid, decisions.State()) == fold(decisions.events(ws, sid))
        assert cached[ids[0]].status == "rejected" and cached[ids[0]].pinned and cached[ids[0]].reason == "bad"
        assert cached[ids[3]].status == "pending" and not cached[ids[3]].pinned
