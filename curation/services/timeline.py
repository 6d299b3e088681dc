"""A run's timeline: per iteration what was added and dropped, why each sample was chosen, and the Vendi score
against a same-size random baseline; and the comparison of two runs.

The baseline answers "is the method adding diversity, or would any subset of that size do as well?": for each
iteration's size s, `draws` random subsets of s samples (from those the run could pick: not rejected when it
started) are scored with the run's own reference embedder, the one its iteration metrics use. Embedding may
need a model, so the baseline is computed by a job (kind "timeline") and kept in `timeline/run_<id>.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curation.errors import CurationError
from curation.workspace import runs, samples
from curation.workspace.arrays import atomic_write_text
from curation.workspace.db import Workspace

Progress = Callable[[int, int, str], None]
Band = tuple[float, float, float]  # mean, lowest, highest Vendi of the random draws
DRAWS = 5


@dataclass(frozen=True)
class IterationDiff:
    iteration: int
    size: int
    added: list[str]  # selected now, not in the previous iteration (everything in the first)
    dropped: list[str]  # selected in the previous iteration, not now
    kept: int
    metrics: dict[str, Any]


def diffs(iterations: Sequence[runs.Iteration]) -> list[IterationDiff]:
    out: list[Any] = []
    before: list[str] = []
    for it in iterations:
        now = set(it.selected)
        previous = set(before)
        out.append(IterationDiff(iteration=it.iteration, size=len(it.selected),
                                 added=[s for s in it.selected if s not in previous],
                                 dropped=[s for s in before if s not in now], kept=len(now & previous),
                                 metrics=dict(it.metrics)))
        before = it.selected
    return out


@dataclass(frozen=True)
class Overlap:
    only_a: int
    both: int
    only_b: int

    @property
    def jaccard(self) -> float:
        union = self.only_a + self.both + self.only_b
        return self.both / union if union else 0.0


def overlap(a: Sequence[str], b: Sequence[str]) -> Overlap:
    sa, sb = set(a), set(b)
    return Overlap(only_a=len(sa - sb), both=len(sa & sb), only_b=len(sb - sa))


def random_vendi(X: np.ndarray, sizes: Sequence[int], candidates: np.ndarray | None = None, *,
                 draws: int = DRAWS, seed: int = 0, should_stop: Callable[[], bool] | None = None,
                 progress: Progress | None = None) -> dict[int, Band]:
    """Vendi of `draws` uniform random subsets of each size (rows where `candidates` is true)."""
    from curation.geometry.vendi import vendi_score

    rows = np.arange(len(X)) if candidates is None else np.flatnonzero(np.asarray(candidates, bool))
    out: dict[int, Band] = {}
    wanted = sorted({int(s) for s in sizes if s > 0})
    for number, size in enumerate(wanted):
        if size > len(rows):
            raise CurationError(f"cannot draw {size} random samples from {len(rows)} candidates")
        if should_stop is not None and should_stop():
            from curation.errors import Cancelled

            raise Cancelled("baseline cancelled")
        rng = np.random.default_rng([seed, size])
        scores = [vendi_score(X[np.sort(rng.choice(rows, size, replace=False))]) for _ in range(draws)]
        out[size] = (float(np.mean(scores)), float(np.min(scores)), float(np.max(scores)))
        if progress is not None:
            progress(number + 1, len(wanted), f"random baseline: {size} samples")
    return out


def baseline_path(ws: Workspace, run_id: int) -> Path:
    return ws.path("timeline", f"run_{run_id}.json")


def load_baseline(ws: Workspace, run_id: int) -> dict[int, Band] | None:
    path = baseline_path(ws, run_id)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(size): tuple(band) for size, band in data["sizes"].items()}


def compute_baseline(ws: Workspace, run_id: int, *, draws: int = DRAWS, progress: Progress | None = None,
                     should_stop: Callable[[], bool] | None = None) -> dict[int, Band]:
    """Random-baseline Vendi for every iteration size of a run, with the run's reference embedder; saved."""
    from curation.methods import runner
    from curation.methods.engines.base import make_engine

    run = runs.get(ws, run_id)
    its = runs.iterations(ws, run_id)
    if not its:
        raise CurationError(f"run {run_id} has no completed iteration yet")
    ids, records = [], []
    for sid, record in samples.iter_records(ws):
        ids.append(sid)
        records.append(record)
    engine = make_engine(ws, records, run.models)
    X = engine.reference_embeddings(np.arange(len(ids)), progress=progress, should_stop=should_stop)
    excluded = runner.load_constraints(ws, run_id, ids).excluded  # the run's own snapshot of rejections
    bands = random_vendi(X, [len(it.selected) for it in its], ~excluded, draws=draws, seed=run.seed,
                         should_stop=should_stop, progress=progress)
    atomic_write_text(baseline_path(ws, run_id), json.dumps({
        "run_id": run_id, "draws": draws, "embedder": run.models.get("embedder", "default"),
        "sizes": {str(s): list(b) for s, b in bands.items()}}, indent=1))
    return bands


def selected_table(ws: Workspace, it: runs.Iteration, *, preview: int = 160) -> pd.DataFrame:
    """The iteration's selected samples in pick order: why each was chosen (reason, gain, score components)."""
    scores = runs.scores(ws, it)
    frame = samples.frame(ws, it.selected) if it.selected else samples.frame(ws, [])
    table = pd.DataFrame({"rank": np.arange(1, len(it.selected) + 1), "id": it.selected})
    table["instruction"] = frame["prompt"].str.slice(0, preview).to_numpy()
    table["response_chars"] = frame["response_chars"].to_numpy()
    table["status"] = frame["status"].to_numpy()
    if scores is not None:
        picked = scores[scores["selected"]].set_index("sample_id").reindex(it.selected)
        table["reason"] = picked["reason"].to_numpy()
        numeric = [c for c in picked.columns if c not in ("row", "rank", "iteration", "selected", "excluded")
                   and pd.api.types.is_numeric_dtype(picked[c]) and picked[c].notna().any()]
        for column in numeric:
            table[column] = picked[column].to_numpy()
        if "train_skipped" in picked and (picked["train_skipped"].fillna("") != "").any():
            table["not trained"] = picked["train_skipped"].fillna("").to_numpy()  # why training skipped it
    return table


def score_columns(ws: Workspace, it: runs.Iteration) -> pd.DataFrame | None:
    """Every sample's numeric score components of an iteration (sample_id first), for colouring a map."""
    scores = runs.scores(ws, it)
    if scores is None:
        return None
    numeric = [c for c in scores.columns if c not in ("row", "rank", "iteration", "selected", "excluded")
               and pd.api.types.is_numeric_dtype(scores[c]) and scores[c].notna().any()]
    return scores[["sample_id", *numeric]]
