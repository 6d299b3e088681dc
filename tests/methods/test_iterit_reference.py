"""IterIT's per-epoch window, selection and stored order equal an independent port of the reference's
`SupervisedDataset.update` rule (methods.md 2.2), on real Dolly responses with the fake engine's IFD scores.

The port is written from the description alone: it calls no curation kernel (its TF-IDF is scikit-learn's, its
greedy the port in test_tfidf_greedy.py). The fake engine only supplies the model: IFD under the current state,
and one epoch of "training" on the epoch's picks, exactly as the method calls it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curation.methods import runner
from curation.methods.engines.base import TrainSettings
from curation.methods.engines.fake_engine import FakeEngine
from curation.workspace import runs, samples
from tests.methods.test_tfidf_greedy import reference_greedy, reference_tfidf

K, EPOCHS, UPDATE_RATIO, DECAY = 10, 3, 3.0, 0.1


def reference_update(order: list[int], s: np.ndarray, ifd_of, epoch: int, responses: list[str],
                     noisy_last: bool) -> tuple[list[int], list[int], list[int]]:
    """One epoch of the reference's update: (window, the k picks, the new stored order).

    1. window = every position at epoch 0, else the first update_ratio x k positions of the stored order;
    2. re-score the window (scores outside it stay stale);
    3. C = window rows with IFD < 1, X = those with IFD >= 1 (both in stored order); TF-IDF over C's responses,
       k greedy picks by IFD x decayed row sum; the rest of C by IFD, descending (stable);
    4. new order = picks ++ X ++ rest of C ++ outside the window (the reference), or with X moved to the end
       (the fix of pitfall 2.7b: X out of the next window)."""
    window = order if epoch == 0 else order[: math.ceil(UPDATE_RATIO * K)]
    s[window] = ifd_of(window)
    C = [i for i in window if s[i] < 1]
    X = [i for i in window if s[i] >= 1]
    picked, _ = reference_greedy(reference_tfidf([responses[i] for i in C]), s[C].astype(np.float64), K, DECAY)
    picks = [C[j] for j in picked]
    rest = [i for i in sorted(C, key=lambda i: -s[i]) if i not in set(picks)]
    outside = order[len(window):]
    new = picks + rest + outside + X if noisy_last else picks + X + rest + outside
    return window, picks, new


@pytest.mark.parametrize("reference_order", [True, False])
def test_iterit_epochs_follow_the_reference_update_rule(dolly_workspace, reference_order):
    ws = dolly_workspace(200)
    ids, records = zip(*samples.iter_records(ws))  # the pool in row order, as a run sees it
    run_id = runner.start_run(ws, "iterit", budget=K, models={"engine": "fake"},
                              config={"epochs": EPOCHS, "reference_order": reference_order})
    runner.run_selection(ws, run_id)
    its = runs.iterations(ws, run_id)

    engine = FakeEngine(list(records))
    model = engine.base("target")
    responses = [r.response for r in records]
    order, s = list(range(len(ids))), np.zeros(len(ids))
    for epoch, it in enumerate(its):
        window, picks, order = reference_update(
            order, s, lambda rows: engine.score(model, np.array(rows), direct=True).ifd, epoch, responses,
            noisy_last=not reference_order)
        assert it.metrics["window"] == len(window) == (len(ids) if epoch == 0 else UPDATE_RATIO * K)
        assert it.metrics["n_filler"] == 0
        assert it.selected == [ids[i] for i in picks], f"epoch {epoch}"
        frame = runs.scores(ws, it).sort_values("row")
        position = frame["order_position"].to_numpy()
        assert np.argsort(position).tolist() == order  # the whole stored order, window and outside
        np.testing.assert_array_equal(frame["complexity"].to_numpy(), s.astype(np.float32))  # stale outside
        engine.train(model, np.array(picks), TrainSettings(epochs=1, max_length=1024), seed=epoch)  # one epoch
    assert len(its) == EPOCHS
