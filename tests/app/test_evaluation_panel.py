"""The Select timeline's evaluation panel as a curator uses it: start an evaluation of a run against random (a
queued job naming it), then read a finished evaluation's difference, models and plot from the workspace."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation.evaluation import EvaluateConfig, carve, create_evaluation, run_evaluation
from curation.evaluation import results as evaluation_results
from curation.methods import runner
from curation.services import jobs
from tests.app.test_pages import APP, app_ws  # noqa: F401  (fixtures)
from tests.shared_data import DOLLY, write_jsonl_head

FAST = {"max_length": 128, "epochs": 1, "decontaminate": False, "bootstrap_resamples": 200}


def _timeline(run_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["select_view"] = "Timeline"
    at.session_state["select_timeline_run"] = run_id
    at.run().switch_page("pages/select.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def run_with_heldout(app_ws, tmp_path, tiny_models):  # noqa: F811
    from curation.formats import importer

    importer.import_source(app_ws, str(write_jsonl_head(DOLLY, tmp_path / "d.jsonl", 60)))
    held = carve(app_ws, rows=12, seed=0)
    run_id = runner.start_run(app_ws, "random", budget=10, models={"engine": "fake",
                                                                     "target": str(tiny_models["chat"])})
    runner.run_selection(app_ws, run_id)
    return app_ws, run_id, held


def test_the_panel_queues_an_evaluation_of_the_chosen_settings(run_with_heldout):
    ws, run_id, held = run_with_heldout
    at = _timeline(run_id)
    assert any("Does it train better than random?" in h.value for h in at.subheader)
    source = at.radio(key="eval_source")
    assert source.value == "split" and f"({len(held):,} samples)" in str(source.options)
    at.number_input(key="eval_subsets").set_value(2)
    at.number_input(key="eval_seeds").set_value(1)
    at.toggle(key="eval_token_matched").set_value(True)
    at.checkbox(key="eval_random_once").check()
    at.button(key=f"eval_start_{run_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (evaluation,) = evaluation_results.list_evaluations(ws, run_id)
    assert evaluation.config["random_subsets"] == 2 and evaluation.config["train_seeds"] == 1
    assert evaluation.config["token_matched"] is True and evaluation.heldout["rows"] == len(held)
    assert evaluation.config["each_random_once"] is True
    (job,) = [j for j in jobs.list_jobs(ws, active_only=True) if j.kind == "evaluate"]
    assert job.params == {"evaluation_id": evaluation.evaluation_id}
    assert at.button(key=f"eval_start_{run_id}").disabled  # one evaluation at a time while it is queued


def test_a_file_source_needs_a_path_before_it_can_start(run_with_heldout):
    _, run_id, _ = run_with_heldout
    at = _timeline(run_id)
    at.radio(key="eval_source").set_value("file").run()
    assert at.button(key=f"eval_start_{run_id}").disabled
    at.text_input(key="eval_file").input("/nowhere/heldout.jsonl").run()
    at.button(key=f"eval_start_{run_id}").click().run()
    assert any("no such file" in e.value for e in at.error)  # named, not a traceback


def test_a_finished_evaluation_shows_its_difference_models_and_plot(run_with_heldout):
    ws, run_id, _ = run_with_heldout
    evaluation_id = create_evaluation(ws, run_id, config=EvaluateConfig(random_subsets=2, train_seeds=1, **FAST))
    rep = run_evaluation(ws, evaluation_id)
    at = _timeline(run_id)
    frames = [d.value for d in at.dataframe]
    differences = next(f for f in frames if "difference vs random" in f.columns)
    assert differences["difference vs random"].iloc[0] == pytest.approx(rep.differences["selection"].mean)
    models = next(f for f in frames if "held-out loss" in f.columns)
    assert len(models) == len(rep.models) == 1 + 1 + 2  # base, the selection, two random subsets
    assert sorted(models["held-out loss"]) == pytest.approx(sorted(m.heldout_loss for m in rep.models))
    assert any("held-out loss per model" in str(c.proto.spec) for c in at.get("plotly_chart"))
