"""Duplicate groups, threshold previews and keeper rules against brute force; the sky-blue group on Dolly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation.errors import CurationError
from curation.geometry import dedup, index, pair_graph
from tests.shared_data import DOLLY


def brute_components(n: int, X: np.ndarray, texts: list[str], threshold: float) -> list[set[int]]:
    """Union-find over every pair with float64 cosine >= threshold or identical normalised text."""
    from curation.records import normalise

    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    S = X.astype(np.float64) @ X.astype(np.float64).T
    for a in range(n):
        for b in range(a + 1, n):
            if S[a, b] >= threshold or normalise(texts[a]) == normalise(texts[b]):
                parent[find(a)] = find(b)
    comps: dict[int, set[int]] = {}
    for a in range(n):
        comps.setdefault(find(a), set()).add(a)
    return [c for c in comps.values() if len(c) > 1]


def planted(n=400, d=32, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    for _ in range(40):
        base, member = rng.integers(n, size=2)
        X[member] = X[base] + rng.uniform(0.05, 0.7) * rng.standard_normal(d) / np.sqrt(d) * np.linalg.norm(X[base])
    texts = [f"text {i}" for i in range(n)]
    texts[7] = "  text   3 "  # an exact duplicate under normalisation, whatever the embedding says
    return index.normalize(X), texts


def test_groups_and_preview_equal_brute_force():
    X, texts = planted()
    result = dedup.scan(X, texts, floor=0.8)
    for t in (0.8, 0.9, 0.95, 0.99):
        expected = brute_components(len(X), X, texts, t)
        got = [set(g.tolist()) for g in result.groups(t)]
        assert sorted(map(sorted, got)) == sorted(map(sorted, expected))
        count = result.preview([t])[0]
        assert count.groups == len(expected)
        assert count.in_groups == sum(len(c) for c in expected)
        assert count.dropped == count.in_groups - count.groups
    with pytest.raises(CurationError):
        result.groups(0.7)  # below the floor: the pass did not look there


def test_preview_is_monotone():
    X, texts = planted(seed=1)
    counts = dedup.scan(X, texts, floor=0.8).preview([0.8, 0.85, 0.9, 0.95, 1.0])
    assert [c.pairs for c in counts] == sorted((c.pairs for c in counts), reverse=True)
    assert [c.dropped for c in counts] == sorted((c.dropped for c in counts), reverse=True)


def hand_scan():
    # rows 0,1,2 near each other; 3,4 identical texts; 5 alone
    X = index.normalize(np.array([[1, 0, 0], [1, 0.1, 0], [1, 0.2, 0.01], [0, 1, 0], [0, 1, 0], [0, 0, 1]]))
    texts = ["a", "b", "c", "Why is the sky blue?", "why is the sky blue?", "e"]
    texts[4] = "Why is  the sky blue? "
    return X, dedup.scan(X, texts, floor=0.9)


def test_keeper_rules():
    X, result = hand_scan()
    lengths = np.array([10, 30, 30, 5, 50, 1])
    drops = dedup.plan(result, 0.95, X=X, keeper="longest", response_chars=lengths)
    assert {d.row: d.keeper for d in drops} == {0: 1, 2: 1, 3: 4}  # ties (1, 2) go to the first seen
    assert [d.exact for d in drops] == [False, False, True]
    assert drops[0].cosine == pytest.approx(float(X[0] @ X[1]), abs=1e-6)
    drops = dedup.plan(result, 0.95, keeper="first")
    assert {d.row: d.keeper for d in drops} == {1: 0, 2: 0, 4: 3}
    drops = dedup.plan(result, 0.95, keeper="score", scores=np.array([0.1, np.nan, 0.9, 0.5, 0.4, 0.0]))
    assert {d.row: d.keeper for d in drops} == {0: 2, 1: 2, 4: 3}
    with pytest.raises(CurationError):
        dedup.plan(result, 0.95, keeper="score")


def test_protected_samples_are_kept_and_preferred():
    X, result = hand_scan()
    protected = np.array([True, False, True, False, False, False])
    drops = dedup.plan(result, 0.95, keeper="longest", response_chars=np.array([1, 99, 2, 1, 1, 1]),
                       protected=protected)
    assert {d.row: d.keeper for d in drops} == {1: 2, 4: 3}


def _plan_by_loop(scan, threshold, X, rank, protected):
    """Group by group, as the plan is defined: keep the best-ranked protected member (else the best-ranked of
    all), ties to the first row; drop every other unprotected member."""
    drops = []
    for group in scan.groups(threshold):
        shielded = group[protected[group]]
        pool = shielded if len(shielded) else group
        best = max(rank[pool])
        kept = min(int(r) for r in pool if rank[r] == best)
        for row in group:
            if row != kept and not protected[row]:
                cosine = 1.0 if X is None else float(np.dot(X[row].astype(np.float64), X[kept].astype(np.float64)))
                drops.append((int(row), kept, cosine, bool(scan.text_group[row] == scan.text_group[kept])))
    return sorted(drops)


@pytest.mark.parametrize("seed", range(6))
def test_plan_equals_a_group_by_group_loop(seed):
    rng = np.random.default_rng(seed)
    n = 400
    centres = rng.normal(size=(40, 16))
    X = centres[rng.integers(0, 40, n)] + rng.normal(scale=0.25, size=(n, 16))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    texts = [f"t{k}" for k in rng.integers(0, 300, n)]  # some exact duplicates too
    result = dedup.scan(X, texts, floor=0.8)
    lengths = rng.integers(1, 6, n).astype(float)  # few values: many ties
    lengths[rng.random(n) < 0.1] = np.nan
    protected = rng.random(n) < 0.15
    for threshold in (0.8, 0.9, 0.97):
        drops = dedup.plan(result, threshold, X=X, keeper="longest", response_chars=lengths, protected=protected)
        rank = np.where(np.isnan(lengths), -np.inf, lengths)
        expected = _plan_by_loop(result, threshold, X, rank, protected)
        got = [(d.row, d.keeper, d.cosine, d.exact) for d in drops]
        assert [g[:2] + g[3:] for g in got] == [e[:2] + e[3:] for e in expected]
        np.testing.assert_allclose([g[2] for g in got], [e[2] for e in expected], rtol=0, atol=1e-6)
        assert len(expected) > 20


def test_reasons():
    drop = dedup.Drop(row=1, keeper=0, cosine=0.9712, exact=False)
    assert dedup.reason(drop, "abc") == "near duplicate of abc, cosine 0.97"
    assert dedup.reason(dedup.Drop(1, 0, 1.0, True), "abc") == "exact duplicate of abc"


def test_exact_only_and_inactive_rows():
    texts = ["x", " x", "y", "x  ", "z"]
    result = dedup.scan(None, texts)
    assert [g.tolist() for g in result.groups(1.0)] == [[0, 1, 3]]
    result = dedup.scan(None, texts, active=np.array([True, False, True, True, True]))
    assert [g.tolist() for g in result.groups(1.0)] == [[0, 3]]


@pytest.mark.parametrize("method", ["exact", "flat", "ivf"])
def test_search_methods_agree(method):
    X, _ = planted(n=2000, d=32, seed=3)
    i, j, _ = dedup.near_pairs(X, 0.9, method=method)
    ref = set(zip(*[a.tolist() for a in dedup.near_pairs(X, 0.9, method="exact")[:2]]))
    got = set(zip(i.tolist(), j.tolist()))
    if method == "ivf":
        assert len(got & ref) / len(ref) >= 0.9 and got <= ref
    else:
        assert got == ref


@pytest.mark.slow
def test_dolly_sky_blue_group_in_a_workspace(ws, tmp_path):
    """Real data, real model: a Dolly slice holding the eight "Why is the sky blue?" rows."""
    from curation.formats.importer import import_source
    from curation.workspace import decisions, samples

    lines = DOLLY.read_text(encoding="utf-8").splitlines()
    sky = [ln for ln in lines if json.loads(ln)["instruction"] == "Why is the sky blue?"]
    assert len(sky) == 8
    subset = tmp_path / "dolly-slice.jsonl"
    subset.write_text("\n".join([ln for ln in lines[:250] if ln not in sky] + sky) + "\n", encoding="utf-8")
    import_source(ws, subset)
    ids = samples.ids(ws)
    pool = dedup.scan_pool(ws, floor=0.85)
    counts = pool.scan.preview([0.85, 0.95, 1.0])
    assert counts[0].dropped >= counts[1].dropped >= counts[2].dropped >= 6
    sky_ids = {ids[r] for r in range(len(ids)) if samples.get(ws, ids[r]).prompt == "Why is the sky blue?"}
    groups = [{ids[r] for r in g} for g in pool.scan.groups(0.95)]
    assert sky_ids in groups
    outcome = dedup.apply(ws, pool, 0.95, keeper="longest")
    keeper = max(sky_ids, key=lambda s: len(samples.get(ws, s).response))
    rejected = {s for s in sky_ids if decisions.state(ws, s).status == "rejected"}
    assert rejected == sky_ids - {keeper}
    assert all(decisions.state(ws, s).reason == f"exact duplicate of {keeper}" for s in rejected)
    assert all(decisions.state(ws, s).origin == "dedup" for s in rejected)
    assert len(outcome.dropped_ids) == counts[1].dropped
    # a second run finds nothing new to drop: rejected samples are out of the scan
    again = dedup.apply(ws, dedup.scan_pool(ws, floor=0.95), 0.95)
    assert again.dropped_ids == []


def test_cli_exact_only_dry_run_then_apply(ws, tmp_path, capsys):
    from curation.cli import main
    from curation.formats.importer import import_source
    from curation.workspace import decisions

    rows = [{"instruction": "Why is the sky blue?", "input": "", "output": "Rayleigh scattering."},
            {"instruction": "why is the sky  blue?", "input": "", "output": "Because of scattering, mostly."},
            {"instruction": "Why is the sky blue?", "input": "", "output": "Short."},
            {"instruction": "Name a colour.", "input": "", "output": "Red."}]
    src = tmp_path / "rows.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    import_source(ws, src)
    root = str(ws.root)
    assert main(["-w", root, "dedup", "--exact-only", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would reject 1 samples" in out  # "why is the sky  blue?" differs in case: not an exact duplicate
    assert decisions.counts(ws)["rejected"] == 0
    assert main(["-w", root, "dedup", "--exact-only", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["dropped"]) == 1 and report["dropped"][0]["reason"].startswith("exact duplicate of ")
    assert decisions.counts(ws)["rejected"] == 1
    assert main(["-w", root, "dedup", "--threshold", "1.5"]) == 2


def union_find_counts(n: int, pairs: list[tuple[int, int, float]], threshold: float) -> tuple[int, int, int]:
    """(pairs, groups, samples in groups) at `threshold` by a plain union-find over the pairs kept there."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    kept = [(a, b) for a, b, s in pairs if np.float32(s) >= np.float32(threshold)]
    for a, b in kept:
        parent[find(a)] = find(b)
    sizes: dict[int, int] = {}
    for a in range(n):
        sizes[find(a)] = sizes.get(find(a), 0) + 1
    grouped = [s for s in sizes.values() if s > 1]
    return len(kept), len(grouped), sum(grouped)


