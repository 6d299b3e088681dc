"""k-means clusters over the reference sentence embeddings (all-MiniLM-L6-v2), the diversity guard of learning
percentage and cluster-random (methods.md 3.2 step 1): KMeans(K, random_state=42, n_init="auto").

K defaults to the paper's 1000, scaled down for small pools to one cluster per ~15 samples (Small2Large ran
K = 1000 on Dolly's 15k rows, i.e. 15 per cluster); a 3,000-row pool gets 200 clusters.
"""

from __future__ import annotations

import numpy as np

from curation.methods.base import StepContext
from curation.workspace.arrays import load_array, save_array

PAPER_K = 1000
ROWS_PER_CLUSTER = 15


def auto_k(n: int, requested: int = 0) -> int:
    if requested > 0:
        return min(requested, n)
    return max(1, min(PAPER_K, round(n / ROWS_PER_CLUSTER)))


def kmeans(X: np.ndarray, k: int, seed: int = 42) -> np.ndarray:
    """Cluster ids int64 [N] (sklearn KMeans, k-means++ init, n_init="auto")."""
    from sklearn.cluster import KMeans

    if k <= 1:
        return np.zeros(len(X), np.int64)
    labels = KMeans(n_clusters=k, random_state=seed, n_init="auto").fit_predict(np.asarray(X, np.float32))
    return labels.astype(np.int64)


def kmeans_sampled(X: np.ndarray, k: int, seed: int, fit_rows: int) -> np.ndarray:
    """`kmeans` on at most `fit_rows` rows drawn with `seed`, then every row labelled with its nearest centre
    (blocks of 65k rows): the same labels as `kmeans` up to `fit_rows`, and at a million rows no 1.5 GB copy
    (sklearn centres a copy of whatever it fits)."""
    from sklearn.cluster import KMeans

    if len(X) <= fit_rows or k <= 1:
        return kmeans(X, k, seed)
    rows = np.sort(np.random.default_rng(seed).choice(len(X), fit_rows, replace=False))
    model = KMeans(n_clusters=k, random_state=seed, n_init="auto").fit(np.asarray(X[rows], np.float32))
    centres = model.cluster_centers_.astype(np.float32)
    half_sq = 0.5 * np.einsum("ij,ij->i", centres, centres)
    labels = np.empty(len(X), np.int64)
    for start in range(0, len(X), 65_536):  # nearest centre: the largest x.c - |c|^2 / 2
        block = np.asarray(X[start:start + 65_536], np.float32)
        labels[start:start + len(block)] = np.argmax(block @ centres.T - half_sq, axis=1)
    return labels


def pool_clusters(ctx: StepContext, requested: int = 0, seed: int = 42, clusters_file: str = "") -> np.ndarray:
    """The pool's clusters: from `clusters_file` when given, else k-means, cached in the run's state folder."""
    if clusters_file:
        from curation.methods.kernels.lp_inputs import load_clusters

        return load_clusters(clusters_file, ctx.pool.ids, ctx.pool.records)
    k = auto_k(len(ctx.pool), requested)
    path = ctx.state_dir / f"clusters_k{k}_s{seed}.npy"
    if path.exists():
        return load_array(path)
    ctx.report(0, 1, f"clustering {len(ctx.pool)} samples into {k} clusters")
    X = ctx.engine.reference_embeddings(np.arange(len(ctx.pool)), progress=ctx.progress,
                                        should_stop=ctx.should_stop)
    labels = kmeans(X, k, seed)
    save_array(path, labels)
    return labels
