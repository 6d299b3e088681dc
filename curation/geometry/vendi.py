"""Vendi score: the effective number of distinct samples, exp of the order-q entropy of eig(K / n).

Two kernels, both computed through a d x d Gram matrix, so N never appears squared (X may be a memmap):

- "cosine" (the DiverseEvol paper's): K = X X^T of unit rows. Its rank is at most the embedding width, so on
  384-d MiniLM vectors the score can never exceed 384 and a random 10k-row Dolly subset already scores ~377:
  per-round curves flatten. Kept for comparison with the paper.
- "rbf": K(x, y) = exp(-gamma |x - y|^2) through random Fourier features (Rahimi & Recht 2007): z(x) =
  sqrt(2/D) cos(W^T x + b), W ~ N(0, 2 gamma I), b ~ U[0, 2 pi), rows renormalised so K(x, x) = 1 exactly.
  Its rank is D (`rff_dim`, default 2048), so it keeps separating sets far beyond the embedding width. Gamma
  defaults to the median heuristic on the pool, 1 / median |x - y|^2; compare scores only under one gamma
  (`rbf_gamma(pool)` once, then pass it), which `VendiKernel` carries along with its name for reports.

Order q: 1 (Shannon, the paper's), 2, inf or any q > 0 (Friedman & Dieng 2023's Vendi of order q).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from curation.errors import CurationError

KernelName = Literal["cosine", "rbf"]


@dataclass(frozen=True)
class VendiKernel:
    name: KernelName = "cosine"
    gamma: float = 0.0  # rbf only; 0: the median heuristic on the scored set itself
    rff_dim: int = 2048  # rbf only: random features, the largest score the kernel can give
    seed: int = 0

    def label(self) -> str:
        return "cosine" if self.name == "cosine" else f"rbf(gamma={self.gamma:.3g}, D={self.rff_dim})"


COSINE = VendiKernel()


def vendi_score(X: np.ndarray, *, q: float = 1.0, normalize: bool = True, chunk: int = 16384,
                kernel: VendiKernel = COSINE) -> float:
    """Vendi score of the rows of X: 1 when all rows are the same, up to n (cosine: up to d) when distinct.

    Eigenvalues below d * eps * max are rounding noise and carry no mass (as the vendi-score package drops
    non-positive ones)."""
    n = len(X)
    if n == 0:
        raise CurationError("the Vendi score of an empty set is undefined")
    _check_order(q)
    if kernel.name == "rbf":
        kernel = _with_gamma(X, kernel, normalize)
    width = X.shape[1] if kernel.name == "cosine" else kernel.rff_dim
    if n < width:  # the n x n form is the smaller one: same non-zero eigenvalues
        rows = _rows64(X, normalize)
        if kernel.name == "rbf":
            rows = rff_features(rows, kernel)
        return _vendi_from_gram(rows @ rows.T, n, q)
    return _vendi_from_gram(_gram(X, normalize=normalize, chunk=chunk, kernel=kernel), n, q)


def vendi_curve(X: np.ndarray, order: Sequence[int] | np.ndarray, sizes: Sequence[int], *,
                q: float = 1.0, normalize: bool = True, kernel: VendiKernel = COSINE) -> np.ndarray:
    """Vendi score of the first `s` rows of `order` for each `s` in `sizes` (a growing selection, e.g. one
    size per DiverseEvol iteration). The Gram matrix grows incrementally: one pass over the picks in all. An
    rbf kernel without a gamma takes it from the first size's rows, so every point of the curve shares it."""
    order = np.asarray(order, dtype=np.int64)
    size_arr = np.asarray(sizes, dtype=np.int64)
    if len(size_arr) and (np.any(np.diff(size_arr) < 0) or size_arr[0] < 1 or size_arr[-1] > len(order)):
        raise CurationError("sizes must grow, from 1 up to the length of the order")
    _check_order(q)
    if kernel.name == "rbf" and len(size_arr):
        kernel = _with_gamma(X[order[:max(int(size_arr[-1]), 2)]], kernel, normalize)
    width = X.shape[1] if kernel.name == "cosine" else kernel.rff_dim
    gram = np.zeros((width, width))
    out, done = np.empty(len(size_arr)), 0
    for i, size in enumerate(size_arr):
        gram += _gram(X[order[done:size]], normalize=normalize, chunk=16384, kernel=kernel)
        done = size
        out[i] = _vendi_from_gram(gram, int(size), q)
    return out


def rbf_gamma(X: np.ndarray, *, normalize: bool = True, sample: int = 2000, seed: int = 0) -> float:
    """The median heuristic: 1 / median squared distance between rows (over a seeded sample of pairs)."""
    rng = np.random.default_rng(seed)
    rows = _rows64(X[np.sort(rng.choice(len(X), min(len(X), sample), replace=False))], normalize)
    if len(rows) < 2:
        return 1.0
    sq = np.sum(rows ** 2, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * rows @ rows.T
    median = float(np.median(d2[np.triu_indices(len(rows), 1)]))
    return 1.0 / median if median > 0 else 1.0


def rff_features(rows: np.ndarray, kernel: VendiKernel) -> np.ndarray:
    """Unit-norm random Fourier features of float64 rows for the rbf kernel (the same W, b for every call)."""
    rng = np.random.default_rng(kernel.seed)
    W = rng.normal(0.0, np.sqrt(2.0 * kernel.gamma), size=(rows.shape[1], kernel.rff_dim))
    b = rng.uniform(0.0, 2 * np.pi, size=kernel.rff_dim)
    Z = np.cos(rows @ W + b)
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(norms > 0, norms, 1.0)


def _with_gamma(X: np.ndarray, kernel: VendiKernel, normalize: bool) -> VendiKernel:
    if kernel.gamma > 0:
        return kernel
    return VendiKernel("rbf", rbf_gamma(X, normalize=normalize, seed=kernel.seed), kernel.rff_dim, kernel.seed)


def _check_order(q: float) -> None:
    if not q > 0:
        raise CurationError(f"the Vendi order q must be > 0 (1, 2, inf, ...), not {q}")


def _rows64(X: np.ndarray, normalize: bool) -> np.ndarray:
    rows = np.asarray(X, dtype=np.float64)
    if normalize:
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        if (norms == 0).any():
            raise CurationError("a zero vector has no cosine similarity; drop it first")
        rows = rows / norms
    return rows


def _gram(X: np.ndarray, *, normalize: bool, chunk: int, kernel: VendiKernel = COSINE) -> np.ndarray:
    d = X.shape[1] if kernel.name == "cosine" else kernel.rff_dim
    gram = np.zeros((d, d), dtype=np.float64)
    for s in range(0, len(X), chunk):
        block = _rows64(X[s:s + chunk], normalize)
        if kernel.name == "rbf":
            block = rff_features(block, kernel)
        gram += block.T @ block
    return gram


def _vendi_from_gram(gram: np.ndarray, n: int, q: float) -> float:
    eig = np.linalg.eigvalsh(gram / n)
    p = eig[eig > max(eig.max(), 0.0) * len(eig) * np.finfo(np.float64).eps]
    if q == 1:
        entropy = -np.sum(p * np.log(p))
    elif np.isinf(q):
        entropy = -np.log(p.max())
    else:
        entropy = np.log(np.sum(p ** q)) / (1 - q)
    return float(np.exp(entropy))
