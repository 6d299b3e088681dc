"""Section 1 and 2: Vendi of each selection against its size (DiverseEvol Figure 3), what the selections
contain (response lengths) and how many k-means clusters they reach."""

from __future__ import annotations

import numpy as np

from bench.report.data import Pool
from bench.report.selections import selection_at

# the methods the diversity section compares (the brief: DiverseEvol, one-shot K-Center, random, IterIT, LP)
DIVERSITY_METHODS = ("diverse_evol", "kcenter", "random", "iterit", "learning_pct", "cluster_random", "longest")


def vendi_points(pool: Pool, results: dict) -> dict:
    """{"full": Vendi of the pool, "curves": {method: [(size, [vendi per seed]), ...]}}."""
    from curation.geometry.vendi import vendi_score

    curves: dict[str, list] = {}
    for method in DIVERSITY_METHODS:
        if method not in results:
            continue
        if method == "diverse_evol":
            run = next(iter(results[method].values()))[0]
            curves[method] = [(len(it["rows"]), [vendi_score(pool.X[it["rows"]])]) for it in run["iterations"]]
            continue
        curves[method] = [(b, [vendi_score(pool.X[rows]) for rows in selection_at(results, method, b)])
                          for b in sorted(results[method])]
    return {"full": vendi_score(pool.X), "n": len(pool), "curves": curves}


def coverage_clusters(pool: Pool) -> np.ndarray:
    """k-means over the reference embeddings, K = N / 15, random_state 42 (as bench_methods.py)."""
    from curation.methods.kernels.clusters import auto_k, kmeans

    return kmeans(pool.X, auto_k(len(pool)), seed=42)


def contents(pool: Pool, results: dict, budget: int) -> dict:
    """Per method at `budget`: response lengths (chars) of its selection and the clusters it covers."""
    clusters = coverage_clusters(pool)
    n_clusters = int(clusters.max()) + 1
    out: dict = {"budget": budget, "n_clusters": n_clusters, "pool_chars": pool.response_chars.tolist(),
                 "methods": {}}
    for method in ("random", "longest", "kcenter", "cluster_random", "diverse_evol", "iterit", "learning_pct"):
        sels = selection_at(results, method, budget)
        if not sels:
            continue
        out["methods"][method] = {
            "chars": [pool.response_chars[rows].tolist() for rows in sels],
            "covered": [int(len(np.unique(clusters[rows]))) for rows in sels],
        }
    return out


def coverage_by_budget(pool: Pool, results: dict, budgets: list[int]) -> dict:
    """{method: {budget: [clusters covered per seed]}} and the cluster count."""
    clusters = coverage_clusters(pool)
    table: dict = {}
    for method in DIVERSITY_METHODS:
        for b in budgets:
            sels = selection_at(results, method, b)
            if sels:
                table.setdefault(method, {})[b] = [int(len(np.unique(clusters[r]))) for r in sels]
    return {"n_clusters": int(clusters.max()) + 1, "table": table}
