"""The Select page's timeline of a run: per iteration the Vendi score against a same-size random baseline,
response lengths, what was added and dropped, the selected samples with why each was chosen (comparing two
runs: pages/_runs_compare.py)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from curation.methods.budgets import Budget
from curation.services import plots, run_queue, runs_view, timeline
from curation.workspace import Workspace, runs, samples
from pages._common import md, shown_errors, start_worker
from pages._evaluation_panel import evaluation_section

_STATUS = {"created": ":material/schedule: queued", "running": ":material/sync: running",
           "done": ":material/check: done", "failed": ":material/error: failed",
           "cancelled": ":material/cancel: cancelled", "interrupted": ":material/pause_circle: interrupted"}


def pick_run(ws: Workspace, key: str, label: str, *, default: int | None = None, exclude: int | None = None):
    all_runs = runs.list_runs(ws)
    ids, index = runs_view.run_choices(all_runs, default=default, exclude=exclude)
    if not ids:
        return None
    by_id = {r.run_id: r for r in all_runs}
    chosen = st.selectbox(label, ids, index=index, key=key, format_func=lambda r: runs_view.run_label(by_id[r]))
    return by_id[chosen]


def timeline_view(ws: Workspace) -> None:
    run = pick_run(ws, "select_timeline_pick", "Run", default=st.session_state.get("select_timeline_run"))
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
                 column_config={"vendi (cosine)": st.column_config.NumberColumn(format="%.2f"),
                                "random vendi (cosine)": st.column_config.NumberColumn(format="%.2f"),
                                "vendi (rbf)": st.column_config.NumberColumn(format="%.1f"),
                                "mean response chars": st.column_config.NumberColumn(format="%.0f"),
                                "train loss": st.column_config.NumberColumn(format="%.4f")})
    evaluation_section(ws, run, [s.iteration for s in steps])
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
