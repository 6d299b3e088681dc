"""The torch near-duplicate path (no FAISS): same pairs as a float64 brute force and as FAISS's flat search."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from curation.errors import CurationError
from curation.geometry import all_pairs, dedup, pair_search


def planted(n: int = 1500, d: int = 48, seed: int = 0) -> np.ndarray:
    """Unit rows where a third are noisy copies of others: cosines spread across 0.8-1.0."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    copies = rng.choice(n, n // 3, replace=False)
    sources = rng.integers(0, n, n // 3)
    X[copies] = X[sources] + rng.uniform(0.05, 0.6, (n // 3, 1)).astype(np.float32) * rng.standard_normal(
        (n // 3, d)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def brute_force(X: np.ndarray, t: float) -> set[tuple[int, int]]:
    S = X.astype(np.float64) @ X.astype(np.float64).T
    i, j = np.nonzero(np.triu(S >= t, k=1))
    return set(zip(i.tolist(), j.tolist()))


def as_set(pairs) -> set[tuple[int, int]]:
    return set(zip(pairs[0].tolist(), pairs[1].tolist()))


@pytest.mark.parametrize("threshold", [0.85, 0.93])
def test_torch_path_equals_brute_force_and_faiss_above_the_ivf_size(threshold):
    X = planted()
    ref = brute_force(X, threshold)
    assert len(ref) > 50  # the planted copies straddle the threshold
    # approx_above=100: on the CPU, "auto" would now be IVF; device="torch" stays exact
    assert pair_search.plan_search(len(X), X.shape[1], approx_above=100, device="cpu").method == "ivf"
    i, j, s = dedup.near_pairs(X, threshold, device="torch", approx_above=100)
    assert as_set((i, j)) == ref
    assert (i < j).all()
    np.testing.assert_allclose(s, np.einsum("nd,nd->n", X[i].astype(np.float64), X[j].astype(np.float64)),
                               atol=1e-6)
    if importlib.util.find_spec("faiss") is not None:
        assert as_set(dedup.near_pairs(X, threshold, method="flat")) == ref


def test_the_gpu_arithmetic_fp16_run_on_the_cpu_finds_the_same_pairs(monkeypatch):
    """CUDA multiplies in fp16: its error margin, checked on the CPU."""
    import torch

    X = planted(seed=1)
    monkeypatch.setattr(all_pairs, "_low_precision", lambda dev: torch.float16)
    for t in (0.8, 0.9, 0.97):
        assert as_set(dedup.near_pairs(X, t, device="torch")) == brute_force(X, t)


def test_scan_on_torch_groups_like_the_default_scan():
    X = planted(600, seed=2)
    texts = [f"text {k}" for k in range(len(X))]
    texts[5] = texts[7]  # one exact duplicate on top
    torch_scan = dedup.scan(X, texts, floor=0.88, device="torch")
    default = dedup.scan(X, texts, floor=0.88, method="exact", device="cpu")
    assert [g.tolist() for g in torch_scan.groups(0.9)] == [g.tolist() for g in default.groups(0.9)]
    assert (5, 7) in as_set((torch_scan.i, torch_scan.j))


def test_plan_on_a_gpu_stays_exact_while_the_copies_fit(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (80 * 2**30, 80 * 2**30))
    plan = pair_search.plan_search(5_000_000, 384)  # 7.7 GB of fp16 copies < 40 GB
    assert (plan.method, plan.device, plan.block_mb) == ("exact", "cuda", 1024)
    assert pair_search.plan_search(60_000_000, 384).method == "ivf"  # 92 GB would not fit
    assert pair_search.plan_search(1000, 384, device="cuda:1").device == "cuda:1"
    assert pair_search.plan_search(1000, 384, method="flat").method == "flat"  # asked for: honoured
    cpu = pair_search.plan_search(5_000_000, 384, device="cpu")
    assert (cpu.method, cpu.device, cpu.block_mb) == ("ivf", "cpu", 128)


def test_bad_devices_and_a_missing_faiss_are_clear_errors(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X = planted(50)
    with pytest.raises(CurationError, match="no CUDA device"):
        dedup.near_pairs(X, 0.9, device="cuda")
    with pytest.raises(CurationError, match="unknown device"):
        dedup.near_pairs(X, 0.9, device="gpu")
    with pytest.raises(CurationError, match="unknown search method"):
        dedup.near_pairs(X, 0.9, method="fast")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "faiss" else
                        real_find_spec(name, *a))
    with pytest.raises(CurationError, match="needs faiss"):
        dedup.near_pairs(X, 0.9, method="ivf")
    assert as_set(dedup.near_pairs(X, 0.9, device="torch", approx_above=10)) == brute_force(X, 0.9)
