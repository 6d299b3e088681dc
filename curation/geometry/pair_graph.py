"""The pairs a duplicate scan found, as a graph: its components at any threshold above the scan's floor, counts
for many thresholds in one pass, and the union of exact-text and near pairs in (i, j) order
(curation.geometry.dedup builds and uses them)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from curation.errors import CurationError
from curation.records import normalise


@dataclass(frozen=True)
class ThresholdCount:
    threshold: float
    pairs: int  # pairs with similarity >= threshold
    groups: int  # connected components with two or more samples
    in_groups: int  # samples in those groups
    dropped: int  # samples a dedup at this threshold would drop (in_groups - groups, before protection)


@dataclass(frozen=True)
class Scan:
    """All pairs at or above `floor` over `n` rows (i < j), plus which rows share an identical text."""

    n: int
    floor: float
    i: np.ndarray  # int64
    j: np.ndarray  # int64
    sim: np.ndarray  # float32; exact-text pairs carry 1.0
    text_group: np.ndarray  # int64 [n]: rows with equal normalised text share a value
    # component labels of the last few thresholds asked for: the page's counts, plan and groups at one threshold
    # are three questions about one labelling (a connected-components pass over up to 40M pairs at 1M rows)
    _labels: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _check(self, threshold: float) -> None:
        if threshold < self.floor - 1e-12:
            raise CurationError(f"threshold {threshold} is below the scan's floor {self.floor}; scan again lower")

    def _mask(self, threshold: float) -> np.ndarray:
        self._check(threshold)
        return self.sim >= threshold

    def labels(self, threshold: float) -> np.ndarray:
        """Component label of every row at `threshold` (singletons get their own label); read-only."""
        key = float(threshold)
        if key not in self._labels:
            m = self._mask(key)
            labels = _components(self.n, self.i[m], self.j[m])
            labels.setflags(write=False)
            while len(self._labels) >= 4:
                self._labels.pop(next(iter(self._labels)))
            self._labels[key] = labels
        return self._labels[key]

    def groups(self, threshold: float) -> list[np.ndarray]:
        """Groups of two or more rows (each sorted), ordered by their first row."""
        labels = self.labels(threshold)
        order = np.argsort(labels, kind="stable")
        bounds = np.flatnonzero(np.diff(labels[order])) + 1
        out = [g for g in np.split(order, bounds) if len(g) > 1]
        return sorted(out, key=lambda g: int(g[0]))

    def preview(self, thresholds: Sequence[float]) -> list[ThresholdCount]:
        """Counts at each threshold, from one pass over the pairs: thresholds are visited from the highest down,
        and each visit joins the components of the last with only the pairs in its band (a slider's 31
        thresholds over 40M pairs cost about one components pass, not 31)."""
        wanted = [float(t) for t in thresholds]
        for t in wanted:
            self._check(t)
        # compared in float32, as `sim >= threshold` compares (NumPy casts the Python float to the array's type)
        levels = np.unique(np.asarray(wanted, np.float32))[::-1]
        # band b: the pairs with levels[b] <= sim < levels[b - 1] (band 0: sim >= the highest level)
        band = np.searchsorted(-levels, -self.sim.astype(np.float32), side="left")
        band = band.astype(np.int16) if len(levels) < 2**15 else band
        comp = np.arange(self.n)
        pairs, counts = 0, {}
        for b, level in enumerate(levels.tolist()):
            edges = np.flatnonzero(band == b)
            pairs += len(edges)
            if len(edges):
                comp = _components(self.n, comp[self.i[edges]], comp[self.j[edges]])[comp]
            sizes = np.bincount(comp, minlength=1)
            grouped = sizes[sizes > 1]
            counts[level] = (pairs, len(grouped), int(grouped.sum()), int(grouped.sum() - len(grouped)))
        return [ThresholdCount(t, *counts[float(np.float32(t))]) for t in wanted]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each of n nodes under the undirected edges a[k] - b[k]."""
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def text_groups(texts: Iterable[str]) -> np.ndarray:
    """Row -> id of its normalised text (equal ids: exact duplicates). Texts are told apart by a 128-bit
    BLAKE2b digest of their normalised form, so a million prompts cost 16 bytes each here, not a second copy."""
    seen: dict[bytes, int] = {}
    return np.fromiter((seen.setdefault(hashlib.blake2b(normalise(t).encode("utf-8"), digest_size=16).digest(),
                                        len(seen)) for t in texts), dtype=np.int64)


def exact_pairs(groups_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row paired with the first row of its text group (a star: enough for the components)."""
    _, first = np.unique(groups_of, return_index=True)
    head = first[groups_of]
    rows = np.flatnonzero(head != np.arange(len(groups_of)))
    return head[rows].astype(np.int64), rows.astype(np.int64)


def merge_pairs(n: int, exact: tuple[np.ndarray, np.ndarray, np.ndarray],
           near: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the exact-text pairs and the near pairs, in (i, j) order; a pair in both keeps its highest
    similarity. The near search gives each pair once, in order, so the exact pairs (usually few) are looked up and
    slotted in, with no sort of the near pairs (40M at a million rows here)."""
    ei, ej, es = (np.asarray(a) for a in exact)
    order = np.lexsort((ej, ei))
    ei, ej, es = ei[order].astype(np.int64), ej[order].astype(np.int64), es[order].astype(np.float32)
    if near is None:
        return _highest_per_pair(n, ei, ej, es)
    ni, nj, ns = near
    key = np.asarray(ni, np.int64) * n + np.asarray(nj, np.int64)
    if len(key) > 1 and not np.all(key[1:] > key[:-1]):  # not from `near_pairs`: the general path
        del key
        return _highest_per_pair(n, np.concatenate([ei, ni]).astype(np.int64),
                                 np.concatenate([ej, nj]).astype(np.int64), np.concatenate([es, ns]).astype(np.float32))
    ei, ej, es = _highest_per_pair(n, ei, ej, es)
    ekey = ei * n + ej
    pos = np.searchsorted(key, ekey)
    hit = pos < len(key)
    hit[hit] = key[pos[hit]] == ekey[hit]
    del key, ekey
    ni, nj, ns = np.asarray(ni, np.int64), np.asarray(nj, np.int64), np.asarray(ns, np.float32)
    if hit.any():
        ns = ns.copy()
        ns[pos[hit]] = np.maximum(ns[pos[hit]], es[hit])
    miss = ~hit
    if not miss.any():
        return ni, nj, ns
    at = pos[miss]
    return np.insert(ni, at, ei[miss]), np.insert(nj, at, ej[miss]), np.insert(ns, at, es[miss])


def _highest_per_pair(n: int, i: np.ndarray, j: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair once, in (i, j) order, with its highest similarity."""
    key = i * n + j
    order = np.lexsort((-s, key))
    key, i, j, s = key[order], i[order], j[order], s[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    return i[first], j[first], s[first]
