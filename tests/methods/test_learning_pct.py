"""Learning percentage from hand-made perplexity trajectories: LP1, LP1_app, exact per-cluster budgets, the
reference chunking, and trajectories/clusters read from files (never pickle)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation.errors import InputError
from curation.methods import runner
from curation.methods.budgets import apportion
from curation.methods.kernels.lp_scores import exact_quotas, lp1, lp1_app, reference_chunks
from curation.workspace import runs, samples

FAKE = {"engine": "fake"}

# P0, P1, P2, P3 per sample, with LP1 and LP1_app worked out by hand
TRAJ = np.array([
    [10.0, 4.0, 3.0, 2.0],  # LP1 = 6/8 = 0.75,  LP1_app = 0.6
    [10.0, 8.0, 4.0, 2.0],  # LP1 = 2/8 = 0.25,  LP1_app = 0.2
    [5.0, 5.0, 5.0, 5.0],   # no drop: LP1 = 0 (guard), LP1_app = 0
    [4.0, 1.0, 2.0, 3.0],   # rose again after epoch 1: LP1 = 3/1 = 3 (out of range), LP1_app = 0.75
    [8.0, 6.0, 5.0, 4.0],   # LP1 = 2/4 = 0.5,   LP1_app = 0.25
])


def test_lp1_and_lp1_app_by_hand():
    np.testing.assert_allclose(lp1(TRAJ), [0.75, 0.25, 0.0, 3.0, 0.5])
    np.testing.assert_allclose(lp1_app(TRAJ), [0.6, 0.2, 0.0, 0.75, 0.25])
    np.testing.assert_allclose(lp1(TRAJ[:, :3]), [6 / 7, 2 / 6, 0.0, 3 / 2, 2 / 3])  # E = 2


def test_apportion_is_exact_and_proportional():
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = rng.integers(1, 40, rng.integers(1, 30))
        total = int(rng.integers(0, sizes.sum() + 1))
        got = apportion(total, sizes.astype(float), sizes)
        assert got.sum() == total and (got <= sizes).all() and (got >= 0).all()
        exact = total * sizes / sizes.sum()
        if (exact <= sizes).all():  # no cap binds: largest remainder is within 1 of the exact share
            assert (np.abs(got - exact) < 1).all()


def test_exact_quotas_respect_required_and_budget():
    clusters = np.repeat(np.arange(4), [10, 20, 30, 40])
    candidates = np.ones(100, bool)
    required = np.array([0, 1, 2, 3, 4])  # all in cluster 0, more than its fair share of 10% (= 1)
    candidates[required] = False
    candidates[50:55] = False  # rejected
    q = exact_quotas(clusters, candidates, required, 10)
    assert q.sum() == 5 and q[0] == 0  # cluster 0 is full with its required samples
    assert (q <= np.bincount(clusters[candidates], minlength=4)).all()


def test_reference_chunks_overshoot_like_the_release():
    # 1000 clusters of 15 and "10%": round(100/10) = 10 parts, chunk 0 = ceil(15/10) = 2 per cluster = 13.3%
    clusters = np.repeat(np.arange(1000), 15)
    scores = np.random.default_rng(1).random(len(clusters))
    chunks = reference_chunks(clusters, np.ones(len(clusters), bool), scores, 10.0, "low")
    assert sum(len(c) for c in chunks) == 2000
    members = np.flatnonzero(clusters == 7)
    assert set(chunks[7]) == set(members[np.argsort(scores[members])][:2])  # the two hardest of the cluster


@pytest.fixture(scope="module")
def lp_ws(dolly_workspace):
    ws = dolly_workspace(120)
    return ws, ws.root.parent


def _files(root, ids, traj, clusters):
    """The same trajectories and clusters in every supported format."""
    np.save(root / "traj.npy", traj)
    np.save(root / "clusters.npy", clusters)
    (root / "traj.json").write_text(json.dumps({s: t.tolist() for s, t in zip(ids, traj)}))
    (root / "clusters.json").write_text(json.dumps({str(i): int(c) for i, c in enumerate(clusters)}))
    with open(root / "traj.csv", "w") as fh:
        fh.write("sample_id,p0,p1,p2,p3\n")
        for s, t in zip(ids, traj):
            fh.write(f"{s}," + ",".join(str(v) for v in t) + "\n")
    with open(root / "clusters.jsonl", "w") as fh:
        for i, c in enumerate(clusters):
            fh.write(json.dumps({"row": i, "cluster": int(c)}) + "\n")


@pytest.mark.parametrize("score", ["lp1", "lp1_app"])
@pytest.mark.parametrize("fmt", [("traj.npy", "clusters.npy"), ("traj.json", "clusters.json"),
                                 ("traj.csv", "clusters.jsonl")])
def test_selection_from_files_is_exact_and_picks_the_hardest(lp_ws, score, fmt):
    ws, root = lp_ws
    ids = samples.ids(ws)
    n = len(ids)
    rng = np.random.default_rng(3)
    p0 = rng.uniform(5, 15, n)
    traj = np.stack([p0, p0 * rng.uniform(0.3, 0.9, n), p0 * 0.3, p0 * 0.2], axis=1)
    clusters = np.arange(n) % 6
    _files(root, ids, traj, clusters)
    budget = 21  # 3.5 per cluster: exact only with largest-remainder quotas
    config = {"score": score, "trajectories_file": str(root / fmt[0]), "clusters_file": str(root / fmt[1])}
    run_id = runner.start_run(ws, "learning_pct", budget=budget, config=config, models=FAKE)
    runner.run_selection(ws, run_id)
    selected = runs.iteration(ws, run_id).selected
    assert len(selected) == budget
    # independent reference: quotas 4,4,4,3,3,3 (remainders to the lowest clusters), lowest LP in each
    lp = lp1(traj) if score == "lp1" else lp1_app(traj)
    expected = set()
    for c, q in enumerate([4, 4, 4, 3, 3, 3]):
        members = np.flatnonzero(clusters == c)
        expected |= {ids[i] for i in members[np.argsort(lp[members], kind="stable")][:q]}
    assert set(selected) == expected
    frame = runs.scores(ws, runs.iteration(ws, run_id)).set_index("sample_id")
    np.testing.assert_allclose(frame.loc[ids, "learning_percentage"], lp)


def test_reference_budget_mode_reproduces_the_overshoot(lp_ws):
    ws, root = lp_ws
    ids = samples.ids(ws)
    n = len(ids)
    traj = np.stack([np.full(n, 10.0), np.linspace(2, 9, n), np.full(n, 1.5), np.full(n, 1.0)], axis=1)
    np.save(root / "t.npy", traj)
    np.save(root / "c.npy", np.arange(n) % 40)  # 40 clusters of 3
    config = {"trajectories_file": str(root / "t.npy"), "clusters_file": str(root / "c.npy"),
              "budget_mode": "reference_chunks"}
    run_id = runner.start_run(ws, "learning_pct", budget="10%", config=config, models=FAKE)
    runner.run_selection(ws, run_id)
    assert len(runs.iteration(ws, run_id).selected) == 40  # chunk 0 of 10 parts of 3 = 1 per cluster, not 12


def test_bad_files_are_located_errors(lp_ws):
    ws, root = lp_ws
    ids = samples.ids(ws)
    (root / "bad.csv").write_text("sample_id,p0,p1\n" + "\n".join(f"{s},1,x" for s in ids))
    (root / "short.json").write_text(json.dumps({ids[0]: [1, 2]}))
    np.save(root / "obj.npy", np.array([{"a": 1}] * len(ids), dtype=object), allow_pickle=True)
    from curation.methods.kernels.lp_inputs import load_trajectories

    records = list(samples.get_many(ws, ids)[s] for s in ids)
    with pytest.raises(InputError, match=r"bad.csv:2: cannot read"):
        load_trajectories(root / "bad.csv", ids, records)
    with pytest.raises(InputError, match="119 pool samples have no trajectory"):
        load_trajectories(root / "short.json", ids, records)
    with pytest.raises(InputError, match="obj.npy"):
        load_trajectories(root / "obj.npy", ids, records)
    (root / "dump.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(InputError, match="never pickle"):
        load_trajectories(root / "dump.pkl", ids, records)


def test_selector_trajectory_is_recorded_per_epoch(lp_ws):
    ws, _ = lp_ws
    run_id = runner.start_run(ws, "learning_pct", budget=12, config={"epochs": 3}, models=FAKE)
    runner.run_selection(ws, run_id)
    frame = runs.scores(ws, runs.iteration(ws, run_id))
    P = frame[["ppl_0", "ppl_1", "ppl_2", "ppl_3"]].to_numpy()
    assert np.isfinite(P).all() and (P[:, 0] > P[:, 3]).all()  # training lowered every perplexity
    np.testing.assert_allclose(frame["learning_percentage"], lp1(P))
    app = runner.start_run(ws, "learning_pct", budget=12, config={"score": "lp1_app"}, models=FAKE)
    runner.run_selection(ws, app)
    assert {"ppl_0", "ppl_1"} <= set(runs.scores(ws, runs.iteration(ws, app)).columns)


def test_unscorable_rows_in_a_file_are_never_picked_and_infinities_refused(lp_ws):
    """A recorded trajectory has NaN for unscorable samples; reloading it must work and never pick them as hard."""
    ws, root = lp_ws
    ids = samples.ids(ws)
    n = len(ids)
    p0 = np.linspace(5, 15, n)
    traj = np.stack([p0, p0 * 0.5], axis=1)  # every LP1_app = 0.5 ...
    traj[:10, 1] = p0[:10] * 0.9  # ... except the 10 hardest (LP1_app 0.1)
    traj[:5] = np.nan  # five of those could not be scored
    np.save(root / "nan_traj.npy", traj)
    config = {"score": "lp1_app", "trajectories_file": str(root / "nan_traj.npy"), "n_clusters": 1}
    run_id = runner.start_run(ws, "learning_pct", budget=5, config=config, models=FAKE)
    runner.run_selection(ws, run_id)
    assert set(runs.iteration(ws, run_id).selected) == set(ids[5:10])  # the scorable hard ones, by hand
    traj[0, 0] = np.inf
    np.save(root / "inf_traj.npy", traj)
    from curation.methods.kernels.lp_inputs import load_trajectories

    records = list(samples.get_many(ws, ids)[s] for s in ids)
    with pytest.raises(InputError, match=f"inf_traj.npy.*{ids[0]} has an infinite perplexity"):
        load_trajectories(root / "inf_traj.npy", ids, records)
