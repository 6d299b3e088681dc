"""Pure Plotly figure builders for the app: the pool map, length histograms, Vendi per iteration, run comparison.

No streamlit here: every builder takes arrays and returns a `plotly.graph_objects.Figure`, so tests can check
that a figure's data equals its inputs. Plotly renders a subset of HTML in hover labels (<b>, <br>, <a>...), so
user text goes through `escape` before it reaches a hover template, and every trace name, axis category and
title through `label`: `<`, `>` and `&` become entities, so a sample or a file name cannot inject markup or
links into the page.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

MISSING_COLOUR = "#c8c8c8"  # points without a value (not selected, no score)
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6",
           "#9d755d", "#2f4b7c", "#bab0ac", "#665191", "#a05195", "#d45087", "#003f5c", "#7a5195")


def escape(text: str, limit: int = 160, width: int = 60) -> str:
    """User text made safe for a Plotly hover label: one paragraph, cut to `limit` characters, wrapped at
    `width` with <br> (Plotly does not wrap), with `<`, `>` and `&` escaped."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    lines = textwrap.wrap(flat, width=width, break_long_words=True) or [""]
    return "<br>".join(html.escape(line, quote=False) for line in lines)


def label(text: object) -> str:
    """A trace name, legend entry, axis category or title: Plotly renders these as HTML too, so user text
    (a source file name, a run name) is escaped whole, never cut."""
    return html.escape(str(text), quote=False)


def hover_texts(instructions: Sequence[str], responses: Sequence[str], *, limit: int = 120) -> list[str]:
    """One hover label per sample: escaped instruction and response snippets under bold headings."""
    return [f"<b>Instruction</b><br>{escape(i, limit)}<br><b>Response</b><br>{escape(r, limit)}"
            for i, r in zip(instructions, responses)]


def _map_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "title": None}
    fig.update_layout(title=label(title) if title else None, height=height, dragmode="lasso", hovermode="closest",
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 40},
                      showlegend=True, xaxis=axis,
                      legend={"itemsizing": "constant", "orientation": "h", "y": -0.01, "yanchor": "top"},
                      yaxis={**axis, "scaleanchor": "x"},
                      uirevision="map")  # keeps zoom and pan across reruns
    return fig


def map_figure(coords: np.ndarray, colour: Sequence | np.ndarray, *, hover: Sequence[str],
               continuous: bool = False, colour_label: str = "", categories: Sequence | None = None,
               missing_label: str = "none", colours: Mapping[str, str] | None = None, title: str = "",
               height: int = 620, marker_size: int = 5, rows: np.ndarray | None = None,
               colour_range: tuple[float, float] | None = None) -> go.Figure:
    """The pool as a WebGL scatter. Each point's customdata is its row (what a lasso selection returns):
    `rows` when the points are a subset of the pool (services/map_figure.py draws one), else 0..n-1.

    Categorical colours (`continuous=False`) draw one trace per category (a legend entry each; `categories`
    fixes their order, `colours` may name a colour per category; None/NaN values are drawn grey, named
    `missing_label`). Continuous colours draw one trace on a
    colour scale (spanning `colour_range` when given: the whole pool's, for a subset); rows whose value is NaN
    go to a grey trace underneath.
    """
    coords = np.asarray(coords, dtype=np.float32)
    values = np.asarray(colour, dtype=object if not continuous else np.float64)
    hovers = np.asarray(list(hover), dtype=object)
    rows = np.arange(len(coords)) if rows is None else np.asarray(rows, dtype=np.int64)
    fig = go.Figure()
    template = "%{hovertext}<extra>%{fullData.name}</extra>"
    if continuous:
        value_hover = f"%{{hovertext}}<br>{label(colour_label or 'value')} %{{marker.color:.4g}}<extra></extra>"
        missing = ~np.isfinite(values)
        if missing.any():
            fig.add_trace(go.Scattergl(x=coords[missing, 0], y=coords[missing, 1], mode="markers",
                                       name=label(missing_label), marker={"size": marker_size, "color": MISSING_COLOUR},
                                       customdata=rows[missing], hovertext=hovers[missing], hovertemplate=template))
        shown = ~missing
        fig.add_trace(go.Scattergl(
            x=coords[shown, 0], y=coords[shown, 1], mode="markers", name=label(colour_label or "value"),
            marker={"size": marker_size, "color": values[shown], "colorscale": "Viridis", "showscale": True,
                    "colorbar": {"title": {"text": label(colour_label)}},
                    **({"cmin": colour_range[0], "cmax": colour_range[1]} if colour_range else {})},
            customdata=rows[shown], hovertext=hovers[shown],
            hovertemplate=value_hover))
        return _map_layout(fig, title, height)
    names = np.array([missing_label if _missing(v) else str(v) for v in values], dtype=object)
    order = ([str(c) for c in categories] if categories is not None
             else sorted(set(names) - {missing_label}, key=_natural))
    if missing_label in set(names) and missing_label not in order:
        order = [missing_label, *order]  # drawn first: underneath the coloured points
    for number, name in enumerate(order):
        mask = names == name
        if not mask.any():
            continue
        colour_of = (colours or {}).get(name) or (
            MISSING_COLOUR if name == missing_label else PALETTE[number % len(PALETTE)])
        fig.add_trace(go.Scattergl(x=coords[mask, 0], y=coords[mask, 1], mode="markers", name=label(name),
                                   marker={"size": marker_size, "color": colour_of}, customdata=rows[mask],
                                   hovertext=hovers[mask], hovertemplate=template))
    return _map_layout(fig, title, height)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value))


