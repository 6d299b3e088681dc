"""The paired difference of held-out losses against random subsets, with a percentile-bootstrap interval.

Pure numpy. A *pair* is one model of the method and one random model trained with the same seed; its per-sample
differences (method - random) over the held-out rows form one row of a [pairs, samples] matrix. The interval
resamples held-out samples and pairs jointly: both are finite draws (another held-out set, other seeds and other
random subsets would move the difference), so an interval over samples alone would be too narrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation.errors import CurationError


@dataclass(frozen=True)
class Interval:
    """Mean difference (negative: the method's models have the lower held-out loss) and its interval."""

    mean: float
    low: float
    high: float
    level: float
    pairs: int
    samples: int

    @property
    def excludes_zero(self) -> bool:
        return self.high < 0 or self.low > 0

    def describe(self) -> str:
        return f"{self.mean:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"


def pair_differences(method: np.ndarray, random: np.ndarray) -> np.ndarray:
    """[pairs, samples] differences method - random.

    `method` is [seeds, samples] (one row per training seed) and `random` is [subsets, seeds, samples]: each
    random subset's model trained with seed s is paired with the method's model of seed s. A method with one
    model only (an in-run checkpoint: `method` of one row) is paired with every random model.
    """
    random = np.asarray(random, np.float64)
    if random.ndim != 3:
        raise CurationError(f"random losses must be [subsets, seeds, samples], got shape {random.shape}")
    subsets, seeds, n = random.shape
    return pair_by_seed(method, random.reshape(subsets * seeds, n), np.tile(np.arange(seeds), subsets))


def pair_by_seed(method: np.ndarray, random: np.ndarray, random_seeds: np.ndarray) -> np.ndarray:
    """[pairs, samples]: each random model (a row of `random`, trained with seed `random_seeds[i]`) paired with
    the method's model of that seed (row s of `method`), in the order of `random`; a method with one model is
    paired with every random model."""
    method = np.asarray(method, np.float64)
    random = np.asarray(random, np.float64)
    seeds = np.asarray(random_seeds, np.int64)
    if method.ndim != 2 or random.ndim != 2 or method.shape[1] != random.shape[1] or len(seeds) != len(random):
        raise CurationError(f"losses do not line up: method {method.shape}, random {random.shape}, "
                            f"{len(seeds)} random seeds")
    if method.shape[0] == 1:
        return method - random
    if set(seeds.tolist()) != set(range(method.shape[0])):  # every model of each side is in some pair
        raise CurationError(f"{method.shape[0]} method seeds cannot be paired with random seeds "
                            f"{sorted(set(seeds.tolist()))}")
    return method[seeds] - random


def paired_bootstrap(diffs: np.ndarray, *, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Mean of `diffs` ([pairs, samples]) and its percentile-bootstrap interval.

    Resample b draws `pairs` pair indices, then `samples` sample indices, each uniformly with replacement
    (`rng.integers`, in that order, b = 0, 1, ...); its statistic is the mean of diffs[pair_idx][:, sample_idx].
    That mean equals (pair counts) @ diffs @ (sample counts) / (pairs * samples), computed here for all
    resamples at once.
    """
    diffs = np.asarray(diffs, np.float64)
    if diffs.ndim != 2 or 0 in diffs.shape:
        raise CurationError(f"need a [pairs, samples] matrix with at least one of each, got shape {diffs.shape}")
    if not np.isfinite(diffs).all():
        raise CurationError("differences must be finite: leave unscorable held-out rows out first")
    if resamples < 1 or not 0 < level < 1:
        raise CurationError("resamples must be >= 1 and level in (0, 1)")
    n_pairs, n_samples = diffs.shape
    rng = np.random.default_rng(seed)
    pair_counts = np.zeros((resamples, n_pairs))
    sample_counts = np.zeros((resamples, n_samples))
    for b in range(resamples):  # the draw order the docstring states, so a plain loop can check it
        pair_counts[b] = np.bincount(rng.integers(0, n_pairs, n_pairs), minlength=n_pairs)
        sample_counts[b] = np.bincount(rng.integers(0, n_samples, n_samples), minlength=n_samples)
    stats = np.einsum("bp,ps,bs->b", pair_counts, diffs, sample_counts) / (n_pairs * n_samples)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return Interval(mean=float(diffs.mean()), low=float(low), high=float(high), level=level, pairs=n_pairs,
                    samples=n_samples)
