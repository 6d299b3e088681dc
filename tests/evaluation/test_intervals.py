"""The paired bootstrap against cases whose bootstrap distribution is known by hand, and against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import CurationError
from curation.evaluation.intervals import pair_by_seed, pair_differences, paired_bootstrap


def test_one_pair_two_samples_has_the_enumerated_distribution():
    # resampling 2 samples of [1, 3]: means 1 (p 1/4), 2 (p 1/2), 3 (p 1/4); the 2.5% and 97.5% points are 1 and 3
    iv = paired_bootstrap(np.array([[1.0, 3.0]]), resamples=4000, seed=1)
    assert (iv.mean, iv.low, iv.high) == (2.0, 1.0, 3.0)
    assert (iv.pairs, iv.samples) == (1, 2) and iv.excludes_zero


def test_pairs_are_resampled_too():
    # two pairs, one sample each: the statistic is 0, 2 or 4 with p 1/4, 1/2, 1/4; over samples alone it would be 2
    iv = paired_bootstrap(np.array([[0.0], [4.0]]), resamples=4000, seed=2)
    assert (iv.mean, iv.low, iv.high) == (2.0, 0.0, 4.0)


def test_a_constant_difference_has_a_zero_width_interval_that_excludes_zero():
    iv = paired_bootstrap(np.full((3, 5), -0.25), resamples=50)
    assert (iv.mean, iv.low, iv.high) == (-0.25, -0.25, -0.25) and iv.excludes_zero


def test_matches_a_plain_loop_with_the_same_draws():
    diffs = np.random.default_rng(5).normal(size=(4, 9))
    iv = paired_bootstrap(diffs, resamples=300, seed=11, level=0.9)
    rng = np.random.default_rng(11)
    stats = []
    for _ in range(300):
        pairs = rng.integers(0, 4, 4)
        rows = rng.integers(0, 9, 9)
        stats.append(np.mean([[diffs[p, s] for s in rows] for p in pairs]))
    assert iv.low == pytest.approx(np.percentile(stats, 5), abs=1e-12)
    assert iv.high == pytest.approx(np.percentile(stats, 95), abs=1e-12)
    assert iv.mean == pytest.approx(diffs.mean())


def test_pairing_by_seed_and_broadcasting_one_model():
    method = np.array([[1.0, 2.0], [3.0, 4.0]])  # seeds 0, 1
    random = np.array([[[0.0, 0.0], [1.0, 1.0]], [[10.0, 10.0], [20.0, 20.0]]])  # subsets 0, 1 x seeds 0, 1
    assert pair_differences(method, random).tolist() == [[1, 2], [2, 3], [-9, -8], [-17, -16]]
    in_run = np.array([[5.0, 5.0]])
    assert pair_differences(in_run, random).tolist() == [[5, 5], [4, 4], [-5, -5], [-15, -15]]
    with pytest.raises(CurationError, match="cannot be paired"):
        pair_differences(np.zeros((3, 2)), random)


def test_pairing_each_random_model_with_the_method_model_of_its_seed():
    method = np.array([[1.0, 2.0], [3.0, 4.0]])  # seeds 0, 1
    random = np.array([[0.0, 0.0], [1.0, 1.0], [10.0, 10.0]])  # three subsets, trained once: seeds 0, 1, 0
    assert pair_by_seed(method, random, np.array([0, 1, 0])).tolist() == [[1, 2], [2, 3], [-9, -8]]
    assert pair_by_seed(np.array([[5.0, 5.0]]), random, np.array([0, 1, 0])).tolist() == [[5, 5], [4, 4], [-5, -5]]
    with pytest.raises(CurationError, match="cannot be paired"):  # method seed 1 would be left out
        pair_by_seed(method, random, np.array([0, 0, 0]))


def test_refuses_nan_and_empty_input():
    with pytest.raises(CurationError, match="finite"):
        paired_bootstrap(np.array([[1.0, np.nan]]))
    with pytest.raises(CurationError, match="at least one"):
        paired_bootstrap(np.zeros((0, 3)))
