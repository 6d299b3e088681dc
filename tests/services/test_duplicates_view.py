"""What the Duplicates page shows (curation.services.duplicates_view), on a hand-made scan: rows 0 and 1 the same
prompt, rows 2-3-4 a chain at cosine 0.98 (2~3), 0.96 (3~4), 0.94 (2~4), rows 5-9 alone; plus two more pairs
(5~6 at 0.99, 7~8 at 0.97) so that paging has something to page."""

from __future__ import annotations

import time

import numpy as np
import pytest

from curation.geometry import dedup
from curation.geometry.dedup_scan import SavedScan
from curation.services import duplicates_view as view

TEXTS = ["capital of France?", "capital of France?", "boil an egg", "boil eggs", "how to boil an egg",
         "write a poem", "write poems", "sort a list", "sort lists", "tie a knot"]
LENGTHS = np.array([5, 9, 3, 20, 7, 1, 2, 4, 4, 8])


def vectors() -> np.ndarray:
    X = np.eye(10, 16)
    X[1] = X[0]
    for a, b, cos, spare in ((2, 3, 0.98, 10), (3, 4, 0.96, 11), (5, 6, 0.99, 12), (7, 8, 0.97, 13)):
        X[b] = cos * X[a] + np.sqrt(1 - cos**2) * np.eye(16)[spare]
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def saved_scan(protected: list[int] = (), n_distinct: int = 0) -> SavedScan:
    X = vectors()
    mask = np.zeros(10, bool)
    mask[list(protected)] = True
    pool = dedup.PoolScan(ids=[f"id{k}" for k in range(10)], scan=dedup.scan(X, TEXTS, floor=0.9), X=X,
                          response_chars=LENGTHS, protected=mask)
    created = time.mktime((2026, 3, 4, 5, 6, 0, 0, 0, -1))
    return SavedScan(pool=pool, field="prompt", floor=0.9, near=True, created=created, stale=False,
                     n_distinct=n_distinct)


def test_preview_counts_plans_and_orders_the_groups():
    shown = view.preview(saved_scan(), 0.95, "longest")
    # groups: {0,1}, {2,3,4}, {5,6}, {7,8}; the longest response is kept in each (1, 3, 6, and 7 on a tie: first)
    assert [g.tolist() for g in shown.groups] == [[2, 3, 4], [0, 1], [5, 6], [7, 8]]
    assert [(d.row, d.keeper, d.exact) for d in shown.drops] == [(0, 1, True), (2, 3, False), (4, 3, False),
                                                                 (5, 6, False), (8, 7, False)]
    assert shown.by_row[4].cosine == pytest.approx(0.96, abs=1e-6)
    assert shown.tiles() == [("Groups", "4"), ("Samples in groups", "9"), ("Would be rejected", "5"),
                             ("Pairs", "5")]  # (0,1), (2,3), (3,4), (5,6), (7,8): 2~4 is 0.94
    first = view.preview(saved_scan(), 0.98, "first")  # the chain keeps only 2~3; 7~8 (0.97) is gone
    assert [g.tolist() for g in first.groups] == [[0, 1], [2, 3], [5, 6]]
    assert [d.row for d in first.drops] == [1, 3, 6]


def test_protected_samples_are_kept_and_labelled():
    saved = saved_scan(protected=[2])
    shown = view.preview(saved, 0.95, "longest")
    assert {d.row: d.keeper for d in shown.drops if d.row in (3, 4)} == {3: 2, 4: 2}
    protected = saved.pool.protected
    assert view.member_label(2, shown.by_row, protected) == ":blue[**protected**] · approved or pinned"
    assert view.member_label(3, shown.by_row, protected) == ":red[**drop**] · cosine 0.980 to the kept one"
    assert view.member_label(1, shown.by_row, protected) == ":green[**keep**]"
    assert view.member_label(0, shown.by_row, protected) == ":red[**drop**] · exact duplicate of the kept one"


def test_pages_of_groups_number_from_one_and_clamp():
    shown = view.preview(saved_scan(), 0.95, "longest")
    assert view.n_pages(4, 3) == 2 and view.n_pages(3, 3) == 1 and view.n_pages(0, 3) == 0
    second = shown.page(2, 3)
    assert [(g.number, g.rows, g.ids) for g in second] == [(4, [7, 8], ["id7", "id8"])]
    assert [g.number for g in shown.page(1, 3)] == [1, 2, 3]
    assert shown.page(9, 3) == second and shown.page(0, 3) == shown.page(1, 3)


def test_texts_the_page_shows():
    assert view.scan_caption(saved_scan()) == (
        "Scan of 10 samples (prompt, near and exact, floor 0.90) from 2026-03-04 05:06.")
    assert view.scan_caption(saved_scan(n_distinct=3)).endswith("05:06; 3 pairs marked keep-both.")
    assert view.confirm_text(1200, 3, 0.955, "first") == (
        "Reject 1,200 samples in 3 groups at cosine ≥ 0.955, keeping the first seen of each (approved and pinned "
        "samples are never rejected)? One undo takes it back.")
    assert (view.plural(1, "group"), view.plural(0, "group"), view.plural(2, "group")) == ("group", "groups",
                                                                                         "groups")


def test_the_threshold_in_the_session_defaults_per_floor():
    assert view.threshold_key(0.85) == "dup_threshold_850"
    assert view.default_threshold(0.85) == 0.95 and view.default_threshold(0.97) == 0.97
    assert view.threshold_in({}, 0.85) == 0.95
    assert view.threshold_in({"dup_threshold_850": 0.9, "dup_threshold_900": 0.99}, 0.85) == 0.9
