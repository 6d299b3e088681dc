"""One rule turns a budget into a sample count: `budgets.sample_count`, used by the runner, the estimate and the
Select page. Checked against integer arithmetic, and end to end on the case floats got wrong (18.4% of 375)."""

from __future__ import annotations

import numpy as np
import pytest

from curation.methods import registry, runner
from curation.methods.budgets import Budget, parse_budget, resolve, sample_count
from curation.methods.estimate import estimate_for_workspace
from curation.workspace import runs


def test_percent_is_an_exact_floor():
    # in floats 375 * 18.4 / 100 = 68.99999999999999; the user's 18.4% of 375 is exactly 69
    assert int(375 * 18.4 / 100) == 68
    assert sample_count(Budget("percent", 18.4), 375) == 69
    assert sample_count(parse_budget("5%"), 15_011) == 750  # IterIT's k for Dolly: floor(750.55)
    assert sample_count(parse_budget("100%"), 7) == 7
    assert sample_count(parse_budget("0.1%"), 999) == 0


def test_percent_matches_integer_arithmetic_for_every_tenth_of_a_percent():
    # brute force: p tenths of a percent of n is floor(p * n / 1000), computed in integers
    for n in (1, 7, 100, 375, 999, 15_011):
        for p in range(1, 1001):
            value = float(f"{p / 10:g}")  # what the page's number input and parse_budget("18.4%") hold
            assert sample_count(Budget("percent", value), n) == p * n // 1000, (p, n)


def test_samples_and_tokens():
    assert sample_count(parse_budget("2k"), 10) == 2000  # not capped: resolve reports what cannot be met
    assert sample_count(parse_budget("1000 tokens"), 50, tokens_per_sample=300.0) == 3  # floor(3.33)
    assert sample_count(parse_budget("1000 tokens"), 50, tokens_per_sample=0.2) == 1000  # at least a token each
    with pytest.raises(ValueError):
        sample_count(parse_budget("1000 tokens"), 50)


def test_resolve_uses_the_same_count():
    none = np.zeros(0, np.int64)
    t = resolve(Budget("percent", 18.4), np.ones(375, np.int64), required=none, excluded=np.zeros(375, bool))
    assert t.n == 69


@pytest.fixture(scope="module")
def pool375(dolly_workspace):
    return dolly_workspace(375)


@pytest.mark.parametrize("method", ["kcenter", "random"])
def test_estimate_and_run_agree_on_18_4_percent_of_375(pool375, method):
    ws = pool375
    budget = parse_budget("18.4%")
    _, n_select = estimate_for_workspace(ws, method, registry.make_config(method), budget)
    assert n_select == 69
    run_id = runner.start_run(ws, method, budget="18.4%", models={"engine": "fake"})
    runner.run_selection(ws, run_id)
    assert len(runs.iteration(ws, run_id).selected) == 69


def test_cli_estimate_says_69(pool375, capsys):
    from curation.cli import main

    assert main(["-w", str(pool375.root), "select", "--method", "random", "--budget", "18.4%", "--estimate"]) == 0
    assert "for about 69 of 375 samples" in capsys.readouterr().out
