"""Search bounds (curation.services.browse): a huge search is one clear message, never a SQLite error."""

from __future__ import annotations

import pytest

from curation.errors import CurationError
from curation.services import browse
from curation.workspace import samples


@pytest.fixture(scope="module")
def pool(dolly_workspace):
    return dolly_workspace(200)


def _brute(ws, text: str) -> set[str]:
    """Every term a case-insensitive substring of the prompt or the response (ASCII folding, as LIKE)."""
    frame = samples.frame(ws)
    terms = text.lower().split()
    return {sid for sid, p, r in zip(frame["id"], frame["prompt"].str.lower(), frame["response"].str.lower())
            if all(t in p or t in r for t in terms)}


def test_too_many_terms_is_a_clear_error(pool):
    text = " ".join(["the"] * 1200)
    for call in (lambda: browse.count(pool, browse.Filter(text=text)),
                 lambda: browse.status_counts(pool, browse.Filter(text=text)),
                 lambda: browse.page(pool, browse.Filter(text=text)),
                 lambda: browse.check_search(text)):
        with pytest.raises(CurationError, match=rf"1200 words; search with at most {browse.MAX_TERMS}"):
            call()


def test_a_very_long_term_is_a_clear_error(pool):
    text = "x" * 50_000
    for call in (lambda: browse.count(pool, browse.Filter(text=text)),
                 lambda: browse.matching_ids(pool, browse.Filter(text=text)),
                 lambda: browse.check_search(text)):
        with pytest.raises(CurationError, match=rf"50000 characters; at most {browse.MAX_TERM_CHARS}"):
            call()


def test_searches_within_the_limits_still_work(pool):
    frame = samples.frame(pool)
    word = frame["response"].iloc[3].split()[0]
    for text in ("the", f"the {word}", " ".join(["a"] * browse.MAX_TERMS), "e" * browse.MAX_TERM_CHARS,
                 frame["prompt"].iloc[5][: browse.MAX_TERM_CHARS].split(" ")[0]):
        browse.check_search(text)
        flt = browse.Filter(text=text, match="substring")
        assert set(browse.matching_ids(pool, flt)) == _brute(pool, text)
        assert browse.count(pool, flt) == len(_brute(pool, text))
    assert browse.count(pool, browse.Filter(text="the")) > 0
