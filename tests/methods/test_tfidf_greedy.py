"""IterIT's TF-IDF greedy with incremental row sums equals the reference's naive recompute-everything loop."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from curation.methods.kernels.tfidf_greedy import greedy_select, tfidf_matrix
from tests.shared_data import DOLLY


def naive_greedy(W: sp.csr_matrix, complexity: np.ndarray, k: int, decay: float, preselected=()):
    """The reference algorithm, written plainly: recompute sum_g w_ig * decay^m_g for every row at every pick."""
    W = W.toarray()
    m = np.zeros(W.shape[1])
    taken = set(int(r) for r in preselected)
    for r in taken:
        m += W[r] > 0
    order = []
    for _ in range(k):
        sdiv = (W * decay ** m).sum(axis=1)
        sdiv[sdiv <= 1e-9 * W.sum(axis=1)] = 0.0
        product = complexity * sdiv
        free = [i for i in range(len(W)) if i not in taken]
        best = max(free, key=lambda i: (product[i], -i))
        if product[best] <= 0:  # nothing left to gain: the most complex remaining row
            best = max(free, key=lambda i: (complexity[i], -i))
        order.append(best)
        taken.add(best)
        m += W[best] > 0
    return order


def dolly_responses(n: int) -> list[str]:
    out = []
    with open(DOLLY, encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line)["output"])
            if len(out) == n:
                break
    return out


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_greedy_equals_naive_loop_on_real_responses(decay):
    texts = dolly_responses(120)
    texts += texts[:5]  # exact duplicates: ties must break the same way
    W = tfidf_matrix(texts)
    complexity = np.random.default_rng(0).uniform(0.2, 1.0, len(texts))
    k = 60  # with lambda = 0 this runs past the point where every product is 0
    got = greedy_select(W, complexity, k, decay)
    assert got.order.tolist() == naive_greedy(W, complexity, k, decay)
    assert len(set(got.order.tolist())) == k


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_preselected_rows_decay_first_and_are_never_picked(decay):
    texts = dolly_responses(60)
    W = tfidf_matrix(texts)
    complexity = np.linspace(1.0, 0.3, len(texts))
    pre = [3, 17]
    got = greedy_select(W, complexity, 20, decay, preselected=pre)
    assert got.order.tolist() == naive_greedy(W, complexity, 20, decay, preselected=pre)
    assert not set(pre) & set(got.order.tolist())


def test_hand_computed_example():
    # three documents over n-grams a, b, c (rows L2-normalised by hand)
    W = sp.csr_matrix(np.array([[0.6, 0.8, 0.0], [0.6, 0.0, 0.8], [0.0, 0.0, 1.0]]))
    complexity = np.array([0.5, 0.5, 0.9])
    got = greedy_select(W, complexity, 3, 0.1)
    # 1.4*0.5 = 0.7 and 0.9*1.0 = 0.9: row 2 first. Then c decays to 0.1: row 0 = 0.7, row 1 = (0.6+0.08)*0.5.
    assert got.order.tolist() == [2, 0, 1]
    np.testing.assert_allclose(got.gains, [0.9, 0.7, (0.06 + 0.08) * 0.5])
    np.testing.assert_allclose(got.initial_diversity, [1.4, 1.4, 1.0])


def test_lambda_zero_past_full_coverage_never_repeats_a_pick():
    texts = ["red apple", "red apple", "green apple", "red green", "apple", "red", "green apple red"]
    W = tfidf_matrix(texts, ngram_max=1)
    complexity = np.array([0.9, 0.8, 0.7, 0.95, 0.3, 0.6, 0.5])
    got = greedy_select(W, complexity, len(texts), 0.0)
    assert got.order.tolist() == naive_greedy(W, complexity, len(texts), 0.0)
    assert sorted(got.order.tolist()) == list(range(len(texts)))
    assert (got.gains[3:] == 0).all()  # three picks cover every word; the rest come by complexity
