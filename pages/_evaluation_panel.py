"""The Select timeline's answer to "does this selection train a better model than random?": start an evaluation
of an iteration (a background job: fine-tune on the selection and on same-size random subsets, score a held-out
set), follow it, and read the held-out loss per model and each method's difference against random with its 95%
interval (curation.evaluation; the same as `python -m curation evaluate`)."""

from __future__ import annotations

import time

import streamlit as st

from curation.evaluation import EvaluateConfig, create_evaluation, heldout
from curation.services import evaluation_view
from curation.workspace import Workspace, runs
from pages._common import md, shown_errors
from pages._job_panel import job_panel, submit_once

HELP = ("Fine-tunes the run's target model on this iteration's selection and on random subsets of the same size "
        "(each with several training seeds), then compares their mean response loss on a held-out set. A "
        "negative difference means the selection trains a better model than random; the interval says whether "
        "that is more than chance (95%, bootstrap over held-out samples and seeds). Slow on a CPU: one training "
        "run per model.")


def evaluation_section(ws: Workspace, run: runs.Run, iterations: list[int]) -> None:
    st.subheader("Does it train better than random?", help=HELP)
    evaluations = evaluation_view.evaluations_of(ws, run.run_id)
    busy = job_panel(ws, ("evaluate",), where=f"select_evaluate_{run.run_id}",
                     match=lambda j: j.params.get("evaluation_id") in {e.evaluation_id for e in evaluations})
    with st.expander("Evaluate an iteration", expanded=not evaluations):
        _start_form(ws, run, iterations, busy)
    if evaluations:
        _results(ws, evaluations)


def _start_form(ws: Workspace, run: runs.Run, iterations: list[int], busy: bool) -> None:
    held = heldout.heldout_ids(ws)
    cols = st.columns(4)
    iteration = cols[0].selectbox("Iteration", iterations[::-1], key=f"eval_iteration_{run.run_id}")
    subsets = int(cols[1].number_input("Random subsets", 1, 50, 5, key="eval_subsets",
                                       help="Same-size random subsets of the pool, each drawn with its own seed."))
    seeds = int(cols[2].number_input("Training seeds", 1, 20, 3, key="eval_seeds",
                                     help="Each subset (and the selection) is trained this many times."))
    matched = cols[3].toggle("Token-matched", key="eval_token_matched",
                             help="Random subsets hold as many trained tokens as the selection, not as many rows.")
    sources = ["split", "file"]
    source = st.radio("Held-out set", sources, horizontal=True, key="eval_source", index=0 if held else 1,
                      format_func={"split": f"the held-out split ({len(held):,} samples)",
                                   "file": "a file (JSONL, CSV, Parquet, ...)"}.get)
    path = ""
    if source == "file":
        path = st.text_input("Held-out file", key="eval_file", placeholder="/data/heldout.jsonl").strip()
    elif not held:
        st.info("No held-out split yet. Carve one on the command line before the first run "
                "(`python -m curation heldout --rows 500`), or name a file.", icon=":material/call_split:")
    once = st.checkbox("Train each random subset once (seed r mod the seeds: fewer models)", key="eval_random_once",
                       help="R random models instead of R x S, each paired with the selection's model of its seed. "
                            "Models another evaluation here already trained are reused either way.")
    decontaminate = st.checkbox("Leave out held-out rows that near-duplicate a training row", value=True,
                                key="eval_decontaminate", help="Exact copies and cosine >= 0.9 on the embedding "
                                "in use; how many were left out shows with the results.")
    fast = st.checkbox("Score in bf16 where the hardware has it", key="eval_score_bf16",
                       help="About 1.8x faster held-out scoring on CPUs with AMX and on recent GPUs, but a row's loss "
                            "moves by up to ~0.03, as much as the differences measured. Off: exact fp32 losses.")
    ready = (source == "split" and bool(held)) or (source == "file" and bool(path))
    if st.button("Evaluate against random", key=f"eval_start_{run.run_id}", type="primary", disabled=busy or not ready,
                 icon=":material/science:"):
        with shown_errors():
            config = EvaluateConfig(random_subsets=subsets, train_seeds=seeds, token_matched=matched,
                                    each_random_once=once, heldout="split" if source == "split" else path,
                                    decontaminate=decontaminate, score_precision="auto" if fast else "fp32")
            evaluation_id = create_evaluation(ws, run.run_id, int(iteration), config)
            submit_once(ws, "evaluate", {"evaluation_id": evaluation_id})
            st.session_state[f"eval_shown_{run.run_id}"] = evaluation_id
            st.rerun()


def _results(ws: Workspace, evaluations: list) -> None:
    by_id = {e.evaluation_id: e for e in evaluations}
    ids = sorted(by_id, reverse=True)
    run_id = evaluations[0].run_id
    shown = st.session_state.get(f"eval_shown_{run_id}")
    chosen = st.selectbox("Evaluation", ids, index=ids.index(shown) if shown in ids else 0,
                          key=f"eval_pick_{run_id}", format_func=lambda i: _label(by_id[i]))
    evaluation = by_id[chosen]
    if evaluation.error:
        st.warning(f"Evaluation {chosen} stopped: {md(evaluation.error)}. Finished models are kept; start it "
                   "again to train the rest.", icon=":material/warning:")
        if st.button("Continue it", key=f"eval_resume_{chosen}", icon=":material/play_arrow:"):
            submit_once(ws, "evaluate", {"evaluation_id": chosen})
            st.rerun()
    differences = evaluation_view.difference_table(ws, chosen)
    if not differences.empty:
        st.dataframe(differences, hide_index=True, key=f"eval_differences_{chosen}",
                     column_config={c: st.column_config.NumberColumn(format="%.4f")
                                    for c in ("difference vs random", "low", "high")})
    models = evaluation_view.model_table(ws, chosen)
    if models.empty:
        st.caption("No model has finished yet.")
        return
    st.plotly_chart(evaluation_view.loss_figure(ws, chosen), key=f"eval_figure_{chosen}",
                    config={"displaylogo": False})
    st.dataframe(models, hide_index=True, key=f"eval_models_{chosen}",
                 column_config={"held-out loss": st.column_config.NumberColumn(format="%.4f"),
                                "vendi": st.column_config.NumberColumn(format="%.2f")})


def _label(e) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created))
    return f"evaluation {e.evaluation_id} · iteration {e.iteration} · {e.status} · {when}"