def test_a_many_threshold_preview_equals_a_union_find_at_each_threshold():
    """The one-pass preview (bands joined from the highest threshold down) against a union-find per threshold,
    on random pair graphs with similarities landing exactly on thresholds, in any order asked, repeats too."""
    rng = np.random.default_rng(11)
    for _ in range(4):
        n = int(rng.integers(30, 200))
        m = int(rng.integers(0, 3 * n))
        a, b = rng.integers(n, size=(2, m))
        keep = a < b
        grid = np.round(np.arange(0.85, 1.0001, 0.005), 3)
        sim = np.where(rng.random(m) < 0.3, rng.choice(grid, m), rng.uniform(0.85, 1.0, m)).astype(np.float32)
        result = dedup.Scan(n=n, floor=0.85, i=a[keep].astype(np.int64), j=b[keep].astype(np.int64),
                            sim=sim[keep], text_group=np.arange(n))
        pairs = list(zip(a[keep].tolist(), b[keep].tolist(), sim[keep].tolist()))
        asked = [float(t) for t in rng.permutation(grid)] + [0.9, 0.9]
        for count in result.preview(asked):
            assert (count.pairs, count.groups, count.in_groups) == union_find_counts(n, pairs, count.threshold)
            assert count.dropped == count.in_groups - count.groups
        assert [c.threshold for c in result.preview(asked)] == asked


