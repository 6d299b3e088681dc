"""Paging helpers of curation.services.browse, against hand-computed page counts and row ranges, and the
rows a real page holds."""

from __future__ import annotations

from curation.services import browse


def test_page_counts_and_ranges():
    assert [browse.n_pages(t, 50) for t in (0, 1, 50, 51, 300)] == [1, 1, 1, 2, 6]
    assert browse.row_range(300, 50, 6) == (251, 300)
    assert browse.row_range(120, 50, 3) == (101, 120)
    assert browse.row_range(0, 50, 1) == (0, 0)


def test_row_labels_fold_whitespace_and_cut():
    assert browse.row_label(12, "  what\nis\tthis?  ") == "row 12: what is this?"
    assert browse.row_label(3, "word " * 40, width=9) == "row 3: word word"


def test_the_range_matches_the_rows_of_a_real_page(dolly_workspace):
    ws = dolly_workspace(120)
    total = browse.count(ws)
    last = browse.n_pages(total, 50)
    page = browse.page(ws, offset=(last - 1) * 50, limit=50)
    first, end = browse.row_range(total, 50, last)
    assert (last, first, end) == (3, 101, 120) and page["row"].tolist() == list(range(first, end + 1))
