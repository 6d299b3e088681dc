"""Small statistics the report needs: mean and spread over seeds, rank correlation, overlap of the top sets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value). NaNs are ignored."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def fmt_mean_std(values: Sequence[float], digits: int = 3) -> str:
    m, s = mean_std(values)
    return "n/a" if not np.isfinite(m) else f"{m:.{digits}f} ± {s:.{digits}f}"


def within_spread(value: float, values: Sequence[float], k: float = 2.0) -> bool:
    """True when `value` lies within k standard deviations of the seeds' mean (or inside their range)."""
    m, s = mean_std(values)
    v = [x for x in values if np.isfinite(x)]
    if not v:
        return False
    return abs(value - m) <= k * s or min(v) <= value <= max(v)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho over the rows where both are finite (average ranks for ties)."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    return float(np.corrcoef(ra, rb)[0, 1])


def lowest_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Rows of the lowest `fraction` of finite scores (ties by row), as a sorted int array."""
    s = np.asarray(scores, np.float64)
    rows = np.flatnonzero(np.isfinite(s))
    k = int(round(fraction * len(rows)))
    picked = rows[np.lexsort((rows, s[rows]))][:k]
    return np.sort(picked)


def top_overlap(a: np.ndarray, b: np.ndarray, fraction: float = 0.1) -> tuple[float, float, int]:
    """Overlap of the lowest-`fraction` sets of two scores over rows finite in both: (|A ∩ B| / |A|, the
    share expected by chance for two independent random sets of that size (= |A| / n), |A|)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = np.where(ok, a, np.nan), np.where(ok, b, np.nan)
    A, B = lowest_fraction(a, fraction), lowest_fraction(b, fraction)
    n = int(ok.sum())
    if len(A) == 0:
        return float("nan"), float("nan"), 0
    return len(np.intersect1d(A, B)) / len(A), len(A) / n, len(A)