def _natural(label: str) -> tuple[int, float, str]:
    """Sort numbers as numbers ("2" before "10"), everything else alphabetically after them."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def length_histogram(series: Mapping[str, np.ndarray], *, bins: int = 40, title: str = "",
                     x_title: str = "response length (characters)", log_x: bool = True) -> go.Figure:
    """Overlaid histograms of lengths, normalised to percent so a pool and a small selection compare.

    All series share the same bins (on a log scale by default: lengths are heavy-tailed).
    """
    arrays = {name: np.asarray(v, dtype=np.float64) for name, v in series.items()}
    everything = np.concatenate([v for v in arrays.values() if len(v)] or [np.zeros(1)])
    lo, hi = float(max(everything.min(), 1.0)), float(max(everything.max(), 2.0))
    edges = np.geomspace(lo, hi * 1.0001, bins + 1) if log_x else np.linspace(0.0, hi * 1.0001, bins + 1)
    fig = go.Figure()
    for number, (name, values) in enumerate(arrays.items()):
        counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
        share = 100.0 * counts / max(1, len(values))
        fig.add_trace(go.Bar(x=np.sqrt(edges[:-1] * edges[1:]) if log_x else (edges[:-1] + edges[1:]) / 2,
                             y=share, width=np.diff(edges), name=label(f"{name} ({len(values):,})"), opacity=0.55,
                             marker={"color": PALETTE[number % len(PALETTE)]},
                             customdata=np.stack([edges[:-1], edges[1:], counts], axis=1),
                             hovertemplate="%{customdata[0]:.0f}–%{customdata[1]:.0f}: %{y:.1f}% "
                                           "(%{customdata[2]})<extra>%{fullData.name}</extra>"))
    fig.update_layout(barmode="overlay", title=label(title) if title else None, height=320, bargap=0,
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      xaxis={"title": x_title, "type": "log" if log_x else "linear"},
                      yaxis={"title": "% of samples"}, legend={"orientation": "h", "y": -0.25})
    return fig


def lengths_by_iteration(pool: np.ndarray, per_iteration: Mapping[int, np.ndarray], *,
                         title: str = "") -> go.Figure:
    """One box of response lengths per iteration, beside the pool's."""
    fig = go.Figure()
    fig.add_trace(go.Box(y=np.asarray(pool, np.float64), name="pool", marker={"color": MISSING_COLOUR},
                         boxpoints=False))
    for iteration, values in per_iteration.items():
        fig.add_trace(go.Box(y=np.asarray(values, np.float64), name=f"iteration {iteration}", boxpoints=False,
                             marker={"color": PALETTE[0]}))
    fig.update_layout(title=label(title) if title else None, height=320, showlegend=False, yaxis={"type": "log",
                      "title": "response length (characters)"}, margin={"l": 10, "r": 10, "t": 40 if title else 10,
                                                                         "b": 10})
    return fig


