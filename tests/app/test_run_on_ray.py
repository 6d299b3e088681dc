"""The "Run on Ray" settings of the Select and Explore pages reach the run's models and the embed job's params."""

from __future__ import annotations

from curation.backends import BackendConfig
from curation.services import jobs, tasks
from curation.workspace import runs
from tests.app.test_pages_b import open_page, seeded_root, ws  # noqa: F401  (the seeded workspace fixtures)

RAY = {"backend": "ray", "ray_address": "auto", "ray_actors": "2"}


def test_select_run_on_ray_goes_into_the_runs_models(ws):  # noqa: F811
    at = open_page("select")
    at.selectbox(key="select_method").select("kcenter").run()
    at.radio(key="select_engine").set_value("fake").run()
    at.toggle(key="select_ray").set_value(True).run()
    at.text_input(key="select_ray_address").input("auto").run()
    at.number_input(key="select_ray_actors").set_value(2).run()
    at.button(key="select_start").click().run()
    models = runs.list_runs(ws)[-1].models
    assert {k: models[k] for k in RAY} == RAY
    assert BackendConfig.from_models(models) == BackendConfig(kind="ray", address="auto", actors=2)


def test_explore_run_on_ray_goes_into_the_embed_jobs_params(ws):  # noqa: F811
    at = open_page("explore")
    at.toggle(key="explore_ray").set_value(True).run()
    at.text_input(key="explore_ray_address").input("auto").run()
    at.number_input(key="explore_ray_actors").set_value(2).run()
    at.button(key="explore_compute").click().run()
    embed = next(j for j in jobs.list_jobs(ws) if j.kind == "embed")
    assert embed.params == {"config": {}, "field": "text", "backend": RAY}
    job, _ = tasks.parse_embed(embed.params)  # the worker reads it strictly
    assert BackendConfig.from_models(job.backend).kind == "ray"
