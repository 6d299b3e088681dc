"""Learning percentage (Mekala et al., Small2Large, methods.md 3): scores from perplexity trajectories, and the
per-cluster selection with an exact global budget.

    LP(k)      = (P_0 - P_k) / (P_0 - P_E)     share of the whole perplexity drop done after k epochs
    LP1        = LP(1) with E = 3               (0 when P_0 = P_E)
    LP1_app    = (P_0 - P_1) / P_0              (needs only P_0 and P_1)

Lower = harder = preferred. Perplexities, not losses (pitfall 3.6e). Values outside [0, 1] happen (perplexity
rose again after epoch 1); they are flagged, and clipped only on request (the reference never clips).
"""

from __future__ import annotations

import numpy as np

from curation.methods.budgets import apportion

REGIONS = ("low", "mid", "high")


def lp1(trajectory: np.ndarray, k: int = 1) -> np.ndarray:
    """LP(k) from a [n, E+1] perplexity trajectory (P_0..P_E), E = the last column."""
    P = np.asarray(trajectory, dtype=np.float64)
    drop_total = P[:, 0] - P[:, -1]
    drop_k = P[:, 0] - P[:, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(drop_total != 0, drop_k / drop_total, 0.0)
    return out


def lp1_app(trajectory: np.ndarray) -> np.ndarray:
    """LP1_app = (P_0 - P_1) / P_0 (0 when P_0 = 0)."""
    P = np.asarray(trajectory, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(P[:, 0] != 0, (P[:, 0] - P[:, 1]) / P[:, 0], 0.0)


def region_order(members: np.ndarray, scores: np.ndarray, region: str, take: int) -> np.ndarray:
    """`take` members of one cluster from the chosen region of the ascending-score order.

    low = the hardest (lowest LP) first; high = the easiest first; mid = a centred window, ordered from its
    hardest end. Ties keep row order (stable sort).
    """
    ranked = members[np.argsort(scores[members], kind="stable")]
    if region == "low":
        return ranked[:take]
    if region == "high":
        return ranked[::-1][:take]
    start = (len(ranked) - take) // 2
    return ranked[start:start + take]


def exact_quotas(clusters: np.ndarray, candidates: np.ndarray, required: np.ndarray, budget: int) -> np.ndarray:
    """Per-cluster counts of *new* picks so that required + picks = `budget`, proportional to cluster size.

    Each cluster's fair share of the whole budget is floor(B n_c / N) plus one more for the largest remainders
    (methods.md 3.6a). Required samples fill their cluster's share first; what they take beyond it is taken
    back from the other clusters in proportion to what those still have room for.
    """
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    size = np.bincount(clusters, minlength=n_clusters)
    avail = np.bincount(clusters[candidates], minlength=n_clusters)
    req = np.bincount(clusters[required], minlength=n_clusters) if len(required) else np.zeros(n_clusters, int)
    fair = apportion(budget, size.astype(np.float64), avail + req)
    need = budget - len(required)
    return apportion(need, np.maximum(fair - req, 0).astype(np.float64), avail)


def interleave(per_cluster: list[np.ndarray], sizes: np.ndarray) -> np.ndarray:
    """One pick order over clusters whose every prefix is close to proportional (Sainte-Lague priorities):
    the j-th pick of cluster c gets priority (j + 1/2) / n_c. Used to order the picks and cut token budgets."""
    rows, keys, cids = [], [], []
    for c, items in enumerate(per_cluster):
        if len(items):
            rows.append(items)
            keys.append((np.arange(len(items)) + 0.5) / max(int(sizes[c]), 1))
            cids.append(np.full(len(items), c))
    if not rows:
        return np.zeros(0, np.int64)
    order = np.lexsort((np.concatenate(cids), np.concatenate(keys)))
    return np.concatenate(rows)[order].astype(np.int64)


def reference_chunks(clusters: np.ndarray, candidates: np.ndarray, scores: np.ndarray, percent: float,
                     region: str) -> list[np.ndarray]:
    """The released code's selection (methods.md 3.2 step 5): per cluster, sort ascending by LP, split with
    np.array_split into round(100/p) parts and keep chunk 0 (low), the middle chunk (mid) or the last (high).
    Chunk 0 has ceil(n_c / parts) rows, which is why "10%" selects 10.8-11% of Dolly."""
    parts = max(1, int(round(100.0 / percent)))
    chunk = {"low": 0, "mid": parts // 2, "high": parts - 1}[region]
    out = []
    for c in range(int(clusters.max()) + 1 if len(clusters) else 0):
        members = np.flatnonzero((clusters == c) & candidates)
        ranked = members[np.argsort(scores[members], kind="stable")]
        out.append(np.array_split(ranked, parts)[chunk] if len(ranked) else ranked)
    return out
