"""Vendi of order q and a kernel that does not saturate, against the N x N definitions computed here."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import CurationError
from curation.geometry.vendi import VendiKernel, rbf_gamma, vendi_curve, vendi_score


def _vendi_nxn(K: np.ndarray, q: float) -> float:
    """The definition: exp of the order-q Renyi entropy of the eigenvalues of K / n (Friedman & Dieng)."""
    lam = np.clip(np.linalg.eigvalsh(K / len(K)), 0, None)
    lam = lam[lam > 1e-12]
    if q == 1:
        return float(np.exp(-np.sum(lam * np.log(lam))))
    if np.isinf(q):
        return float(1 / lam.max())
    return float(np.sum(lam ** q) ** (1 / (1 - q)))


def _unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, np.inf])
def test_cosine_vendi_of_order_q_equals_the_definition(q):
    X = np.random.default_rng(0).standard_normal((150, 24))
    U = _unit(X)
    assert vendi_score(X.astype(np.float32), q=q) == pytest.approx(_vendi_nxn(U @ U.T, q), rel=1e-5)


def test_rbf_through_random_features_approximates_the_exact_kernel():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((6, 32))
    X = np.concatenate([c + 0.4 * rng.standard_normal((40, 32)) for c in centres])
    U = _unit(X)
    gamma = 2.0
    d2 = np.sum((U[:, None, :] - U[None, :, :]) ** 2, axis=-1)
    exact = _vendi_nxn(np.exp(-gamma * d2), 1.0)
    approx = vendi_score(X, kernel=VendiKernel("rbf", gamma=gamma, rff_dim=8192, seed=3))
    assert approx == pytest.approx(exact, rel=0.03)


def test_rbf_keeps_growing_where_the_cosine_kernel_saturates():
    X = np.random.default_rng(2).standard_normal((3000, 16)).astype(np.float32)
    cosine_small, cosine_large = vendi_score(X[:300]), vendi_score(X)
    assert cosine_large <= 16 + 1e-6 and cosine_large - cosine_small < 0.5  # flat: bounded by d = 16
    kernel = VendiKernel("rbf", gamma=rbf_gamma(X), rff_dim=2048)  # the default median heuristic
    rbf_small, rbf_large = vendi_score(X[:300], kernel=kernel), vendi_score(X, kernel=kernel)
    assert rbf_large > 16 * 1.5 and rbf_large - rbf_small > 10 * (cosine_large - cosine_small)
    sharper = VendiKernel("rbf", gamma=4 * rbf_gamma(X), rff_dim=2048)  # a narrower kernel separates more
    assert vendi_score(X, kernel=sharper) > 20 * 16


def test_rbf_curve_equals_scores_of_its_prefixes_under_one_gamma():
    X = np.random.default_rng(4).standard_normal((400, 12))
    order = np.random.default_rng(5).permutation(400)
    kernel = VendiKernel("rbf", gamma=0.8, rff_dim=512)
    curve = vendi_curve(X, order, [50, 200, 400], kernel=kernel)
    singles = [vendi_score(X[order[:s]], kernel=kernel) for s in (50, 200, 400)]
    assert np.allclose(curve, singles, rtol=1e-9)


def test_median_heuristic_by_hand():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])  # unit rows: squared distances 2, 4, 2
    assert rbf_gamma(X) == pytest.approx(1 / 2)


def test_labels_name_the_kernel_and_bad_orders_are_refused():
    assert VendiKernel().label() == "cosine"
    assert VendiKernel("rbf", gamma=0.5, rff_dim=1024).label() == "rbf(gamma=0.5, D=1024)"
    with pytest.raises(CurationError, match="order q must be > 0"):
        vendi_score(np.eye(3), q=0)
