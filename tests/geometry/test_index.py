"""Similarity search against brute force: the exact all-pairs search, FAISS k-NN / range search, IVF recall."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import CurationError
from curation.geometry import all_pairs, index


def planted(n: int = 1500, d: int = 48, seed: int = 0) -> np.ndarray:
    """Unit vectors with near-duplicate families at graded similarities (0.8 .. 0.999) and exact copies."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    for _ in range(60):
        base = rng.integers(n)
        for m in rng.choice(n, 4, replace=False):
            noise = rng.uniform(0.03, 0.8)
            X[m] = X[base] + noise * rng.standard_normal(d) / np.sqrt(d) * np.linalg.norm(X[base])
    X[:20] = X[20:40]  # exact duplicates
    return index.normalize(X)


def brute_pairs(X: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    S = X.astype(np.float64) @ X.astype(np.float64).T
    i, j = np.nonzero(np.triu(S >= threshold, k=1))
    return set(zip(i.tolist(), j.tolist()))


@pytest.mark.parametrize("threshold", [0.8, 0.9, 0.95, 0.99, 0.999])
def test_similar_pairs_equal_brute_force(threshold):
    X = planted()
    i, j, s = all_pairs.similar_pairs(X, threshold, block_mb=1)  # tiny blocks: many block boundaries
    found = set(zip(i.tolist(), j.tolist()))
    assert found == brute_pairs(X, threshold)
    assert (i < j).all() and (s >= threshold).all()
    S = X.astype(np.float64) @ X.astype(np.float64).T
    np.testing.assert_allclose(s, S[i, j], atol=1e-6)


def test_similar_pairs_at_the_boundary_and_low_thresholds():
    """A threshold placed exactly at a pair's similarity keeps that pair (>=), and low or negative
    thresholds (where the int16 shortcut does not apply) are still exact."""
    X = planted(400, 32, seed=1)
    S = X.astype(np.float64) @ X.astype(np.float64).T
    target = float(np.sort(S[np.triu_indices(len(X), 1)])[-50])
    found = set(zip(*[a.tolist() for a in all_pairs.similar_pairs(X, target)[:2]]))
    assert found == brute_pairs(X, target)
    for t in (0.2, -0.1):
        found = set(zip(*[a.tolist() for a in all_pairs.similar_pairs(X, t, block_mb=1)[:2]]))
        assert found == brute_pairs(X, t)


def test_similar_pairs_fp32_path(monkeypatch):
    import torch

    monkeypatch.setattr(all_pairs, "_low_precision", lambda dev: torch.float32)
    X = planted(600, 32, seed=2)
    found = set(zip(*[a.tolist() for a in all_pairs.similar_pairs(X, 0.9)[:2]]))
    assert found == brute_pairs(X, 0.9)


def test_int16_threshold_bits_are_a_lower_bound():
    import torch

    for dtype in (torch.bfloat16, torch.float16):
        for value in (0.5, 0.9437, 0.95, 0.987654):
            bits = all_pairs._as_int16_bits(value, dtype)
            as_float = float(torch.tensor(bits, dtype=torch.int16).view(dtype))
            assert as_float <= value
            above = float(torch.tensor(bits + 1, dtype=torch.int16).view(dtype))
            assert above > value


def test_knn_and_range_search_equal_brute_force():
    X = planted(800, 32, seed=3)
    S = X.astype(np.float64) @ X.astype(np.float64).T
    D, _ = index.knn(X[:100], X, 5, chunk=37)
    np.testing.assert_allclose(D, np.sort(S[:100], axis=1)[:, ::-1][:, :5], atol=1e-5)
    r, c, s = index.range_search(X, index.build_index(X, index.IndexConfig(kind="flat")), 0.9, chunk=111)
    upper = c > r
    assert set(zip(r[upper].tolist(), c[upper].tolist())) == brute_pairs(X, 0.9)
    ru, cu, su = index.range_search(X, index.build_index(X, index.IndexConfig(kind="flat")), 0.9, chunk=111,
                                    upper_only=True)  # each pair once, no self-matches, filtered chunk by chunk
    assert (cu > ru).all() and len(ru) == len(brute_pairs(X, 0.9))
    assert set(zip(ru.tolist(), cu.tolist())) == brute_pairs(X, 0.9)
    np.testing.assert_allclose(su, S[ru, cu], atol=1e-5)


def test_l2_knn():
    X = np.random.default_rng(4).standard_normal((300, 16)).astype(np.float32)
    _, ids = index.knn(X, X[:10], 1, metric="l2")
    ref = ((X[:, None, :].astype(np.float64) - X[None, :10, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(ids[:, 0], ref.argmin(axis=1))


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_find_planted_neighbours(kind):
    X = planted(3000, 32, seed=5)
    idx = index.build_index(X, index.IndexConfig(kind=kind, nprobe=8))
    D, ids = index.knn(X, idx, 2)
    S = X.astype(np.float64) @ X.astype(np.float64).T
    np.fill_diagonal(S, -2)
    exact_nn = S.max(axis=1)
    close = exact_nn >= 0.95
    got = np.where(ids[:, 0] == np.arange(len(X)), D[:, 1], D[:, 0])
    recall = np.mean(got[close] >= exact_nn[close] - 1e-5)
    assert recall >= 0.95


def test_normalize_rejects_zero_rows():
    with pytest.raises(CurationError):
        index.normalize(np.zeros((2, 3)))
    with pytest.raises(CurationError):
        index.build_index(np.ones((5, 3), np.float32), index.IndexConfig(kind="annoy"))


def test_range_search_returns_pairs_in_query_then_row_order():
    X = planted(600, 16, seed=8)
    flat = index.build_index(X, index.IndexConfig(kind="flat"))
    for upper_only in (True, False):
        r, c, s = index.range_search(X, flat, 0.8, chunk=50, upper_only=upper_only)
        key = r * len(X) + c
        assert r.dtype == c.dtype == np.int64 and s.dtype == np.float32
        assert (key[1:] > key[:-1]).all()  # what the duplicate scan's merge relies on
    assert set(zip(r[c > r].tolist(), c[c > r].tolist())) == brute_pairs(X, 0.8)


def test_fp16_margin_bounds_the_inner_product_error_of_fp16_codes():
    """Against numpy's own float16 rounding and float64 products, on unit rows with tiny components too."""
    rng = np.random.default_rng(21)
    for d in (16, 384):
        Q = index.normalize(rng.standard_normal((200, d)))
        Xb = rng.standard_normal((200, d))
        Xb[:, : d // 4] *= 1e-5  # below fp16's normal range: subnormal rounding
        Xb = index.normalize(Xb)
        exact = Q.astype(np.float64) @ Xb.astype(np.float64).T
        coded = Q.astype(np.float64) @ Xb.astype(np.float16).astype(np.float64).T
        assert np.abs(exact - coded).max() <= index.fp16_margin(d)
        assert index.fp16_margin(d) < 1e-3  # tight enough to re-score few extra candidates


def test_an_fp16_ivf_search_rescored_finds_what_ivf_flat_finds_with_float32_similarities():
    X = planted(3000, 32, seed=6)
    flat_ivf = index.build_index(X, index.IndexConfig(kind="ivf", nlist=40, nprobe=4))
    fp16_ivf = index.build_index(X, index.IndexConfig(kind="ivf_fp16", nlist=40, nprobe=4))
    assert fp16_ivf.code_size == 2 * X.shape[1]  # two bytes per dimension
    for threshold in (0.8, 0.9, 0.99):
        r0, c0, _ = index.range_search(X, flat_ivf, threshold, upper_only=True)
        r, c, s = index.range_search(X, fp16_ivf, threshold, upper_only=True, exact_rows=X,
                                     margin=index.fp16_margin(X.shape[1]))
        assert set(zip(r.tolist(), c.tolist())) == set(zip(r0.tolist(), c0.tolist()))
        np.testing.assert_allclose(s, np.einsum("ij,ij->i", X[r].astype(np.float64), X[c].astype(np.float64)),
                                   atol=1e-6)
        assert (s >= np.float32(threshold)).all()


@pytest.mark.parametrize("kind", ["ivf", "ivf_fp16"])
def test_ivf_lists_sized_up_front_hold_what_faiss_own_add_puts_there(kind):
    """The reference is FAISS itself: the same trained index filled by its own `add`."""
    import faiss

    X = planted(3000, 32, seed=9)
    built = index.build_index(X, index.IndexConfig(kind=kind, nlist=40, nprobe=40))
    reference = faiss.clone_index(built)
    reference.reset()
    reference.add(X)
    ours, theirs = faiss.downcast_InvertedLists(built.invlists), faiss.downcast_InvertedLists(reference.invlists)
    assert built.ntotal == reference.ntotal == len(X)
    for list_no in range(built.nlist):
        assert ours.list_size(list_no) == theirs.list_size(list_no)
        size = ours.list_size(list_no)
        ids = faiss.rev_swig_ptr(ours.get_ids(list_no), size)
        np.testing.assert_array_equal(ids, faiss.rev_swig_ptr(theirs.get_ids(list_no), size))
        code_bytes = size * built.code_size
        np.testing.assert_array_equal(faiss.rev_swig_ptr(ours.get_codes(list_no), code_bytes),
                                      faiss.rev_swig_ptr(theirs.get_codes(list_no), code_bytes))
    rescore = {"exact_rows": X, "margin": index.fp16_margin(X.shape[1])} if kind == "ivf_fp16" else {}
    r, c, _ = index.range_search(X, built, 0.8, upper_only=True, **rescore)  # every list probed: all pairs
    assert set(zip(r.tolist(), c.tolist())) == brute_pairs(X, 0.8)


def test_row_dots_equal_float64_products_in_blocks():
    rng = np.random.default_rng(2)
    A, B = index.normalize(rng.standard_normal((50, 24))), index.normalize(rng.standard_normal((70, 24)))
    a, b = rng.integers(50, size=1000), rng.integers(70, size=1000)
    ref = np.einsum("ij,ij->i", A[a].astype(np.float64), B[b].astype(np.float64))
    np.testing.assert_allclose(index.row_dots(A, a, B, b, block=37), ref, atol=1e-6)
