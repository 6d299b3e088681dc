"""Markdown building blocks: tables and number formats (pure functions, unit-tested)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.report.stats import mean_std, within_spread

NOT_RUN = "*not run*"
FIGURES = "figures"  # PNGs live in this folder next to the report


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; None cells print empty, floats with 3 significant decimals."""
    def cell(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return "n/a" if not np.isfinite(v) else f"{v:.3f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def seeds_cell(values: Sequence[float], digits: int = 3) -> str:
    """One value as is; several (seeds) as mean ± sd (n)."""
    vals = [v for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return NOT_RUN
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    m, s = mean_std(vals)
    return f"{m:.{digits}f} ± {s:.{digits}f} (n={len(vals)})"


def versus_random(value: float, random_values: Sequence[float], lower_is_better: bool, digits: int = 3) -> str:
    """A method's figure with its verdict against random's seeds: within spread, better or worse."""
    if value is None or not np.isfinite(value):
        return NOT_RUN
    if len([v for v in random_values if np.isfinite(v)]) < 2:
        return f"{value:.{digits}f}"
    if within_spread(value, random_values):
        return f"{value:.{digits}f} (≈ random)"
    m, _ = mean_std(random_values)
    better = value < m if lower_is_better else value > m
    return f"**{value:.{digits}f}** ({'better' if better else 'worse'} than random)"


def section(title: str, body: str | None, level: int = 2) -> str:
    return f"{'#' * level} {title}\n\n{body if body else NOT_RUN}\n"


def image(path: str, alt: str) -> str:
    return f"![{alt}]({FIGURES}/{path})"
