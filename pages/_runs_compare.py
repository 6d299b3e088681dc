"""The Select page's comparison of two runs' last iterations: overlap, Vendi, response lengths."""

from __future__ import annotations

import streamlit as st

from curation.services import plots, runs_view, timeline
from curation.workspace import Workspace, runs, samples
from pages._runs_view import pick_run


def compare_view(ws: Workspace) -> None:
    done = [r for r in runs.list_runs(ws) if runs.iterations(ws, r.run_id)]
    if len(done) < 2:
        st.info("Comparing needs two runs with at least one finished iteration.", icon=":material/compare_arrows:")
        return
    a_col, b_col = st.columns(2)
    with a_col:
        run_a = pick_run(ws, "select_compare_a", "Run A", default=done[-1].run_id)
    with b_col:
        run_b = pick_run(ws, "select_compare_b", "Run B", default=done[-2].run_id, exclude=run_a.run_id)
    last_a, last_b = runs.iterations(ws, run_a.run_id), runs.iterations(ws, run_b.run_id)
    if not last_a or not last_b:
        st.info("One of these runs has no finished iteration yet.", icon=":material/hourglass_empty:")
        return
    a, b = last_a[-1], last_b[-1]
    both = timeline.overlap(a.selected, b.selected)
    lengths = samples.response_chars(ws)
    tiles = st.columns(4)
    tiles[0].metric("In both", f"{both.both:,}")
    tiles[1].metric(f"Only run {run_a.run_id}", f"{both.only_a:,}")
    tiles[2].metric(f"Only run {run_b.run_id}", f"{both.only_b:,}")
    tiles[3].metric("Jaccard overlap", f"{both.jaccard:.2f}")
    st.plotly_chart(plots.run_comparison(
        f"run {run_a.run_id}", f"run {run_b.run_id}", only_a=both.only_a, both=both.both, only_b=both.only_b,
        vendi_a=a.metrics.get("vendi"), vendi_b=b.metrics.get("vendi"),
        lengths_a=lengths.reindex(a.selected).to_numpy(), lengths_b=lengths.reindex(b.selected).to_numpy()),
        key="select_compare_chart", config={"displaylogo": False})
    st.dataframe(runs_view.comparison_table([(run_a, a), (run_b, b)]), hide_index=True, key="select_compare_table",
                 column_config={"vendi (cosine)": st.column_config.NumberColumn(format="%.2f"),
                                "vendi (rbf)": st.column_config.NumberColumn(format="%.1f"),
                                "mean_response_chars": st.column_config.NumberColumn("mean response chars",
                                                                                     format="%.0f")})
