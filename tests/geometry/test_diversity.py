"""K-Center against a float64 brute-force farthest-first; Vendi against the N x N definition and vendi-score."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import CurationError
from curation.geometry.diversity import kcenter
from curation.geometry.vendi import vendi_curve, vendi_score


def brute_kcenter(X: np.ndarray, k: int, start=(), metric: str = "l2", candidates=None):
    """Textbook farthest-first on the full float64 distance matrix; ties to the lowest index."""
    X = X.astype(np.float64)
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    allowed = np.ones(len(X), bool) if candidates is None else np.asarray(candidates, bool).copy()
    centres = list(start)
    allowed[centres] = False
    order, dists = [], []
    for _ in range(k):
        near = D[:, centres].min(axis=1) if centres else np.full(len(X), np.inf)
        near = np.where(allowed, near, -1.0)
        pick = int(np.argmax(near))  # first maximum = lowest index
        order.append(pick)
        dists.append(near[pick])
        centres.append(pick)
        allowed[pick] = False
    near = D[:, centres].min(axis=1)
    mask = np.ones(len(X), bool) if candidates is None else np.asarray(candidates, bool)
    radius = near[mask].max()
    if metric == "cosine":
        dists, radius = np.square(dists) / 2, radius**2 / 2
    return np.array(order), np.array(dists), radius


def clustered(n: int, d: int, seed: int, centres: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((centres, d)) * 3
    labels = rng.zipf(1.6, n) % centres
    return (means[labels] + 0.3 * rng.standard_normal((n, d))).astype(np.float32)


def with_duplicates(X: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = X.copy()
    src = rng.choice(len(X), len(X) // 5, replace=False)
    dst = rng.choice(len(X), len(X) // 5, replace=False)
    X[dst] = X[src]
    return X


DATASETS = {
    "random": lambda: np.random.default_rng(1).standard_normal((500, 24)).astype(np.float32),
    "clustered": lambda: clustered(500, 24, seed=2),
    "random+dups": lambda: with_duplicates(np.random.default_rng(3).standard_normal((500, 24)).astype(np.float32), 4),
    "clustered+dups": lambda: with_duplicates(clustered(500, 24, seed=5), 6),
}


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("shadow", [False, True])
def test_picks_equal_brute_force(data, metric, shadow):
    X = DATASETS[data]()
    result = kcenter(X, 120, metric=metric, shadow=shadow)
    order, dists, radius = brute_kcenter(X, 120, metric=metric)
    np.testing.assert_array_equal(result.order, order)
    tol = 1e-9 if metric == "l2" else 1e-6  # cosine: we normalise in float32, the reference in float64
    np.testing.assert_allclose(result.distances[1:], dists[1:], rtol=tol, atol=1e-12)
    assert result.distances[0] == np.inf
    assert result.radius == pytest.approx(radius, rel=tol, abs=1e-12)


@pytest.mark.parametrize("shadow", [False, True])
def test_start_set_and_candidates(shadow):
    X = DATASETS["clustered+dups"]()
    start = [3, 17, 250]
    candidates = np.ones(len(X), bool)
    candidates[::7] = False
    result = kcenter(X, 60, start=start, candidates=candidates, shadow=shadow)
    order, dists, radius = brute_kcenter(X, 60, start=start, candidates=candidates)
    np.testing.assert_array_equal(result.order, order)
    np.testing.assert_allclose(result.distances, dists, rtol=1e-9, atol=1e-12)
    assert not set(result.order) & set(start)
    assert candidates[result.order].all()
    assert result.radius == pytest.approx(radius, rel=1e-9)


def test_exact_duplicates_never_nan_and_ties_go_to_lowest_index():
    base = np.random.default_rng(7).standard_normal((10, 8)).astype(np.float32)
    X = np.concatenate([base, base, base])  # every point three times
    result = kcenter(X, 30)
    assert not np.isnan(result.distances).any()
    np.testing.assert_array_equal(np.sort(result.order[:10]), np.arange(10))  # first copies first
    np.testing.assert_array_equal(result.order[10:], np.arange(10, 30))  # then all at distance 0, in order
    assert (result.distances[10:] == 0).all() and result.radius == 0


def test_duplicate_of_a_start_point_is_at_distance_zero():
    X = np.random.default_rng(8).standard_normal((50, 16)).astype(np.float32)
    X[40] = X[2]
    result = kcenter(X, 49, start=[2])
    assert result.order[-1] == 40 and result.distances[-1] == 0.0


def test_first_pick_and_determinism():
    X = DATASETS["random"]()
    a, b = kcenter(X, 50, first=123), kcenter(X, 50, first=123)
    assert a.order[0] == 123
    np.testing.assert_array_equal(a.order, b.order)


def test_torch_path_matches_on_cpu():
    X = DATASETS["clustered"]()
    result = kcenter(X, 80, device="torch", start=[1, 2])
    order, _, _ = brute_kcenter(X, 80, start=[1, 2])
    np.testing.assert_array_equal(result.order, order)


def test_cancel_and_progress():
    from curation.errors import Cancelled

    X = DATASETS["random"]()
    seen = []
    kcenter(X, 10, progress=lambda d, t, m: seen.append((d, t)))
    assert seen[-1] == (10, 10)
    with pytest.raises(Cancelled):
        kcenter(X, 10, should_stop=lambda: True)


def test_user_errors():
    X = DATASETS["random"]()
    with pytest.raises(CurationError):
        kcenter(X, 501)
    with pytest.raises(CurationError):
        kcenter(X, 5, metric="manhattan")
    with pytest.raises(CurationError):
        kcenter(X, 5, start=[600])


# -- Vendi ---------------------------------------------------------------------------------------------
def vendi_dense(X: np.ndarray, q: float = 1.0) -> float:
    """The definition: exp(entropy of the eigenvalues of K/n), K the N x N cosine kernel, in float64."""
    X = X.astype(np.float64)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    w = np.linalg.eigvalsh(X @ X.T / len(X))
    p = w[w > 0]
    if q == 1:
        return float(np.exp(-(p * np.log(p)).sum()))
    if np.isinf(q):
        return float(1 / p.max())
    return float(np.exp(np.log((p**q).sum()) / (1 - q)))


@pytest.mark.parametrize("n,d", [(300, 16), (40, 64), (1000, 128)])
@pytest.mark.parametrize("q", [1.0, 0.5, 2.0, np.inf])
def test_vendi_equals_dense_definition(n, d, q):
    X = clustered(n, d, seed=n + d)
    assert vendi_score(X, q=q) == pytest.approx(vendi_dense(X, q), rel=1e-6)


def test_vendi_equals_package():
    from vendi_score import vendi

    X = clustered(400, 32, seed=11)
    Xn = X.astype(np.float64) / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    K = Xn @ Xn.T
    for q in (1, 2):
        assert vendi_score(X, q=q) == pytest.approx(float(vendi.score_K(K, q=q)), rel=1e-6)


def test_vendi_extremes_and_chunks():
    assert vendi_score(np.tile([[1.0, 2.0, 3.0]], (50, 1))) == pytest.approx(1.0, abs=1e-9)
    assert vendi_score(np.eye(20, dtype=np.float32) * 3) == pytest.approx(20.0, rel=1e-9)
    X = clustered(1000, 32, seed=12)
    assert vendi_score(X, chunk=97) == pytest.approx(vendi_score(X), rel=1e-9)


def test_vendi_curve_equals_prefix_scores():
    X = clustered(600, 32, seed=13)
    order = kcenter(X, 200).order
    sizes = [10, 50, 120, 200]
    curve = vendi_curve(X, order, sizes)
    np.testing.assert_allclose(curve, [vendi_score(X[order[:s]]) for s in sizes], rtol=1e-9)


def test_shadow_bound_holds_and_updates_match_the_exact_kernel():
    from curation.geometry.kcenter_kernels import quantise as _quantise
    from curation.geometry.kcenter_kernels import update as _update
    from curation.geometry.kcenter_kernels import update_shadow as _update_shadow

    rng = np.random.default_rng(21)
    X = (rng.standard_normal((3000, 96)) * rng.uniform(1e-3, 1e3, (3000, 1))).astype(np.float32)
    X[5] = 0.0
    q, scale, err = _quantise(X, chunk=1000)
    approx = q.astype(np.float64) * scale[:, None].astype(np.float64)
    assert (np.linalg.norm(X.astype(np.float64) - approx, axis=1) <= err).all()
    exact, shadow = np.full(len(X), np.inf), np.full(len(X), np.inf)
    for c in rng.choice(len(X), 40, replace=False):
        a = _update(X, X[c], exact)
        b = _update_shadow(q, scale, err, X, X[c], shadow)
        assert a[0] == b[0]
        np.testing.assert_array_equal(exact, shadow)


@pytest.mark.parametrize("shadow", [False, True])
def test_parallel_passes_give_the_brute_force_picks(shadow):
    """Every core, the same picks: duplicates (ties) and a start set included."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((5000, 48)).astype(np.float32)
    X[4000:4200] = X[100:300]  # exact duplicates: ties go to the lowest index in every block
    start = [7, 2500]
    order, dists, radius = brute_kcenter(X, 90, start=start)
    for parallel in (True, False):
        res = kcenter(X, 90, start=start, shadow=shadow, parallel=parallel)
        np.testing.assert_array_equal(res.order, order)
        np.testing.assert_allclose(res.distances, dists, rtol=1e-12)


