"""Job params go through the same strict builder as method settings: what the pages submit still parses, and an
unknown or ill-typed key fails the job with its name (checked before any model or embedder loads)."""

from __future__ import annotations

import json

import pytest

from curation.errors import CurationError
from curation.geometry.embed import EmbedConfig
from curation.geometry.maps import MapConfig
from curation.services import jobs, tasks


def test_what_the_explore_page_submits_parses():
    # pages/explore.py: submit_once(ws, "embed", {...}) and submit_once(ws, "umap", {...})
    job, embed = tasks.parse_embed({"config": {}, "field": "text"})
    assert (job.field, embed) == ("text", EmbedConfig())
    job, layout, embed = tasks.parse_umap({"field": "text", "map": {"preview": True}})
    assert (job.field, layout, embed) == ("text", MapConfig(preview=True), EmbedConfig())
    assert tasks.parse_umap({})[1:] == (MapConfig(), EmbedConfig())


def test_settings_are_coerced_as_json_sends_them():
    _, embed = tasks.parse_embed({"config": {"max_length": "128", "precision": "fp32", "local_files_only": "false"},
                                  "field": "prompt"})
    assert (embed.max_length, embed.precision, embed.local_files_only) == (128, "fp32", False)
    assert tasks.parse_embed({"config": {"max_length": None}})[1].max_length is None
    _, layout, _ = tasks.parse_umap({"map": {"method": "pca", "n_neighbors": 5.0, "min_dist": 0}})
    assert (layout.method, layout.n_neighbors, layout.min_dist) == ("pca", 5, 0.0)
    assert type(layout.n_neighbors) is int and type(layout.min_dist) is float


@pytest.mark.parametrize(("parse", "params", "message"), [
    (tasks.parse_embed, {"config": {"modle": "x"}}, "unknown setting 'modle' for EmbedConfig"),
    (tasks.parse_embed, {"feild": "text"}, "unknown setting 'feild' for EmbedParams"),
    (tasks.parse_embed, {"field": "response"}, "EmbedParams.field must be one of text, prompt, not 'response'"),
    (tasks.parse_embed, {"config": {"precision": "fp16"}}, "EmbedConfig.precision must be one of auto, fp32, bf16"),
    (tasks.parse_embed, {"config": ["model"]}, "EmbedParams.config must be an object"),
    (tasks.parse_umap, {"map": {"neighbours": 5}}, "unknown setting 'neighbours' for MapConfig"),
    (tasks.parse_umap, {"config": {"bogus": 1}}, "unknown setting 'bogus' for EmbedConfig"),
    (tasks.parse_umap, {"map": {"method": "tsne"}}, "MapConfig.method must be one of auto, umap, pca, not 'tsne'"),
    (tasks.parse_umap, {"map": {"preview": "sometimes"}}, "MapConfig.preview must be true or false"),
])
def test_unknown_or_ill_typed_params_are_refused(parse, params, message):
    with pytest.raises(CurationError) as err:
        parse(params)
    assert message in str(err.value)


def test_score_params():
    pytest.importorskip("torch")
    job, config = tasks.parse_score({"model": "m", "sample_ids": ["a", "b"], "recompute": 1,
                                     "config": {"pooling": ["mean", "last"], "max_length": "256", "ifd": "false"}})
    assert (job.model, job.checkpoint, job.sample_ids, job.recompute) == ("m", None, ["a", "b"], True)
    assert (config.pooling, config.max_length, config.ifd) == (("mean", "last"), 256, False)
    with pytest.raises(CurationError, match="unknown setting 'pool' for ScoreConfig"):
        tasks.parse_score({"config": {"pool": ["mean"]}})
    with pytest.raises(CurationError, match="unknown setting 'checkpoints' for ScoreParams"):
        tasks.parse_score({"checkpoints": "x"})
    with pytest.raises(CurationError, match="unknown pooling 'max'; use mean, response or last"):
        tasks.parse_score({"config": {"pooling": ["max"]}})  # ScoreConfig's own check
    with pytest.raises(CurationError, match="ScoreConfig.max_length must be a whole number, not 'long'"):
        tasks.parse_score({"config": {"max_length": "long"}})


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("embed", {"config": {"modle": "x"}}, "unknown setting 'modle' for EmbedConfig"),
    ("umap", {"field": "text", "map": {"preview": True, "colour": "red"}}, "unknown setting 'colour' for MapConfig"),
    ("score", {"model": "no-such-model", "config": {"pooling": "mean"}}, "ScoreConfig.pooling must be a list"),
])
def test_a_bad_job_fails_with_the_key_named(ws, kind, params, message):
    if kind == "score":
        pytest.importorskip("torch")
    job_id = jobs.submit(ws, kind, params)
    assert jobs.run_pending(ws) == 1
    job = jobs.get(ws, job_id)
    assert job.status == "failed"
    assert message in job.error


def test_every_job_kind_refuses_unknown_and_missing_params(ws):
    """A typo or a missing key fails the job with one line naming it, for the kinds that read params directly."""
    from curation.services import jobs

    cases = {("import", '{"sorce": "x.jsonl"}'): "unknown setting 'sorce'",
             ("import", "{}"): "needs 'source'",
             ("select", '{"run": 1}'): "unknown setting 'run'",
             ("timeline", "{}"): "needs 'run_id'",
             ("dedup_scan", '{"field": "answer"}'): "must be one of text, prompt",
             ("sleep", '{"steps": "many"}'): "SleepParams.steps"}
    for (kind, params), message in cases.items():
        job_id = jobs.submit(ws, kind, json.loads(params))
        jobs.run_pending(ws)
        job = jobs.get(ws, job_id)
        assert job.status == "failed" and message in job.error, (kind, job.error)
