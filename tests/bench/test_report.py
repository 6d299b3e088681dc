"""The evidence report's pure pieces (bench/report): statistics, tables, verdicts, the LP trajectory file and
the engine timing wrapper, on hand-made inputs. No model is loaded."""

from __future__ import annotations

import numpy as np
import pytest

from bench.report import markdown, stats
from bench.report.selections import TimedEngine, file_trajectory


def test_mean_std_uses_sample_sd_and_ignores_nan():
    m, s = stats.mean_std([1.0, 2.0, 3.0, float("nan")])
    assert m == pytest.approx(2.0)
    assert s == pytest.approx(1.0)  # sqrt(((1)^2 + 0 + 1^2) / 2)
    assert stats.mean_std([5.0]) == (5.0, 0.0)
    assert np.isnan(stats.mean_std([])[0])
    assert stats.fmt_mean_std([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"


def test_within_spread_two_sd_or_range():
    seeds = [10.0, 11.0, 12.0]  # mean 11, sd 1
    assert stats.within_spread(12.9, seeds)
    assert not stats.within_spread(13.5, seeds)
    assert not stats.within_spread(8.5, seeds)
    assert stats.within_spread(10.0, [10.0, 10.0, 10.0])  # sd 0 but inside the range
    assert not stats.within_spread(1.0, [])


def test_spearman_matches_scipy_with_ties_and_nan():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a = rng.integers(0, 6, 50).astype(float)
    b = a + rng.normal(0, 2, 50)
    a[3], b[7] = np.nan, np.nan
    ok = np.isfinite(a) & np.isfinite(b)
    assert stats.spearman(a, b) == pytest.approx(spearmanr(a[ok], b[ok]).statistic, abs=1e-12)
    assert stats.spearman(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)


def test_top_overlap_hand_made():
    a = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    b = np.array([0.2, 0.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 1.0])
    # lowest 20% = 2 rows: a -> {0, 1}, b -> {0, 1}
    assert stats.top_overlap(a, b, 0.2) == (1.0, 0.2, 2)
    # lowest 30%: a -> {0, 1, 2}, b -> {0, 1, 8}: 2 of 3
    overlap, chance, k = stats.top_overlap(a, b, 0.3)
    assert (overlap, chance, k) == (pytest.approx(2 / 3), pytest.approx(0.3), 3)
    # rows not finite in both are dropped before ranking
    b2 = b.copy()
    b2[0] = np.nan
    overlap, chance, k = stats.top_overlap(a, b2, 2 / 9)
    assert k == 2 and overlap == pytest.approx(0.5)  # a -> {1, 2}, b -> {1, 8}
    assert list(stats.lowest_fraction(np.array([3.0, 1.0, 1.0, np.nan, 2.0]), 0.5)) == [1, 2]


def test_table_formats_cells():
    text = markdown.table(["a", "b"], [[1.23456, None], ["x|y", float("nan")]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.235 |  |", "| x\\|y | n/a |"]


def test_seeds_cell_and_verdicts():
    assert markdown.seeds_cell([2.0]) == "2.000"
    assert markdown.seeds_cell([1.0, 2.0, 3.0], 1) == "2.0 ± 1.0 (n=3)"
    assert markdown.seeds_cell([float("nan")]) == markdown.NOT_RUN
    rand = [3.0, 3.1, 3.2]  # mean 3.1, sd 0.1
    assert markdown.versus_random(3.15, rand, lower_is_better=True) == "3.150 (≈ random)"
    assert markdown.versus_random(2.5, rand, lower_is_better=True) == "**2.500** (better than random)"
    assert markdown.versus_random(2.5, rand, lower_is_better=False) == "**2.500** (worse than random)"


def test_file_trajectory_orders_unscorable_rows_last_like_nan():
    from curation.methods.kernels.lp_scores import lp1_app

    traj = np.array([[10.0, 4.0], [np.nan, np.nan], [8.0, 7.9], [5.0, np.nan], [6.0, 0.5]])
    fixed = file_trajectory(traj)
    assert np.isfinite(fixed).all()
    lp = lp1_app(fixed)
    real = lp1_app(traj)
    assert np.all(lp[[1, 3]] == 1.0) and np.all(real[[0, 2, 4]] < 1.0)
    np.testing.assert_array_equal(lp[[0, 2, 4]], real[[0, 2, 4]])
    # the method's own key puts NaN at +inf: same ascending order
    key = np.where(np.isfinite(real), real, np.inf)
    assert list(np.argsort(lp, kind="stable")) == list(np.argsort(key, kind="stable"))


class _FakeEngine:
    models = {"engine": "fake"}

    def __init__(self, clock):
        self.clock = clock

    def train(self, model, rows, settings, *, seed, on_epoch_end=None, **_):
        self.clock[0] += 5.0
        on_epoch_end(1, model)  # scoring inside training must count as scoring only
        self.clock[0] += 1.0
        return {"train_loss": 0.0}

    def score(self, model, rows, **_):
        self.clock[0] += 2.0

    def embed(self, model, rows, **_):
        self.clock[0] += 3.0


def test_timed_engine_counts_nested_calls_once(monkeypatch):
    from types import SimpleNamespace

    from bench.report import selections

    clock = [0.0]
    monkeypatch.setattr(selections.time, "perf_counter", lambda: clock[0])
    eng = TimedEngine(_FakeEngine(clock))
    rows = np.arange(4)
    eng.train(None, rows, SimpleNamespace(epochs=2), seed=0, on_epoch_end=lambda e, m: eng.score(m, rows))
    eng.embed(None, rows)
    assert dict(eng.seconds) == {"score": 2.0, "train": 6.0, "embed_model": 3.0}
    assert eng.rows["train"] == 8 and eng.rows["score"] == 4
    assert eng.models == {"engine": "fake"}  # everything else is delegated


def test_evaluation_section_marks_intervals_that_exclude_zero():
    from bench.report import evaluation_section as E

    def d(mean, low, high):
        return {"mean": mean, "low": low, "high": high, "pairs": 5, "samples": 500, "method_loss": 2.0 + mean,
                "random_loss": 2.0}

    assert E.interval_cell(d(-0.02, -0.03, -0.01)) == "**-0.0200 [-0.0300, -0.0100]** lower"
    assert E.interval_cell(d(0.02, 0.01, 0.03)).endswith("higher")
    assert E.interval_cell(d(0.0, -0.01, 0.01)) == "+0.0000 [-0.0100, +0.0100]"
    models = [{"n_train": 20, "n_tokens": 3000, "loss": 2.0}] * 3
    cell = {"budget": 20, "valid": {"heldout": 500, "self_instruct": 174},
            "base": {"heldout": {"losses": [2.5]}, "self_instruct": {"losses": [2.6]}},
            "random": {"heldout": {"losses": [2.0, 2.1]}, "self_instruct": {"losses": [2.2, 2.2]}},
            "random_models": [{"n_train": 20, "n_tokens": 2500}] * 2,
            "methods": {"longest": {"models": models, "vs_random": {"heldout": d(-0.02, -0.03, -0.01),
                                                                    "self_instruct": d(0.0, -0.01, 0.01)},
                                    "vs_token_matched": {"heldout": d(0.01, 0.005, 0.02),
                                                         "self_instruct": d(0.0, -0.01, 0.01)},
                                    "token_matched_models": [{"n_train": 12, "n_tokens": 3000}] * 2}}}
    text = E.budget_table(cell)
    assert "| base model (not fine-tuned) | 1 |  |  | 2.5000 |" in text
    assert "| random (mean of its models) | 2 | 20 | 2500 | 2.0500 |" in text
    assert "| longest response | 3 | 20 | 3000 | 1.9800 | **-0.0200 [-0.0300, -0.0100]** lower |" in text
    assert "| token-matched random (Δ: longest response minus it) | 2 | 12 | 3000 | 2.0000 |" in text
    found = E.findings({"dolly": [cell]})
    assert found[0].startswith("Dolly pool at 20 samples, held-out Dolly loss against random: lower (better) "
                               "for longest response (-0.020); higher (worse) for none")
    assert "no difference at 95% for longest response" in found[1]
    cell["not_run"] = ["static_ifd"]  # an evaluation left for a later invocation is listed, not dropped
    assert "| static IFD | 0 | *not run* |" in E.budget_table(cell)