def test_merging_exact_and_near_pairs_equals_a_dict_union_keeping_the_highest_similarity():
    rng = np.random.default_rng(5)
    n = 300
    near = sorted({(int(x), int(y)) for x, y in rng.integers(n, size=(2000, 2)) if x < y})
    near_sim = rng.uniform(0.85, 1.0, len(near)).astype(np.float32)
    exact = [(int(x), int(y)) for x, y in rng.integers(n, size=(80, 2)) if x < y] + near[:20]  # some in both
    reference: dict[tuple[int, int], float] = {}
    for pair, s in [*zip(near, near_sim.tolist()), *((p, 1.0) for p in exact)]:
        reference[pair] = max(reference.get(pair, -1.0), s)
    as_arrays = (lambda ps, ss: (np.array([p[0] for p in ps], np.int64), np.array([p[1] for p in ps], np.int64),
                                 np.asarray(ss, np.float32)))
    e = as_arrays(exact, np.ones(len(exact)))
    for near_arrays in (as_arrays(near, near_sim),  # in (i, j) order, as every near search gives them
                        as_arrays(near[::-1], near_sim[::-1])):  # any other order takes the general path
        i, j, s = pair_graph.merge_pairs(n, e, near_arrays)
        assert list(zip(i.tolist(), j.tolist())) == sorted(reference)
        np.testing.assert_array_equal(s, np.float32([reference[p] for p in sorted(reference)]))
    i, j, s = pair_graph.merge_pairs(n, e)  # exact pairs alone: each once, in order
    assert list(zip(i.tolist(), j.tolist())) == sorted(set(exact)) and (s == 1.0).all()


def test_text_groups_by_digest_group_exactly_as_the_normalised_texts_do():
    from curation.records import normalise

    texts = [r["instruction"] for r in map(json.loads, DOLLY.read_text(encoding="utf-8").splitlines()[:3000])]
    texts += [f"  {texts[5]}  ", texts[9].replace(" ", "   "), "", " "]
    groups = dedup.text_groups(iter(texts))  # any iterable: the pool's scan streams them
    by_text: dict[str, int] = {}
    expected = [by_text.setdefault(normalise(t), len(by_text)) for t in texts]
    np.testing.assert_array_equal(groups, expected)
