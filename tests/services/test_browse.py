"""Server-side browsing (curation.services.browse) against pandas filtering of the whole pool as the reference."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

from curation.errors import CurationError
from curation.formats import demo, importer
from curation.services import browse, sample_view
from curation.workspace import decisions, runs, samples
from tests.shared_data import DOLLY, write_jsonl_head


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Two sources (a Dolly slice and the demo pool), decisions of every kind, and a run with 2 iterations."""
    from curation.workspace import Workspace

    root = tmp_path_factory.mktemp("browse")
    ws = Workspace(root / "ws")
    importer.import_source(ws, write_jsonl_head(DOLLY, root / "dolly.jsonl", 600))
    demo.import_demo(ws)
    ids = samples.ids(ws)
    rng = random.Random(7)
    picked = rng.sample(ids, 200)
    decisions.record(ws, picked[:60], "approve")
    decisions.record(ws, picked[60:110], "reject")
    decisions.record(ws, picked[110:140], "reject", origin="dedup")
    decisions.record(ws, picked[100:160], "pin")
    decisions.undo_last(ws, origin="human")  # takes the pin back
    decisions.record(ws, picked[150:170], "pin")
    run_id = runs.create(ws, name="k", method="k_center", config={}, budget={"kind": "samples", "value": 50},
                         seed=0)
    first, second = rng.sample(ids, 40), rng.sample(ids, 50)
    runs.add_iteration(ws, run_id, 0, first)
    runs.add_iteration(ws, run_id, 1, second)
    frame = samples.frame(ws)
    origin = {sid: st.origin for sid, st in decisions.states(ws).items()}
    frame["origin"] = frame["id"].map(origin).fillna("")
    yield ws, frame, run_id, first, second
    ws.close()


def reference(frame: pd.DataFrame, flt: browse.Filter, selections: dict) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    for term in flt.text.split():
        if flt.match == "words" and re.fullmatch(r"[^\W_]+", term):  # a whole word, by Python's tokenizing
            word = term.lower()
            keep &= (frame["prompt"] + " " + frame["response"]).map(
                lambda text, word=word: word in re.findall(r"[^\W_]+", text.lower()))
        else:
            keep &= (frame["prompt"].str.contains(term, case=False, regex=False)
                     | frame["response"].str.contains(term, case=False, regex=False))
    if flt.sources:
        keep &= frame["source"].isin(flt.sources)
    if flt.min_response_chars is not None:
        keep &= frame["response_chars"] >= flt.min_response_chars
    if flt.max_response_chars is not None:
        keep &= frame["response_chars"] <= flt.max_response_chars
    if flt.statuses:
        keep &= frame["status"].isin(flt.statuses)
    if flt.pinned is not None:
        keep &= frame["pinned"] == flt.pinned
    if flt.decided_by:
        keep &= frame["origin"].isin(flt.decided_by)
    if flt.exact_duplicates:
        keep &= frame["dup_count"] > 1
    chosen = None
    if flt.run_id is not None:
        chosen = selections[flt.iteration if flt.iteration is not None else max(selections)]
    elif flt.any_run:
        chosen = set().union(*selections.values())
    if chosen is not None:
        member = frame["id"].isin(set(chosen))
        keep &= member if flt.in_selection else ~member
    if flt.ids is not None:
        keep &= frame["id"].isin(set(flt.ids))
    if flt.exclude_ids:
        keep &= ~frame["id"].isin(set(flt.exclude_ids))
    return frame[keep].sort_values("row")


def random_filters(frame, run_id, n=60):
    rng = random.Random(3)
    sources = sorted(frame["source"].unique())
    words = ["the", "python", "capital", "what", "of the", "is", "zzz-nothing", "100%", "a_b"]
    out = [browse.Filter()]
    for _ in range(n):
        kw = {}
        if rng.random() < 0.4:
            kw["text"] = rng.choice(words)
            kw["match"] = rng.choice(["words", "substring"])
        if rng.random() < 0.3:
            kw["sources"] = (rng.choice(sources),)
        if rng.random() < 0.3:
            kw["min_response_chars"] = rng.choice([0, 50, 200])
        if rng.random() < 0.3:
            kw["max_response_chars"] = rng.choice([100, 400, 2000])
        if rng.random() < 0.4:
            kw["statuses"] = tuple(rng.sample(browse.STATUSES, rng.randint(1, 2)))
        if rng.random() < 0.2:
            kw["pinned"] = rng.random() < 0.5
        if rng.random() < 0.15:
            kw["decided_by"] = ("dedup",)
        if rng.random() < 0.15:
            kw["exact_duplicates"] = True
        if rng.random() < 0.3:
            kw.update(run_id=run_id, iteration=rng.choice([None, 0, 1]), in_selection=rng.random() < 0.7)
        elif rng.random() < 0.15:
            kw.update(any_run=True, in_selection=rng.random() < 0.7)
        if rng.random() < 0.15:
            kw["ids"] = tuple(rng.sample(list(frame["id"]), 100))
        if rng.random() < 0.15:
            kw["exclude_ids"] = tuple(rng.sample(list(frame["id"]), 100))
        out.append(browse.Filter(**kw))
    return out


