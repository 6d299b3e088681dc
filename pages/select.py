"""Select: pick a method, set it up (a form built from its config dataclass), give a budget, see how long it
should take, and start it as a background job (progress and cancel here, in the sidebar and on the Jobs page;
it survives page switches, browser refreshes and server restarts). Then follow each run iteration by iteration
and compare two runs."""

from __future__ import annotations

import math
import typing
from dataclasses import fields

import streamlit as st

from curation.errors import CurationError
from curation.geometry import maps
from curation.methods import registry
from curation.methods.base import choices_of, help_of
from curation.methods.estimate import estimate_run, mean_tokens
from curation.workspace import Workspace, samples
from pages import _runs_view as views
from pages._common import md, require_pool, shown_errors, submit, workspace
from pages._job_panel import job_panel

VIEWS = ["New run", "Timeline", "Compare runs"]
BUDGET_KINDS = {"samples": "samples", "percent": "% of the pool", "tokens": "tokens"}

ws = workspace()
state = st.session_state
st.title("Select")
require_pool(ws)


def config_form(method: str) -> dict:
    """Widgets for every field of the method's config dataclass (type, default, choices and help from it)."""
    cls = registry.get(method).config_cls
    settings = fields(cls)
    if not settings:
        st.caption("This method has no settings.")
        return {}
    hints, choices, helps = typing.get_type_hints(cls), choices_of(cls), help_of(cls)
    columns = st.columns(3)
    values = {}
    for number, setting in enumerate(settings):
        column, key = columns[number % 3], f"select_cfg_{method}_{setting.name}"
        label, default, tip = setting.name.replace("_", " "), setting.default, helps.get(setting.name) or None
        if setting.name in choices:
            options = list(choices[setting.name])
            values[setting.name] = column.selectbox(label, options, index=options.index(default), key=key, help=tip)
        elif hints[setting.name] is bool:
            values[setting.name] = column.checkbox(label, value=default, key=key, help=tip)
        elif hints[setting.name] is int:
            values[setting.name] = int(column.number_input(label, value=int(default), step=1, key=key, help=tip))
        elif hints[setting.name] is float:
            values[setting.name] = float(column.number_input(label, value=float(default), format="%g", key=key,
                                                             step=_step(default), help=tip))
        else:
            values[setting.name] = column.text_input(label, value=str(default), key=key, help=tip)
    return values


def _step(default: float) -> float:
    return 10.0 ** math.floor(math.log10(abs(default))) / 10 if default else 0.01


@st.cache_data(show_spinner=False, max_entries=4)
def pool_lengths(root: str, n: int) -> tuple[float, float]:
    row = ws.query("SELECT AVG(prompt_chars), AVG(response_chars) FROM samples")[0]
    return float(row[0] or 0), float(row[1] or 0)


@st.cache_data(show_spinner="Checking which samples are embedded…", max_entries=4)
def pool_text_keys(root: str, digest: str):
    from curation.geometry.embed import sample_text
    from curation.geometry.embed_cache import text_keys

    return text_keys(sample_text(record, "text") for _, record in samples.iter_records(ws))


def budget_inputs(n_pool: int, tokens_per_sample: float) -> tuple[str, int]:
    """The budget as `parse_budget` reads it, and about how many samples it means."""
    kind_col, value_col = st.columns([2, 3])
    kind = kind_col.segmented_control("Budget in", list(BUDGET_KINDS), format_func=BUDGET_KINDS.get,
                                      default="percent", required=True, key="select_budget_kind",
                                      persist_state="session")
    if kind == "samples":
        value = value_col.number_input("Samples", 1, max(1, n_pool), min(n_pool, max(1, n_pool // 20)), step=1,
                                       key="select_budget_samples")
        return f"{int(value)}", int(value)
    if kind == "tokens":
        value = value_col.number_input("Tokens", 1, None, 200_000, step=10_000, key="select_budget_tokens",
                                       help="Prompt + response tokens under the target model's tokenizer.")
        return f"{int(value)} tokens", int(value / max(tokens_per_sample, 1.0))
    value = value_col.number_input("Percent of the pool", 0.1, 100.0, 5.0, step=0.5, format="%g",
                                   key="select_budget_percent")
    return f"{value:g}%", math.floor(value * n_pool / 100 + 1e-9)


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
    prompt_chars, response_chars = pool_lengths(str(ws.root), n_pool)
    budget, n_select = budget_inputs(n_pool, mean_tokens(prompt_chars, response_chars, 512)[0])
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

    with shown_errors():
        config = registry.make_config(method, values)
        if engine == "fake":
            st.info("With the fake engine the run takes seconds.", icon=":material/timer:")
        else:
            digest = maps.ids_hash(samples.ids(ws))
            embedded = maps.embedded_share(ws, pool_text_keys(str(ws.root), digest)) >= 1.0
            guess = estimate_run(method, config, n_pool=n_pool, n_select=max(1, n_select), prompt_chars=prompt_chars,
                                 response_chars=response_chars, embedded=embedded)
            detail = "; ".join(f"{md(what)}: {md(_seconds(s))}" for what, s in guess.parts if s >= 0.5)
            st.info(f"Estimated time: **{md(guess.describe())}** for about {n_select:,} of {n_pool:,} samples"
                    + (f" ({detail})." if detail else ". No model work: selection takes seconds."),
                    icon=":material/timer:")
        if st.button("Start the run", key="select_start", type="primary", icon=":material/play_arrow:"):
            run_id = _start(method, budget, config, seed, models, name)
            state["select_timeline_run"] = state["select_started"] = run_id
            st.rerun()
    if state.get("select_started"):
        st.success(f"Run {state['select_started']} started: its progress shows above (and in the sidebar), its "
                   "iterations on the *Timeline* tab as they finish.", icon=":material/play_arrow:")


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min"


def _start(method: str, budget: str, config, seed: int, models: dict, name: str) -> int:
    from curation.methods import runner

    run_id = runner.start_run(ws, method, budget=budget, config=config, seed=seed, models=models, name=name.strip())
    submit(ws, "select", {"run_id": run_id})
    submit(ws, "timeline", {"run_id": run_id})  # queued behind the run: its random Vendi baseline
    return run_id


job_panel(ws, ("select", "timeline"), where="select")
tabs = st.tabs(VIEWS, key="select_view", on_change="rerun", bind="query-params")  # survives a refresh
for tab, view in zip(tabs, (new_run, views.timeline_view, views.compare_view)):
    if tab.open is not False:  # None (no tab state yet) or True: draw it; hidden tabs cost nothing
        with tab:
            try:
                view(ws)
            except CurationError as exc:
                st.error(md(exc), icon=":material/error:")
