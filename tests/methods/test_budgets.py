"""Budgets: parsing, exact resolution, token prefixes."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import CurationError
from curation.methods.budgets import Budget, parse_budget, resolve


@pytest.mark.parametrize("text,expected", [
    ("1000", Budget("samples", 1000)), ("2k", Budget("samples", 2000)), (750, Budget("samples", 750)),
    ("5%", Budget("percent", 5.0)), ("2.5 %", Budget("percent", 2.5)), ("200k tokens", Budget("tokens", 200_000)),
    ("50000tok", Budget("tokens", 50_000)), ("1,000", Budget("samples", 1000)),
])
def test_parse(text, expected):
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "0", "150%", "-3", "1.5", "5 apples"])
def test_parse_rejects(text):
    with pytest.raises(CurationError):
        parse_budget(text)


def test_percent_rounds_down_like_iterit():
    none = np.zeros(0, np.int64)
    t = resolve(Budget("percent", 5), np.ones(15_011, np.int64), required=none, excluded=np.zeros(15_011, bool))
    assert t.n == 750  # floor(0.05 x 15,011), IterIT's k for Dolly


def test_token_target_takes_the_longest_fitting_prefix():
    tokens = np.array([5, 50, 7, 3, 40, 9, 1])
    excluded = np.zeros(7, bool)
    excluded[6] = True
    t = resolve(Budget("tokens", 20), tokens, required=np.array([0]), excluded=excluded)
    # required row 0 uses 5; the spare 15 fits at most the 2 shortest candidates (3 + 7): n <= 3
    assert t.n == 3
    assert t.take(np.array([0, 2, 5, 3])).tolist() == [0, 2]  # 5 + 7 = 12, + 9 = 21 > 20: stop
    with pytest.raises(CurationError, match="more than the budget"):
        resolve(Budget("tokens", 4), tokens, required=np.array([0]), excluded=excluded)


def test_infeasible_budgets_are_clear_errors():
    excluded = np.zeros(10, bool)
    excluded[:5] = True
    with pytest.raises(CurationError, match="only 5 samples are not rejected"):
        resolve(Budget("samples", 6), np.ones(10, np.int64), required=np.zeros(0, np.int64), excluded=excluded)
    with pytest.raises(CurationError, match="exceed the budget of 2"):
        resolve(Budget("samples", 2), np.ones(10, np.int64), required=np.arange(5, 8), excluded=excluded)
