"""What the Select page shows of a run's evaluations: a table of models beside the run's Vendi and lengths, and
a figure of per-model held-out loss with each method's interval against random."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from curation.evaluation import results
from curation.services.plots import PALETTE, label
from curation.workspace import runs
from curation.workspace.db import Workspace

_ROLE_TITLES = {"base": "base model", "in_run": "in-run model", "selection": "selection", "random": "random"}


def evaluations_of(ws: Workspace, run_id: int) -> list[results.Evaluation]:
    return results.list_evaluations(ws, run_id)


def model_table(ws: Workspace, evaluation_id: int) -> pd.DataFrame:
    """One row per finished model: role, subset, seed, trained samples and tokens, skipped rows, held-out loss;
    the iteration's Vendi and mean response length beside the selection's rows."""
    report = results.report(ws, evaluation_id)
    metrics = runs.iteration(ws, report.evaluation.run_id, report.evaluation.iteration).metrics
    rows = [{"model": m.key.label, "role": _ROLE_TITLES[m.key.role], "subset": m.key.subset_index,
             "seed": m.key.seed, "trained samples": m.n_train, "trained tokens": m.n_tokens, "skipped": m.skipped,
             "held-out loss": m.heldout_loss, "seconds": round(m.seconds, 1),
             "reused from": f"evaluation {m.reused_from}" if m.reused_from else "",
             "vendi": metrics.get("vendi") if m.key.role == "selection" else None,
             "mean response chars": metrics.get("mean_response_chars") if m.key.role == "selection" else None}
            for m in report.models]
    return pd.DataFrame(rows)


def difference_table(ws: Workspace, evaluation_id: int) -> pd.DataFrame:
    """Per method role: mean held-out loss difference against random and its interval."""
    report = results.report(ws, evaluation_id)
    return pd.DataFrame([{"model": _ROLE_TITLES[role], "difference vs random": iv.mean, "low": iv.low,
                          "high": iv.high, "level": iv.level, "pairs": iv.pairs, "held-out samples": iv.samples}
                         for role, iv in report.differences.items()])


def loss_figure(ws: Workspace, evaluation_id: int) -> go.Figure:
    """Per-model held-out loss as points per role; for each method role a diamond at the random models' mean loss
    plus the difference, with the difference's interval as its error bar."""
    report = results.report(ws, evaluation_id)
    fig = go.Figure()
    by_role: dict[str, list[Any]] = {}
    for m in report.models:
        by_role.setdefault(m.key.role, []).append(m)
    for i, role in enumerate(results.ROLES):
        ms = by_role.get(role, [])
        if not ms:
            continue
        fig.add_trace(go.Scatter(x=[_ROLE_TITLES[role]] * len(ms), y=[m.heldout_loss for m in ms], mode="markers",
                                 name=label(_ROLE_TITLES[role]), text=[label(m.key.label) for m in ms],
                                 marker={"color": PALETTE[i % len(PALETTE)], "size": 9},
                                 hovertemplate="%{text}: %{y:.4f}<extra></extra>"))
    random_losses = [m.heldout_loss for m in by_role.get("random", [])]
    if random_losses:
        base = float(np.mean(random_losses))
        for role, iv in report.differences.items():
            fig.add_trace(go.Scatter(
                x=[_ROLE_TITLES[role]], y=[base + iv.mean], mode="markers", name=label(f"{_ROLE_TITLES[role]} "
                                                                                      "vs random"),
                marker={"symbol": "diamond", "size": 12, "color": "black"},
                error_y={"type": "data", "symmetric": False, "array": [iv.high - iv.mean],
                         "arrayminus": [iv.mean - iv.low]},
                hovertemplate=label(f"difference {iv.describe()}") + "<extra></extra>"))
    fig.update_layout(title=label(f"evaluation {evaluation_id}: held-out loss per model"),
                      yaxis_title="held-out loss (mean response NLL)", xaxis_title="model", showlegend=True)
    return fig