def test_counts_ids_and_status_counts_match_pandas(pool):
    ws, frame, run_id, first, second = pool
    selections = {0: first, 1: second}
    nonempty = 0
    # filters on decisions alone are answered from sample_state (which also holds pending rows: pins undone)
    state_only = [browse.Filter(statuses=st, pinned=p, decided_by=d)
                  for st in ((), ("pending",), ("approved", "rejected"), ("rejected",), ("pending", "approved"))
                  for p in (None, True, False) for d in ((), ("dedup",), ("human", "dedup"))]
    for flt in state_only + random_filters(frame, run_id):
        ref = reference(frame, flt, selections)
        assert browse.count(ws, flt) == len(ref), flt
        assert browse.matching_ids(ws, flt) == ref["id"].tolist(), flt
        by_status = browse.status_counts(ws, flt)
        for status in browse.STATUSES:
            assert by_status[status] == int((ref["status"] == status).sum()), (flt, status)
        assert by_status["pinned"] == int(ref["pinned"].sum())
        nonempty += len(ref) > 0
    assert nonempty > 30  # the random filters are not all trivially empty


@pytest.mark.parametrize("order,columns,ascending", [
    ("row", ["row"], [True]),
    ("longest response", ["response_chars", "row"], [False, True]),
    ("shortest response", ["response_chars", "row"], [True, True]),
    ("most duplicated", ["dup_count", "row"], [False, True]),
])
def test_pages_follow_the_order_and_tile_the_matches(pool, order, columns, ascending):
    ws, frame, *_ = pool
    flt = browse.Filter(statuses=("pending",), min_response_chars=20)
    ref = reference(frame, flt, {}).sort_values(columns, ascending=ascending)
    pages = [browse.page(ws, flt, offset=offset, limit=97, order=order) for offset in range(0, len(ref) + 97, 97)]
    got = pd.concat(pages)
    assert got["id"].tolist() == ref["id"].tolist()
    first = pages[0].iloc[0]
    full = frame.set_index("id").loc[first["id"]]
    assert first["prompt"] == full["prompt"][: browse.PREVIEW_CHARS]
    assert bool(first["pinned"]) == bool(full["pinned"])


def test_like_wildcards_are_literal(pool):
    ws, frame, *_ = pool
    for term in ("%", "_", "100%", "\\"):
        expected = int((frame["prompt"].str.contains(term, regex=False)
                        | frame["response"].str.contains(term, regex=False)).sum())
        assert browse.count(ws, browse.Filter(text=term)) == expected, term


def test_next_in_queue_walks_rows_and_wraps(pool):
    ws, frame, *_ = pool
    flt = browse.Filter(statuses=("rejected",))
    rows = reference(frame, flt, {})[["row", "id"]].values.tolist()
    assert browse.next_in_queue(ws, flt) == rows[0][1]
    middle = rows[len(rows) // 2]
    after = next(sid for row, sid in rows if row > middle[0])
    assert browse.next_in_queue(ws, flt, after_row=middle[0]) == after
    assert browse.next_in_queue(ws, flt, after_row=rows[-1][0]) == rows[0][1]  # wraps to the start
    assert browse.next_in_queue(ws, browse.Filter(text="zzz-nothing")) is None


def test_detail_knows_runs_occurrences_and_history(pool):
    ws, frame, run_id, first, second = pool
    for sid in [s for s in second if s in first][:1] + second[7:8]:
        d = sample_view.detail(ws, sid)
        assert d.record.id == sid
        expected = [(run_id, 0, first.index(sid) + 1)] if sid in first else []
        assert d.selected_by == expected + [(run_id, 1, second.index(sid) + 1)]
    assert sample_view.detail(ws, next(s for s in frame["id"] if s not in first + second)).selected_by == []
    duplicated = frame[frame["dup_count"] > 1]["id"].iloc[0]
    assert len(sample_view.detail(ws, duplicated).occurrences) == frame.set_index("id").loc[duplicated, "dup_count"]
    pinned_then_undone = sample_view.detail(ws, frame[frame["origin"] == "dedup"]["id"].iloc[0])
    assert [e.action for e in pinned_then_undone.history][0] == "reject"
    with pytest.raises(CurationError, match="no sample"):
        sample_view.detail(ws, "0" * 16)


def test_review_default_and_widget_helpers(pool):
    ws, frame, run_id, *_ = pool
    assert browse.review_default(ws) == browse.Filter(statuses=("pending",), any_run=True)
    assert browse.sources(ws) == frame["source"].value_counts().to_dict()
    assert browse.response_length_bounds(ws) == (frame["response_chars"].min(), frame["response_chars"].max())
    assert set(browse.decided_by_values(ws)) == {"human", "dedup"}
    assert browse.run_choices(ws)[0][0] == run_id and browse.run_choices(ws)[0][2] == [0, 1]
    with pytest.raises(CurationError, match="unknown decision status"):
        browse.Filter(statuses=("maybe",))
    with pytest.raises(CurationError, match="unknown order"):
        browse.page(ws, order="random")


def test_empty_workspace(ws):
    assert browse.count(ws) == 0
    assert browse.review_default(ws) == browse.Filter(statuses=("pending",))
    assert browse.next_in_queue(ws, browse.Filter()) is None
    assert browse.page(ws).empty
    assert browse.response_length_bounds(ws) == (0, 0)


def test_version_changes_with_samples_decisions_and_runs(ws, tmp_path):
    seen = [browse.version(ws)]
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 20))
    seen.append(browse.version(ws))
    decisions.record(ws, samples.ids(ws)[:2], "approve")
    seen.append(browse.version(ws))
    decisions.undo_last(ws)
    seen.append(browse.version(ws))
    run_id = runs.create(ws, name="r", method="random", config={}, budget={}, seed=0)
    seen.append(browse.version(ws))
    runs.add_iteration(ws, run_id, 0, samples.ids(ws)[:3])
    seen.append(browse.version(ws))
    runs.set_status(ws, run_id, "done")
    seen.append(browse.version(ws))
    assert len(set(seen)) == len(seen)
    assert browse.version(ws) == seen[-1]  # and stable while nothing changes
