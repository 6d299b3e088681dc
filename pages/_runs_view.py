"""The Select page's views of finished work: a run's timeline (per iteration the Vendi score against a same-size
random baseline, response lengths, what was added and dropped, the selected samples with why each was chosen)
and the comparison of two runs (overlap, Vendi, lengths)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from curation.methods.budgets import Budget
from curation.services import plots, run_queue, runs_view, timeline
from curation.workspace import Workspace, runs, samples
from pages._common import md, shown_errors, start_worker

_STATUS = {"created": ":material/schedule: queued", "running": ":material/sync: running",
           "done": ":material/check: done", "failed": ":material/error: failed",
           "cancelled": ":material/cancel: cancelled", "interrupted": ":material/pause_circle: interrupted"}


def _pick_run(ws: Workspace, key: str, label: str, *, default: int | None = None, exclude: int | None = None):
    all_runs = runs.list_runs(ws)
    ids, index = runs_view.run_choices(all_runs, default=default, exclude=exclude)
    if not ids:
        return None
    by_id = {r.run_id: r for r in all_runs}
    chosen = st.selectbox(label, ids, index=index, key=key, format_func=lambda r: runs_view.run_label(by_id[r]))
    return by_id[chosen]


def timeline_view(ws: Workspace) -> None:
    run = _pick_run(ws, "select_timeline_pick", "Run", default=st.session_state.get("select_timeline_run"))
    if run is None:
        st.info("No runs yet: start one under *New run*.", icon=":material/inbox:")
        return
    st.session_state["select_timeline_run"] = run.run_id
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
    st.markdown(f"{_STATUS.get(run.status, md(run.status))} · **{md(run.method)}**, budget "
                f"{md(Budget.from_json(run.budget))}, seed {run.seed} · started {created}")
    if run.config:
        st.caption("Settings: " + md(", ".join(f"{k}={v}" for k, v in run.config.items())))
    if run.error:
        st.error(f"The run stopped: {md(run.error)}", icon=":material/error:")
    pending = run_queue.active_kinds(ws, run.run_id)
    active = "select" in pending
    if active:
        st.caption("The run is queued or running: its progress shows above; iterations appear here as they finish.")
    if run.status == "interrupted":
        st.warning("The process running this run stopped (killed or crashed); resume it to continue.",
                   icon=":material/pause_circle:")
    if run_queue.can_resume(ws, run) and st.button(
            "Resume the run", key=f"select_resume_{run.run_id}", icon=":material/play_arrow:",
            help="Continues after the last saved iteration; finished iterations are kept."):
        with shown_errors():
            run_queue.queue_resume(ws, run.run_id)
            start_worker(ws)
            st.rerun()
    its = runs.iterations(ws, run.run_id)
    if not its:
        st.info("No iteration has finished yet." if active or run.status == "created" else
                "This run saved no iteration.", icon=":material/hourglass_empty:")
        return
    steps = timeline.diffs(its)
    lengths = samples.response_chars(ws)
    baseline = timeline.load_baseline(ws, run.run_id)
    if runs_view.baseline_missing(steps, baseline) and not pending:
        if st.button("Compute the same-size random baseline", key=f"select_baseline_{run.run_id}",
                     icon=":material/casino:"):
            run_queue.queue_baseline(ws, run.run_id)
            start_worker(ws)
            st.rerun()

    vendi_col, length_col = st.columns(2)
    with vendi_col:
        vendi = [s.metrics.get("vendi", np.nan) for s in steps]
        st.plotly_chart(plots.vendi_timeline([s.iteration for s in steps], vendi, sizes=[s.size for s in steps],
                                             baseline=baseline, title="Vendi per iteration"),
                        key="select_vendi", config={"displaylogo": False})
    with length_col:
        per_it = {s.iteration: lengths.reindex(it.selected).to_numpy() for s, it in zip(steps, its)}
        st.plotly_chart(plots.lengths_by_iteration(lengths.to_numpy(), per_it, title="Response lengths"),
                        key="select_lengths", config={"displaylogo": False})
    st.dataframe(runs_view.iteration_table(steps, baseline), hide_index=True, key="select_iterations",
                 column_config={"vendi": st.column_config.NumberColumn(format="%.2f"),
                                "random vendi": st.column_config.NumberColumn(format="%.2f"),
                                "mean response chars": st.column_config.NumberColumn(format="%.0f"),
                                "train loss": st.column_config.NumberColumn(format="%.4f")})
    _iteration_detail(ws, run, its, steps, lengths)


def _iteration_detail(ws: Workspace, run: runs.Run, its: list[runs.Iteration], steps: list[timeline.IterationDiff],
                      lengths: pd.Series) -> None:
    numbers = [s.iteration for s in steps]
    chosen = st.selectbox("Iteration", numbers[::-1], key=f"select_iteration_{run.run_id}")
    step = next(s for s in steps if s.iteration == chosen)
    it = next(i for i in its if i.iteration == chosen)
    st.plotly_chart(plots.length_histogram({"pool": lengths.to_numpy(),
                                            f"iteration {chosen}": lengths.reindex(it.selected).to_numpy()},
                                           title=f"Response lengths: iteration {chosen} against the pool"),
                    key="select_iteration_lengths", config={"displaylogo": False})
    added_col, dropped_col = st.columns(2)
    for column, title, chosen_ids in ((added_col, "Added", step.added), (dropped_col, "Dropped", step.dropped)):
        with column:
            what = "versus the previous iteration" if chosen != numbers[0] else "(the first iteration)"
            st.markdown(f"**{title}** {what}: {len(chosen_ids):,}")
            if chosen_ids:
                frame = samples.frame(ws, chosen_ids[:500])
                st.dataframe(frame[["prompt", "response_chars", "status"]], hide_index=True, height=200,
                             key=f"select_{title.lower()}_{chosen}",
                             column_config={"prompt": st.column_config.TextColumn("instruction", width="medium"),
                                            "response_chars": st.column_config.NumberColumn("chars", width="small"),
                                            "status": st.column_config.TextColumn(width="small")})
    st.markdown(f"**Selected in iteration {chosen}** ({len(it.selected):,}), in pick order, with why each was chosen")
    table = timeline.selected_table(ws, it)
    st.dataframe(table, hide_index=True, key=f"select_table_{run.run_id}_{chosen}", height=320,
                 column_config={"instruction": st.column_config.TextColumn(width="medium"),
                                "reason": st.column_config.TextColumn(width="large")})


def compare_view(ws: Workspace) -> None:
    done = [r for r in runs.list_runs(ws) if runs.iterations(ws, r.run_id)]
    if len(done) < 2:
        st.info("Comparing needs two runs with at least one finished iteration.", icon=":material/compare_arrows:")
        return
    a_col, b_col = st.columns(2)
    with a_col:
        run_a = _pick_run(ws, "select_compare_a", "Run A", default=done[-1].run_id)
    with b_col:
        run_b = _pick_run(ws, "select_compare_b", "Run B", default=done[-2].run_id, exclude=run_a.run_id)
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
                 column_config={"vendi": st.column_config.NumberColumn(format="%.2f"),
                                "mean_response_chars": st.column_config.NumberColumn("mean response chars",
                                                                                     format="%.0f")})
