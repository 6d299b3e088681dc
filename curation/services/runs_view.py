"""What the Select page's run views show, as frames and choices (pages/_runs_view.py only draws them):
the per-iteration table of a run's timeline, the side-by-side table of two runs, and which run a picker offers."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from curation.services.timeline import Band, IterationDiff
from curation.workspace import runs


def run_label(run: runs.Run) -> str:
    return f"run {run.run_id}: {run.name} ({run.method}, {run.status})"


def run_choices(all_runs: Sequence[runs.Run], *, default: int | None = None,
                exclude: int | None = None) -> tuple[list[int], int]:
    """Run ids a picker offers (newest first, without `exclude`) and the index to preselect (`default`, else 0)."""
    ids = [r.run_id for r in reversed(all_runs) if r.run_id != exclude]
    return ids, ids.index(default) if default in ids else 0


def baseline_missing(steps: Sequence[IterationDiff], baseline: dict[int, Band] | None) -> bool:
    """Whether some iteration's size has no random Vendi baseline yet."""
    return any(s.size not in (baseline or {}) for s in steps)


def iteration_table(steps: Sequence[IterationDiff], baseline: dict[int, Band] | None) -> pd.DataFrame:
    """One row per iteration: sizes, added/dropped/kept, the run's Vendi beside the random one, lengths, loss,
    and what the iteration's training really covered (samples and loss-carrying tokens, samples it skipped)."""
    rows = []
    for s in steps:
        band = (baseline or {}).get(s.size)
        rows.append({"iteration": s.iteration, "selected": s.size, "added": len(s.added), "dropped": len(s.dropped),
                     "kept": s.kept, "vendi (cosine)": s.metrics.get("vendi"),
                     "random vendi (cosine)": band[0] if band else None, "vendi (rbf)": s.metrics.get("vendi_rbf"),
                     "mean response chars": s.metrics.get("mean_response_chars"), "tokens": s.metrics.get("tokens"),
                     "train loss": _trained(s.metrics, "train_loss"),
                     "trained samples": _trained(s.metrics, "trained_samples"),
                     "trained tokens": _trained(s.metrics, "trained_tokens"),
                     "not trained": _trained(s.metrics, "n_train_skipped"), "seconds": s.metrics.get("seconds")})
    return pd.DataFrame(rows)


def _trained(metrics: dict, key: str) -> object:
    """A training metric of the iteration: the target's, or (learning percentage) its selector model's."""
    return metrics.get(key, metrics.get(f"selector_{key}"))


def comparison_table(pairs: Sequence[tuple[runs.Run, runs.Iteration]]) -> pd.DataFrame:
    """One row per (run, its iteration): size, Vendi, mean response length, tokens."""
    return pd.DataFrame([{"run": run_label(r), "iteration": it.iteration, "selected": len(it.selected),
                          "vendi (cosine)": it.metrics.get("vendi"), "vendi (rbf)": it.metrics.get("vendi_rbf"),
                          **{k: it.metrics.get(k) for k in ("mean_response_chars", "tokens")}}
                         for r, it in pairs])
