"""Figure builders: the figures carry exactly the data they were given, and user text in hover labels is escaped."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from curation.services import plots


def _hover_payloads(fig) -> list[str]:
    return [h for trace in fig.data for h in (trace.hovertext if trace.hovertext is not None else [])]


def test_escape_neutralises_markup_and_keeps_the_text():
    nasty = 'Click <a href="https://evil.test">here</a> & <b>win</b> <script>alert(1)</script>'
    out = plots.escape(nasty, limit=500, width=1000)
    assert "<" not in out and ">" not in out
    assert html.unescape(out) == nasty  # nothing lost, only encoded
    assert "&amp; " in out  # a bare ampersand is encoded too


def test_escape_cuts_folds_and_wraps():
    out = plots.escape("word " * 100, limit=50, width=20)
    lines = out.split("<br>")
    assert all(len(html.unescape(line)) <= 20 for line in lines)
    assert html.unescape(" ".join(lines)).endswith("…")
    assert len(html.unescape(" ".join(lines))) <= 50
    assert plots.escape("a\n\n  b\tc") == "a b c"


def test_hover_texts_escape_user_text_but_keep_our_own_tags():
    labels = plots.hover_texts(["<i>hi</i> & bye"], ["use <br> for breaks"])
    assert labels == ["<b>Instruction</b><br>&lt;i&gt;hi&lt;/i&gt; &amp; bye<br><b>Response</b><br>"
                      "use &lt;br&gt; for breaks"]
    # the only tags left are the ones the builder wrote
    assert set(re.findall(r"<[^>]+>", labels[0])) == {"<b>", "</b>", "<br>"}


def test_categorical_map_splits_points_by_colour_and_keeps_rows():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(9, 2)).astype(np.float32)
    colour = ["b", "a", None, "b", "a", "b", None, "a", "b"]
    hover = [f"h{i}" for i in range(9)]
    fig = plots.map_figure(coords, colour, hover=hover, missing_label="never")
    assert [t.name for t in fig.data] == ["never", "a", "b"]  # missing first (drawn underneath), then sorted
    assert all(t.type == "scattergl" for t in fig.data)
    seen = []
    for trace in fig.data:
        rows = np.asarray(trace.customdata)
        np.testing.assert_array_equal(trace.x, coords[rows, 0])
        np.testing.assert_array_equal(trace.y, coords[rows, 1])
        assert list(trace.hovertext) == [hover[r] for r in rows]
        label = trace.name if trace.name != "never" else None
        assert all(colour[r] == label for r in rows)
        seen += rows.tolist()
    assert sorted(seen) == list(range(9))  # every point exactly once
    assert fig.data[0].marker.color == plots.MISSING_COLOUR
    assert fig.layout.dragmode == "lasso"


def test_categorical_map_honours_order_and_colours():
    fig = plots.map_figure(np.zeros((3, 2)), ["x", "y", "x"], hover=["", "", ""], categories=["y", "x"],
                           colours={"x": "#123456"})
    assert [t.name for t in fig.data] == ["y", "x"]
    assert fig.data[1].marker.color == "#123456"


def test_continuous_map_puts_missing_values_in_a_grey_trace():
    coords = np.arange(10, dtype=np.float32).reshape(5, 2)
    values = np.array([0.5, np.nan, 2.0, 3.5, np.nan])
    fig = plots.map_figure(coords, values, hover=list("abcde"), continuous=True, colour_label="IFD <x>")
    missing, shown = fig.data
    assert list(missing.customdata) == [1, 4] and missing.marker.color == plots.MISSING_COLOUR
    assert list(shown.customdata) == [0, 2, 3]
    np.testing.assert_array_equal(shown.marker.color, [0.5, 2.0, 3.5])
    assert "IFD &lt;x&gt;" in shown.hovertemplate  # the label is escaped too


def test_length_histogram_shares_bins_and_normalises_each_series():
    pool = np.array([1, 10, 100, 1000, 10000, 10, 100, 100])
    sel = np.array([100, 1000])
    fig = plots.length_histogram({"pool": pool, "selection": sel}, bins=8)
    a, b = fig.data
    np.testing.assert_allclose(a.x, b.x)  # same bins
    assert a.name == "pool (8)" and b.name == "selection (2)"
    assert pytest.approx(sum(a.y)) == 100.0 and pytest.approx(sum(b.y)) == 100.0
    assert sum(a.customdata[:, 2]) == len(pool) and sum(b.customdata[:, 2]) == len(sel)
    # the counts per bin equal numpy's over the same edges
    edges = np.append(a.customdata[:, 0], a.customdata[-1, 1])
    np.testing.assert_array_equal(a.customdata[:, 2], np.histogram(pool, bins=edges)[0])


def test_vendi_timeline_draws_the_band_and_the_selection():
    baseline = {10: (4.0, 3.5, 4.5), 20: (6.0, 5.0, 7.0)}
    fig = plots.vendi_timeline([0, 1, 2], [5.0, 8.0, 9.0], sizes=[10, 20, 30], baseline=baseline)
    high, low, mean, selection = fig.data
    assert list(high.y) == [4.5, 7.0] and list(low.y) == [3.5, 5.0] and list(mean.y) == [4.0, 6.0]
    assert list(mean.x) == [0, 1]  # size 30 has no baseline yet: not drawn
    assert low.fill == "tonexty"
    assert list(selection.x) == [0, 1, 2] and list(selection.y) == [5.0, 8.0, 9.0]
    assert list(mean.error_y.array) == [0.5, 1.0] and list(mean.error_y.arrayminus) == [0.5, 1.0]
    assert list(plots.vendi_timeline([0], [1.0], sizes=[5]).data[0].y) == [1.0]  # no baseline: one trace
    mean, selection = plots.vendi_timeline([0], [5.0], sizes=[10], baseline=baseline).data  # one point: no band
    assert list(mean.y) == [4.0] and list(mean.error_y.array) == [0.5] and list(selection.y) == [5.0]


def test_lengths_by_iteration_and_threshold_curve():
    fig = plots.lengths_by_iteration(np.array([1, 2, 3]), {0: np.array([2]), 1: np.array([3, 3])})
    assert [t.name for t in fig.data] == ["pool", "iteration 0", "iteration 1"]
    assert list(fig.data[2].y) == [3, 3]
    curve = plots.threshold_curve([0.9, 0.95, 1.0], [5, 2, 0], [3, 1, 0], current=0.95)
    assert list(curve.data[0].y) == [5, 2, 0] and list(curve.data[1].y) == [3, 1, 0]
    assert curve.layout.shapes[0].x0 == 0.95


def test_run_comparison_carries_overlap_vendi_and_lengths():
    fig = plots.run_comparison("A", "B", only_a=3, both=7, only_b=1, vendi_a=12.5, vendi_b=None,
                               lengths_a=np.array([10, 20]), lengths_b=np.array([30]))
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.y[0] for t in bars[:3]] == [3, 7, 1]
    assert list(bars[3].y) == [12.5, None] and list(bars[3].text) == ["12.50", "n/a"]
    boxes = [t for t in fig.data if t.type == "box"]
    assert [list(b.y) for b in boxes] == [[10, 20], [30]]


CRAFTED = '<b>x</b> <a href="https://evil">y</a>'


def _texts(fig) -> list[str]:
    """Every piece of text a figure shows outside hover labels: trace names, legend and colour bar titles,
    category labels on the axes, bar texts, figure and axis titles."""
    out: list[str] = []
    for trace in fig.data:
        out.append(str(trace.name))
        for attr in ("x", "text"):
            values = getattr(trace, attr, None)
            if values is not None:
                out += [v for v in values if isinstance(v, str)]
        colorbar = getattr(getattr(trace, "marker", None), "colorbar", None)
        if colorbar is not None and colorbar.title.text:
            out.append(colorbar.title.text)
    layout = fig.to_plotly_json()["layout"]
    out.append(str(layout.get("title", "")))
    out += [a.get("text", "") for a in layout.get("annotations", [])]
    return out


def _assert_inert(fig) -> None:
    shown = _texts(fig)
    assert not [t for t in shown if "<b>" in t or "<a " in t or "</" in t], shown
    assert any(html.escape(CRAFTED, quote=False) in t or "&lt;b&gt;x" in t for t in shown)
    payload = fig.to_json()
    assert "<b>x" not in payload and "<a " not in payload


def test_every_trace_name_and_label_is_escaped():
    coords = np.zeros((3, 2), np.float32)
    _assert_inert(plots.map_figure(coords, [CRAFTED, "plain", CRAFTED], hover=["", "", ""]))
    _assert_inert(plots.map_figure(coords, [CRAFTED, None, "plain"], hover=["", "", ""], missing_label=CRAFTED))
    _assert_inert(plots.map_figure(coords, [1.0, np.nan, 2.0], hover=["", "", ""], continuous=True,
                                   colour_label=CRAFTED, missing_label=CRAFTED, title=CRAFTED))
    _assert_inert(plots.length_histogram({CRAFTED: np.array([10, 20])}, title=CRAFTED))
    _assert_inert(plots.lengths_by_iteration(np.array([1, 2]), {0: np.array([1])}, title=CRAFTED))
    _assert_inert(plots.vendi_timeline([0], [1.0], sizes=[5], title=CRAFTED))
    _assert_inert(plots.run_comparison(CRAFTED, "B", only_a=1, both=1, only_b=1, vendi_a=1.0, vendi_b=2.0,
                                       lengths_a=np.array([1]), lengths_b=np.array([2])))


def test_escaped_names_keep_their_colours_and_order():
    fig = plots.map_figure(np.zeros((2, 2)), [CRAFTED, "b"], hover=["", ""], categories=["b", CRAFTED],
                           colours={CRAFTED: "#123456"})
    assert [t.name for t in fig.data] == ["b", html.escape(CRAFTED, quote=False)]
    assert fig.data[1].marker.color == "#123456" and list(fig.data[1].customdata) == [0]


def test_colour_by_source_escapes_a_crafted_file_name(tmp_path):
    import json as json_lib

    from curation.formats import importer
    from curation.services import map_colours
    from curation.workspace import Workspace, samples

    name = '<b>x <a href="evil.test">y.jsonl'  # as much markup as a file name can hold (no "/")
    path = tmp_path / name
    path.write_text(json_lib.dumps({"instruction": "q <b>bold</b>", "input": "", "output": "a"}) + "\n")
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(path))
    texts = map_colours.hover_frame(ws)
    kw = map_colours.colour_values(ws, "source", texts=texts, clusters=[0], ids=samples.ids(ws))
    fig = plots.map_figure(np.zeros((1, 2)), hover=texts["hover"].tolist(), **kw)
    assert [t.name for t in fig.data] == [html.escape(name, quote=False)]
    assert "<b>x" not in fig.to_json() and "<a " not in fig.to_json() and "<b>bold" not in fig.to_json()
    ws.close()
