"""IterIT's TF-IDF greedy with incremental row sums equals a port of the reference's greedy (methods.md 2.2 3,
recompute the decayed matrix's row sums every pick) over scikit-learn's TfidfVectorizer as the TF-IDF."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from curation.methods.kernels.tfidf_greedy import greedy_select, tfidf_matrix
from tests.shared_data import DOLLY


def reference_tfidf(texts: list[str], ngram_max: int = 3) -> sp.csr_matrix:
    """The reference's TF-IDF (methods.md 2.2 3a): sklearn's TfidfVectorizer, 1-3-grams, defaults otherwise."""
    return TfidfVectorizer(ngram_range=(1, ngram_max)).fit_transform(texts).tocsr()


def reference_greedy(W: sp.spmatrix, ifd: np.ndarray, k: int, decay: float, preselected=()):
    """A port of the reference's greedy (methods.md 2.2 3c), on a dense copy of the TF-IDF matrix: k times take
    argmax_i IFD_i x (row sum of the decayed matrix), multiply every column of the pick's n-grams by lambda, zero
    the pick's row. Preselected rows (the project's approved samples; none in the reference) are decayed and
    zeroed first. Returns the picks and their products; once every product is 0 the reference would repeat
    index 0 (pitfall 2.7h), so the port stops there and returns the picks so far."""
    D = np.asarray(W.toarray(), dtype=np.float64)
    for r in preselected:
        D[:, D[r] > 0] *= decay
        D[r] = 0.0
    order, gains = [], []
    for _ in range(k):
        product = ifd * D.sum(axis=1)
        best = int(np.argmax(product))  # numpy's argmax: the first (lowest) index among ties
        if product[best] <= 0:
            break
        order.append(best)
        gains.append(float(product[best]))
        D[:, D[best] > 0] *= decay
        D[best] = 0.0
    return order, gains


def check_against_reference(texts, complexity, k, decay, preselected=()):
    """The project's picks equal the port's while any product is > 0; after that (lambda = 0 with every n-gram
    covered) they are the remaining rows by complexity, highest first, never a repeat (the documented fix)."""
    W = tfidf_matrix(texts)
    np.testing.assert_allclose(W.toarray(), reference_tfidf(texts).toarray(), rtol=1e-12)  # same TF-IDF
    got = greedy_select(W, complexity, k, decay, preselected=preselected)
    want, gains = reference_greedy(reference_tfidf(texts), complexity, k, decay, preselected)
    assert got.order.tolist()[: len(want)] == want
    np.testing.assert_allclose(got.gains[: len(want)], gains, rtol=1e-9)
    rest = [i for i in np.argsort(-complexity, kind="stable").tolist() if i not in set(want) | set(preselected)]
    assert got.order.tolist()[len(want):] == rest[: k - len(want)]
    assert (got.gains[len(want):] == 0).all()
    return got, want


def dolly_responses(n: int) -> list[str]:
    out = []
    with open(DOLLY, encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line)["output"])
            if len(out) == n:
                break
    return out


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_greedy_equals_the_reference_on_real_responses(decay):
    texts = dolly_responses(120)
    texts += texts[:5]  # exact duplicates: ties must break the same way
    complexity = np.random.default_rng(0).uniform(0.2, 1.0, len(texts))
    k = len(texts) if decay == 0.0 else 60  # lambda = 0: on past the point where every product is 0
    got, want = check_against_reference(texts, complexity, k, decay)
    assert len(set(got.order.tolist())) == k
    if decay == 0.0:
        assert len(want) < k  # the reference's degenerate region was reached and checked


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_preselected_rows_decay_first_and_are_never_picked(decay):
    texts = dolly_responses(60)
    complexity = np.linspace(1.0, 0.3, len(texts))
    pre = [3, 17]
    got, _ = check_against_reference(texts, complexity, 20, decay, preselected=pre)
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
    want, _ = reference_greedy(reference_tfidf(texts, 1), complexity, len(texts), 0.0)
    assert got.order.tolist()[: len(want)] == want == [3, 0]  # "red green", "red apple" cover every word
    assert sorted(got.order.tolist()) == list(range(len(texts)))
    assert (got.gains[2:] == 0).all()
    assert got.order.tolist()[2:] == [1, 2, 5, 6, 4]  # the rest by complexity: 0.8, 0.7, 0.6, 0.5, 0.3
