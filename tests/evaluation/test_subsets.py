"""Subsets: token matching lands within one row of the target; trained tokens are counted as the trainer counts."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import CurationError
from curation.evaluation.subsets import random_subset, token_matched_subset, trained_tokens
from tests.shared_data import dolly_records


def test_token_matching_takes_the_nearest_shuffled_prefix():
    tokens = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90], np.int64)  # per pool row
    candidates = np.arange(1, 10)
    for seed in range(20):
        for target in (5, 55, 150, 333):
            rows = token_matched_subset(candidates, tokens, target, np.random.default_rng(seed))
            order = candidates[np.random.default_rng(seed).permutation(len(candidates))]
            assert rows.tolist() == order[: len(rows)].tolist()  # a prefix of the seeded shuffle
            totals = np.cumsum(tokens[order])
            best = 1 + int(np.argmin(np.abs(totals - target)))  # brute force: the nearest non-empty prefix
            assert len(rows) == best  # (argmin takes the shorter one on a tie, as the function does)
            boundary = tokens[order[len(rows) - 1: len(rows) + 1]].max()  # the last row taken, or the next one
            assert abs(int(tokens[rows].sum()) - target) <= boundary  # within one row of the target
            assert len(set(rows.tolist())) == len(rows)


def test_token_matching_refuses_a_target_the_pool_cannot_reach():
    with pytest.raises(CurationError, match="fewer than"):
        token_matched_subset(np.arange(3), np.array([5, 5, 5]), 100, np.random.default_rng(0))


def test_random_subsets_are_seeded_and_distinct():
    a = random_subset(np.arange(50), 10, np.random.default_rng([0, 1]))
    b = random_subset(np.arange(50), 10, np.random.default_rng([0, 1]))
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 10
    with pytest.raises(CurationError, match="trainable candidates"):
        random_subset(np.arange(5), 6, np.random.default_rng(0))


def test_trained_tokens_are_what_the_trainer_trains_on(tiny_chat):
    from curation.model import TrainConfig, train

    records = dolly_records(16)
    per_row = trained_tokens(tiny_chat.tokenizer, tiny_chat.template, records, max_length=96)
    assert (per_row == 0).any() and (per_row > 0).any()  # at 96 tokens some Dolly prompts leave no response
    result = train(tiny_chat, records, config=TrainConfig(max_length=96, max_steps=1, batch_size=16), seed=0)
    assert result.trained_tokens == int(per_row.sum())
    assert result.trained_samples == int((per_row > 0).sum())
    assert {r.id for r, n in zip(records, per_row) if n == 0} == set(result.skipped)