def vendi_timeline(iterations: Sequence[int], vendi: Sequence[float], *, sizes: Sequence[int],
                   baseline: Mapping[int, tuple[float, float, float]] | None = None,
                   title: str = "") -> go.Figure:
    """Vendi score per iteration, with a same-size random baseline: its mean (dashed) inside a band from the
    lowest to the highest draw. `baseline` maps a selection size to (mean, low, high)."""
    its = list(iterations)
    fig = go.Figure()
    if baseline:
        have = [(i, s) for i, s in zip(its, sizes) if s in baseline]
        x = [i for i, _ in have]
        mean, low, high = ([baseline[s][k] for _, s in have] for k in range(3))
        if len(x) > 1:  # a band needs two points; error bars show the range at any count
            fig.add_trace(go.Scatter(x=x, y=high, mode="lines", line={"width": 0}, name="random: highest draw",
                                     showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=x, y=low, mode="lines", line={"width": 0}, fill="tonexty",
                                     fillcolor="rgba(150,150,150,0.25)", name="random: range of draws"))
        fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name="random, same size (mean, range)",
                                 line={"dash": "dash", "color": "#888888"},
                                 error_y={"type": "data", "symmetric": False, "color": "#888888",
                                          "array": [h - m for h, m in zip(high, mean)],
                                          "arrayminus": [m - lo for m, lo in zip(mean, low)]}))
    fig.add_trace(go.Scatter(x=its, y=list(vendi), mode="lines+markers", name="selection",
                             line={"color": PALETTE[0], "width": 3}, customdata=list(sizes),
                             hovertemplate="iteration %{x}: Vendi %{y:.2f} (%{customdata} samples)<extra></extra>"))
    fig.update_layout(title=label(title) if title else None, height=320,
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      xaxis={"title": "iteration", "dtick": 1, "range": [min(its, default=0) - 0.5,
                                                                            max(its, default=0) + 0.5]},
                      yaxis={"title": "Vendi score"},
                      legend={"orientation": "h", "y": -0.3})
    return fig


def threshold_curve(thresholds: Sequence[float], dropped: Sequence[int], groups: Sequence[int], *,
                    current: float | None = None) -> go.Figure:
    """Samples a dedup would drop, and groups, for each threshold of a scan (the slider's preview)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(thresholds), y=list(dropped), mode="lines", name="samples dropped",
                             line={"color": PALETTE[3]}))
    fig.add_trace(go.Scatter(x=list(thresholds), y=list(groups), mode="lines", name="groups",
                             line={"color": PALETTE[0], "dash": "dot"}))
    if current is not None:
        fig.add_vline(x=current, line={"color": "#555555", "dash": "dash"})
    fig.update_layout(height=240, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"title": "cosine threshold"}, yaxis={"title": "count"},
                      legend={"orientation": "h", "y": -0.45})
    return fig


def run_comparison(name_a: str, name_b: str, *, only_a: int, both: int, only_b: int,
                   vendi_a: float | None, vendi_b: float | None, lengths_a: np.ndarray,
                   lengths_b: np.ndarray) -> go.Figure:
    """Two runs side by side: overlap of their selections, their Vendi scores, their response lengths."""
    from plotly.subplots import make_subplots

    name_a, name_b = label(name_a), label(name_b)
    fig = make_subplots(rows=1, cols=3, column_widths=[0.3, 0.2, 0.5],
                        subplot_titles=("overlap (samples)", "Vendi score", "response length (chars)"))
    for name, value, colour in ((f"only {name_a}", only_a, PALETTE[0]), ("both", both, PALETTE[2]),
                                (f"only {name_b}", only_b, PALETTE[1])):
        fig.add_trace(go.Bar(x=["selections"], y=[value], name=name, marker={"color": colour},
                             text=[value], textposition="inside", legendgroup="overlap"), row=1, col=1)
    fig.add_trace(go.Bar(x=[name_a, name_b], y=[vendi_a, vendi_b], marker={"color": [PALETTE[0], PALETTE[1]]},
                         showlegend=False, text=[_fmt(vendi_a), _fmt(vendi_b)], textposition="outside"),
                  row=1, col=2)
    for values, name, colour in ((lengths_a, name_a, PALETTE[0]), (lengths_b, name_b, PALETTE[1])):
        fig.add_trace(go.Box(y=np.asarray(values, np.float64), name=name, marker={"color": colour},
                             boxpoints=False, showlegend=False), row=1, col=3)
    fig.update_layout(barmode="stack", height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.15})
    fig.update_yaxes(type="log", row=1, col=3)
    return fig


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
