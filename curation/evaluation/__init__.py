"""Evaluation: held-out sets checked against the pool and the selection, and whether a selection trains a better
model than random subsets of the same size (docs/evaluation.md).

    ids = carve(ws, rows=500)                                   # a held-out split, before the first run
    evaluation_id = create_evaluation(ws, run_id, config=EvaluateConfig(random_subsets=5, train_seeds=3))
    report = run_evaluation(ws, evaluation_id, progress=...)    # resumable; report.differences["selection"]
"""

from __future__ import annotations

from curation.evaluation.evaluate import EvaluateConfig, create_evaluation, run_evaluation
from curation.evaluation.heldout import carve, heldout_ids
from curation.evaluation.intervals import Interval, pair_by_seed, pair_differences, paired_bootstrap
from curation.evaluation.results import Report, report

__all__ = ["EvaluateConfig", "Interval", "Report", "carve", "create_evaluation", "heldout_ids", "pair_by_seed",
           "pair_differences", "paired_bootstrap", "report", "run_evaluation"]
