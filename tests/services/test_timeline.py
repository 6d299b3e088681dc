"""Run timelines (diffs, the same-size random Vendi baseline, why each sample was chosen), run comparison and
the run-time estimate, on fake-engine runs."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import CurationError
from curation.formats import importer
from curation.geometry.vendi import vendi_score
from curation.methods import registry, runner
from curation.methods.engines.fake_engine import FakeEngine
from curation.methods.estimate import EMBED_TEXTS_PER_S, estimate_run, mean_tokens
from curation.model.estimate import estimate_seconds
from curation.services import jobs, timeline
from curation.workspace import decisions, runs, samples
from tests.shared_data import DOLLY, ROOT, write_jsonl_head

FAKE = {"engine": "fake"}


@pytest.fixture(scope="module")
def pool_ws(tmp_path_factory):
    from curation.workspace import Workspace

    root = tmp_path_factory.mktemp("timeline")
    ws = Workspace(root / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, root / "dolly.jsonl", 120)))
    yield ws
    ws.close()


def it(number: int, selected: list[str]) -> runs.Iteration:
    return runs.Iteration(run_id=1, iteration=number, selected=selected, metrics={"vendi": float(number)})


def test_diffs_say_what_each_iteration_added_and_dropped():
    steps = timeline.diffs([it(0, ["a", "b"]), it(1, ["b", "c", "d"]), it(2, ["d", "a"])])
    assert [(s.iteration, s.size, s.added, s.dropped, s.kept) for s in steps] == [
        (0, 2, ["a", "b"], [], 0), (1, 3, ["c", "d"], ["a"], 1), (2, 2, ["a"], ["b", "c"], 1)]
    assert steps[2].metrics == {"vendi": 2.0}


def test_overlap_and_jaccard():
    both = timeline.overlap(["a", "b", "c"], ["b", "c", "d", "e"])
    assert (both.only_a, both.both, both.only_b) == (1, 2, 2) and both.jaccard == pytest.approx(2 / 5)
    assert timeline.overlap([], []).jaccard == 0.0


def test_random_vendi_is_the_spread_of_seeded_draws():
    X = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    candidates = np.arange(60) % 3 != 0
    bands = timeline.random_vendi(X, [5, 20, 20], candidates, draws=4, seed=7)
    assert sorted(bands) == [5, 20]
    rows = np.flatnonzero(candidates)
    for size, (mean, low, high) in bands.items():
        rng = np.random.default_rng([7, size])
        draws = [vendi_score(X[np.sort(rng.choice(rows, size, replace=False))]) for _ in range(4)]
        assert (mean, low, high) == pytest.approx((np.mean(draws), min(draws), max(draws)))
        assert low <= mean <= high
    with pytest.raises(CurationError, match="cannot draw"):
        timeline.random_vendi(X, [41], candidates)


def test_the_timeline_job_scores_random_subsets_with_the_runs_own_embedder(pool_ws):
    ids = samples.ids(pool_ws)
    decisions.record(pool_ws, ids[:10], "reject")
    run_id = runner.start_run(pool_ws, "diverse_evol", budget=30, config={"rounds": 2, "epochs": 1}, seed=3,
                              models=FAKE)
    decisions.record(pool_ws, ids[:10], "clear")  # after the start: the run's snapshot still excludes them
    runner.run_selection(pool_ws, run_id)
    job_id = jobs.submit(pool_ws, "timeline", {"run_id": run_id})
    jobs.run_pending(pool_ws)
    assert jobs.get(pool_ws, job_id).status == "done", jobs.get(pool_ws, job_id).error
    its = runs.iterations(pool_ws, run_id)
    sizes = [len(i.selected) for i in its]
    assert sizes == [10, 20, 30]
    baseline = timeline.load_baseline(pool_ws, run_id)
    records = [r for _, r in samples.iter_records(pool_ws)]
    X = FakeEngine(records).reference_embeddings(np.arange(len(records)))
    candidates = np.ones(len(ids), bool)
    candidates[:10] = False
    expected = timeline.random_vendi(X, sizes, candidates, seed=3)
    assert sorted(baseline) == sorted(expected)
    for size in expected:
        assert baseline[size] == pytest.approx(expected[size])
    # the selection's own Vendi (iteration metrics) uses the same embedder: a fair comparison
    assert its[-1].metrics["vendi"] == pytest.approx(vendi_score(X[[ids.index(s) for s in its[-1].selected]]))

    table = timeline.selected_table(pool_ws, its[1])
    assert table["id"].tolist() == its[1].selected and table["rank"].tolist() == list(range(1, 21))
    scores = runs.scores(pool_ws, its[1]).set_index("sample_id")
    assert table["reason"].tolist() == scores.loc[its[1].selected, "reason"].tolist()
    assert table["reason"].str.contains("farthest|initial").all()


def test_estimate_prices_model_work_by_the_measured_rates():
    tokens, response = mean_tokens(400, 800, 512)
    assert tokens == pytest.approx(1200 / 4 + 12) and response == pytest.approx(201)
    assert mean_tokens(4000, 8000, 512)[0] == 512  # capped at the method's max length
    ifd = estimate_run("static_ifd", registry.make_config("static_ifd"), n_pool=3000, n_select=150,
                       prompt_chars=400, response_chars=800, embedded=True)
    t, r = mean_tokens(400, 800, 1024)
    assert ifd.seconds == pytest.approx(estimate_seconds(3000, t, task="score", ifd=True, mean_response_tokens=r))
    kcenter = estimate_run("kcenter", registry.make_config("kcenter"), n_pool=3000, n_select=150,
                           prompt_chars=400, response_chars=800, embedded=False)
    assert kcenter.seconds == pytest.approx(3000 / EMBED_TEXTS_PER_S) and kcenter.describe() == "about 30 s"
    evol = estimate_run("diverse_evol", registry.make_config("diverse_evol", {"rounds": 4}), n_pool=3000,
                        n_select=500, prompt_chars=400, response_chars=800, embedded=True)
    assert len(evol.parts) == 2 and evol.seconds > ifd.seconds
    bigger = estimate_run("diverse_evol", registry.make_config("diverse_evol", {"rounds": 4}), n_pool=6000,
                          n_select=1000, prompt_chars=400, response_chars=800, embedded=True)
    assert bigger.seconds > evol.seconds


def test_the_estimate_needs_no_torch_and_equals_the_model_engines():
    """The app's process prices runs with the model engine's own formula without importing torch."""
    import subprocess
    import sys

    script = ("import sys, json\nfrom curation.methods.estimate import _estimate_seconds\nf = _estimate_seconds()\n"
              "print(json.dumps([f(3000, 250.0, task='score'), f(500, 300.0, task='train', epochs=3),"
              " f(100, 80.0, task='score', ifd=False, device='cuda'), 'torch' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    *values, torch_loaded = __import__("json").loads(done.stdout)
    assert not torch_loaded
    assert values == [estimate_seconds(3000, 250.0, task="score"), estimate_seconds(500, 300.0, task="train", epochs=3),
                      estimate_seconds(100, 80.0, task="score", ifd=False, device="cuda")]
