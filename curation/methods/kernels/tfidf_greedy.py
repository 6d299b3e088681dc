"""IterIT's diversity-aware greedy: complexity x TF-IDF response diversity, with n-gram decay (methods.md 2.2 3b-c).

    S_DIV(i) = sum_g w_ig * lambda^{m_g}          m_g = picks so far that contain n-gram g
    pick     = argmax_i  complexity_i * S_DIV(i)

The reference recomputes every row sum per pick (O(k nnz)) and can pick the same row again once all products
are 0 (pitfall 2.7 g-h). Here row sums are updated incrementally: when column g decays, each document in g
loses (1 - lambda) w_ig lambda^{m_g}; only the columns of the picked row are touched. Picked rows are masked,
and when every remaining product is 0 (lambda = 0 with every n-gram covered) the next pick is the remaining
row of highest complexity, so picks are always distinct. Ties go to the lowest index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

_ZERO = 1e-9  # relative: a row sum below this share of its start is 0 (rounding residue of lambda = 0)


@dataclass(frozen=True)
class GreedyResult:
    order: np.ndarray  # int64 [k] rows in pick order
    gains: np.ndarray  # float64 [k] complexity x S_DIV at the pick
    diversity: np.ndarray  # float64 [k] S_DIV of the pick when it was picked
    initial_diversity: np.ndarray  # float64 [n] S_DIV before any pick (the plain TF-IDF row sum)


def tfidf_matrix(texts: Sequence[str], ngram_max: int = 3) -> sp.csr_matrix:
    """sklearn TfidfVectorizer with IterIT's settings: 1..ngram_max word n-grams, defaults otherwise (L2 rows)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = list(texts)
    try:
        return TfidfVectorizer(ngram_range=(1, ngram_max), dtype=np.float64).fit_transform(docs).tocsr()
    except ValueError:  # every document is empty or stop-word only: no vocabulary
        return sp.csr_matrix((len(docs), 1), dtype=np.float64)


def greedy_select(W: sp.spmatrix, complexity: np.ndarray, k: int, decay: float, *,
                  preselected: Sequence[int] | np.ndarray = ()) -> GreedyResult:
    """Pick `k` rows of W greedily (see the module docstring).

    `preselected` rows count as picked before the first pick (their n-grams are decayed) and are never picked.
    """
    W = sp.csr_matrix(W, dtype=np.float64)
    W.sum_duplicates()
    n = W.shape[0]
    complexity = np.asarray(complexity, dtype=np.float64)
    if complexity.shape != (n,):
        raise ValueError(f"complexity has shape {complexity.shape}, expected ({n},)")
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay}")
    pre = np.unique(np.asarray(preselected, dtype=np.int64))
    if k > n - len(pre):
        raise ValueError(f"cannot pick {k} of {n - len(pre)} rows")
    C = W.tocsc()
    rowsum = np.asarray(W.sum(axis=1)).ravel().astype(np.float64)
    initial = rowsum.copy()
    with threadpool_limits(1):
        order, gains, div = _greedy(W.indptr, W.indices, C.indptr, C.indices, C.data, complexity, rowsum,
                                    initial, pre, int(k), float(decay))
    return GreedyResult(order=order, gains=gains, diversity=div, initial_diversity=initial)


@numba.njit(cache=True, nogil=True)
def _decay_row(r, indptr_r, indices_r, indptr_c, indices_c, data_c, mult, rowsum, initial, decay):
    for jj in range(indptr_r[r], indptr_r[r + 1]):
        g = indices_r[jj]
        m = mult[g]
        if m == 0.0:
            continue
        for t in range(indptr_c[g], indptr_c[g + 1]):
            i = indices_c[t]
            s = rowsum[i] - (1.0 - decay) * data_c[t] * m
            rowsum[i] = 0.0 if s <= _ZERO * initial[i] else s
        mult[g] = m * decay


@numba.njit(cache=True, nogil=True)
def _greedy(indptr_r, indices_r, indptr_c, indices_c, data_c, complexity, rowsum, initial, pre, k, decay):
    n = len(rowsum)
    mult = np.ones(indptr_c.shape[0] - 1)
    active = np.ones(n, np.bool_)
    for r in pre:
        active[r] = False
        _decay_row(r, indptr_r, indices_r, indptr_c, indices_c, data_c, mult, rowsum, initial, decay)
    order = np.empty(k, np.int64)
    gains = np.empty(k)
    div = np.empty(k)
    for p in range(k):
        best, top = -1, -np.inf
        for i in range(n):
            if active[i]:
                v = complexity[i] * rowsum[i]
                if v > top:
                    top, best = v, i
        if top <= 0.0:  # nothing left to gain: take the most complex remaining row
            best, top2 = -1, -np.inf
            for i in range(n):
                if active[i] and complexity[i] > top2:
                    top2, best = complexity[i], i
            top = 0.0
        order[p], gains[p], div[p] = best, top, rowsum[best]
        active[best] = False
        _decay_row(best, indptr_r, indices_r, indptr_c, indices_c, data_c, mult, rowsum, initial, decay)
    return order, gains, div
