"""Select: pick a method, set it up (a form built from its config dataclass), give a budget, see how long it
should take, and start it as a background job (progress and cancel here, in the sidebar and on the Jobs page;
it survives page switches, browser refreshes and server restarts). Then follow each run iteration by iteration
and compare two runs."""

from __future__ import annotations

import streamlit as st

from curation.backends import BackendConfig
from curation.errors import CurationError
from curation.methods import estimate, registry
from curation.methods.budgets import Budget
from curation.model.calibration import enabled as calibration_enabled
from curation.services import run_queue
from curation.services.config_form import form_fields as config_form_fields
from curation.workspace import Workspace, samples
from pages import _runs_compare, _runs_view
from pages._common import md, require_pool, shown_errors, start_worker, workspace
from pages._job_panel import job_panel, submit_once

VIEWS = ["New run", "Timeline", "Compare runs"]
BUDGET_KINDS = {"samples": "samples", "percent": "% of the pool", "tokens": "tokens"}

ws = workspace()
state = st.session_state
st.title("Select")
require_pool(ws)


def config_form(method: str) -> dict:
    """Widgets for every field of the method's config dataclass (type, default, choices and help from it)."""
    specs = config_form_fields(registry.get(method).config_cls)
    if not specs:
        st.caption("This method has no settings.")
        return {}
    columns, values = st.columns(3), {}
    for number, f in enumerate(specs):
        column, key, args = columns[number % 3], f"select_cfg_{method}_{f.name}", {"help": f.help}
        if f.widget == "choice":
            value = column.selectbox(f.label, f.options, index=f.options.index(f.default), key=key, **args)
        elif f.widget == "bool":
            value = column.checkbox(f.label, value=f.default, key=key, **args)
        elif f.widget == "int":
            value = int(column.number_input(f.label, value=int(f.default), step=1, key=key, **args))
        elif f.widget == "float":
            value = float(column.number_input(f.label, value=float(f.default), format="%g", step=f.step, key=key,
                                              **args))
        else:
            value = column.text_input(f.label, value=str(f.default), key=key, **args)
        values[f.name] = value
    return values


@st.cache_data(show_spinner="Reading the pool…", max_entries=4)
def pool_profile(root: str, digest: str) -> estimate.PoolProfile:
    return estimate.pool_profile(ws)