def test_the_kernel_choice_is_measured_once_per_shape():
    from curation.geometry import kcenter_kernels

    X = np.random.default_rng(9).standard_normal((8192, 16)).astype(np.float32)
    kcenter_kernels._CHOICE.clear()
    kcenter(X, 5, shadow=False)
    assert len(kcenter_kernels._CHOICE) == (1 if kcenter_kernels.numba.get_num_threads() > 1 else 0)


def test_the_shadow_serves_many_picks_or_many_rows(monkeypatch):
    """Auto: plain passes for a few picks from a small pool, the int8 shadow from SHADOW_MIN_PICKS picks (or
    SHADOW_MIN_ROWS rows) on; an explicit choice always wins. The picks are the same either way."""
    from curation.geometry import diversity

    used, real = [], diversity._kcenter_cpu
    monkeypatch.setattr(diversity, "_kcenter_cpu", lambda X, k, best, first, shadow, *rest: (
        used.append(shadow) or real(X, k, best, first, shadow, *rest)))
    X = np.random.default_rng(4).standard_normal((1200, 16)).astype(np.float32)
    few = kcenter(X, 20)
    many = kcenter(X, diversity.SHADOW_MIN_PICKS)
    forced = kcenter(X, diversity.SHADOW_MIN_PICKS, shadow=False)
    assert used == [False, True, False]
    np.testing.assert_array_equal(many.order, forced.order)
    np.testing.assert_array_equal(few.order, many.order[:20])