def budget_inputs(n_pool: int) -> Budget:
    kind_col, value_col = st.columns([2, 3])
    kind = kind_col.segmented_control("Budget in", list(BUDGET_KINDS), format_func=BUDGET_KINDS.get,
                                      default="percent", required=True, key="select_budget_kind",
                                      persist_state="session")
    if kind == "samples":
        value = value_col.number_input("Samples", 1, max(1, n_pool), min(n_pool, max(1, n_pool // 20)), step=1,
                                       key="select_budget_samples")
    elif kind == "tokens":
        value = value_col.number_input("Tokens", 1, None, 200_000, step=10_000, key="select_budget_tokens",
                                       help="Prompt + response tokens under the target model's tokenizer.")
    else:
        value = value_col.number_input("Percent of the pool", 0.1, 100.0, 5.0, step=0.5, format="%g",
                                       key="select_budget_percent")
    return Budget(kind, float(value))


def new_run(_ws: Workspace) -> None:
    names = registry.names()
    method = st.selectbox("Method", names, format_func=lambda m: f"{m}: {registry.get(m).title}",
                          key="select_method", persist_state="session")
    selector = registry.get(method)
    if selector.uses_model:
        st.caption(":material/model_training: Trains or scores with a causal LM (SmolLM2-135M by default): slow "
                   "on a CPU, see the estimate below.")
    with st.expander("Settings", expanded=False):
        values = config_form(method)
    n_pool = samples.count(ws)
    budget = budget_inputs(n_pool)
    seed_col, name_col = st.columns([1, 3])
    seed = int(seed_col.number_input("Seed", 0, None, 0, step=1, key="select_seed"))
    name = name_col.text_input("Run name (optional)", key="select_name", placeholder=f"{method} {budget}")
    with st.expander("Models"):
        engine = st.radio("Engine", ["model", "fake"], horizontal=True, key="select_engine",
                          format_func={"model": "real models", "fake": "fake (a deterministic stand-in: tries the "
                                       "pipeline in seconds, never for choosing data)"}.get)
        model_cols = st.columns(4)
        models = {"engine": engine,
                  "target": model_cols[0].text_input("Target model", key="select_target", placeholder="SmolLM2-135M"),
                  "selector": model_cols[1].text_input("Selector model", key="select_selector",
                                                       placeholder="SmolLM2-135M"),
                  "scorer": model_cols[2].text_input("Scorer model", key="select_scorer", placeholder="SmolLM2-135M"),
                  "device": model_cols[3].text_input("Device", key="select_device", placeholder="auto")}
    models = {k: v.strip() for k, v in models.items() if v.strip()}
    with st.expander("Run on Ray"):
        ray_cols = st.columns([2, 3, 1])
        if ray_cols[0].toggle("Model passes on Ray", key="select_ray", help="Embedding and scoring on Ray Data "
                              "actors (pip install -r requirements-ray.txt); training stays in the worker. local "
                              "starts a cluster in the worker, auto joins the running one, or give ray://host:port."):
            address = ray_cols[1].text_input("Ray address", "local", key="select_ray_address").strip() or "local"
            actors = int(ray_cols[2].number_input("Actors", 1, 1024, 1, key="select_ray_actors"))
            models |= BackendConfig(kind="ray", address=address, actors=actors).to_models()

    with shown_errors():
        config = registry.make_config(method, values)
        if engine == "fake":
            st.info("With the fake engine the run takes seconds.", icon=":material/timer:")
        else:
            profile = pool_profile(str(ws.root), samples.version(ws))  # append-only: count and last rowid
            guess, n_select = estimate.estimate_for_workspace(ws, method, config, budget, profile=profile,
                                                              models=models)
            detail = "; ".join(f"{md(what)}: {md(_seconds(s))}" for what, s in guess.parts if s >= 0.5)
            st.info(f"Estimated time: **{md(guess.describe())}**"
                    + ("" if guess.calibrated else f" ({estimate.NOT_CALIBRATED})")
                    + f" for about {n_select:,} of {n_pool:,} samples"
                    + (f" ({detail})." if detail else ". No model work: selection takes seconds."),
                    icon=":material/timer:")
            if not guess.calibrated and selector.uses_model and calibration_enabled():
                calibration(method, values, models)
        if st.button("Start the run", key="select_start", type="primary", icon=":material/play_arrow:"):
            queued = run_queue.queue_run(ws, method, budget=budget, config=config, seed=seed, models=models,
                                         name=name.strip())
            start_worker(ws)
            state["select_timeline_run"] = state["select_started"] = queued.run_id
            st.rerun()
    if state.get("select_started"):
        st.success(f"Run {state['select_started']} started: its progress shows above (and in the sidebar), its "
                   "iterations on the *Timeline* tab as they finish.", icon=":material/play_arrow:")


def calibration(method: str, values: dict, models: dict) -> None:
    """Measuring this machine (seconds of model work) runs as a job; the estimate uses it once it is cached."""
    params = {"method": method, "config": values, "models": models}
    if not job_panel(ws, ("calibrate",), where="select_calibrate", show_failure=True):
        st.caption("The estimate uses constants measured on another CPU until this machine is measured: a few "
                   "seconds of real work with the run's model, once per machine and model.")
        if st.button("Measure this machine", key="select_calibrate", icon=":material/speed:"):
            submit_once(ws, "calibrate", params)
            st.rerun()


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min"


job_panel(ws, run_queue.RUN_JOB_KINDS, where="select")
tabs = st.tabs(VIEWS, key="select_view", on_change="rerun", bind="query-params")  # survives a refresh
for tab, view in zip(tabs, (new_run, _runs_view.timeline_view, _runs_compare.compare_view)):
    if tab.open is not False:  # None (no tab state yet) or True: draw it; hidden tabs cost nothing
        with tab:
            try:
                view(ws)
            except CurationError as exc:
                st.error(md(exc), icon=":material/error:")
