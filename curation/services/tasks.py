"""Job functions: adapt library calls to the job queue's (ws, params, ctx) -> result form.

Each function imports its heavy dependencies lazily, so the worker starts fast and the app never pays for
torch or umap on page load. Params are JSON, read strictly into a params dataclass per kind through
`curation.configs.config_from_dict` (an unknown or ill-typed key fails the job with a message naming it); the
embed, umap and score jobs parse theirs in cheap `parse_*` functions that load no model, so a bad submission is
caught, and testable, without one.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Literal

from curation.configs import config_from_dict
from curation.errors import Cancelled
from curation.services.jobs import JobContext
from curation.workspace.db import Workspace

if TYPE_CHECKING:
    from curation.geometry.embed import EmbedConfig
    from curation.geometry.maps import MapConfig
    from curation.model.scoring import ScoreConfig

TextField = Literal["text", "prompt"]  # curation.geometry.embed.FIELDS


@dataclasses.dataclass(frozen=True)
class ImportParams:
    source: str
    schema: str | None = None
    strict: bool = False
    split: str = "train"


@dataclasses.dataclass(frozen=True)
class SleepParams:
    steps: int = 10
    seconds: float = 0.1


@dataclasses.dataclass(frozen=True)
class RunParams:
    """`select` and `timeline` job params; `backend` overrides a resumed run's stored backend (`--ray`)."""

    run_id: int
    backend: dict[str, str] | None = None


@dataclasses.dataclass(frozen=True)
class EvaluateParams:
    """`evaluate` job params: an evaluation created with `curation.evaluation.create_evaluation`."""

    evaluation_id: int


@dataclasses.dataclass(frozen=True)
class CalibrateParams:
    """`calibrate` job params: the run to be priced (its method, settings and models dict)."""

    method: str
    config: dict = dataclasses.field(default_factory=dict)
    models: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DedupScanParams:
    field: TextField = "prompt"
    floor: float = 0.85
    near: bool = True


@dataclasses.dataclass(frozen=True)
class EmbedParams:
    """`embed` job params: `config` holds EmbedConfig's settings."""

    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    field: TextField = "text"
    backend: dict[str, str] = dataclasses.field(default_factory=dict)  # BackendConfig.to_models(); empty: in-process


@dataclasses.dataclass(frozen=True)
class UmapParams:
    """`umap` job params: `map` holds MapConfig's settings, `config` the embedder's (EmbedConfig)."""

    map: dict[str, Any] = dataclasses.field(default_factory=dict)
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    field: TextField = "text"


@dataclasses.dataclass(frozen=True)
class ScoreParams:
    """`score` job params: a model (None = the default) or a workspace checkpoint; `config` holds ScoreConfig's
    settings; `sample_ids` None scores every sample."""

    model: str | None = None
    checkpoint: str | None = None
    device: str | None = None
    trust_remote_code: bool = False
    sample_ids: list[str] | None = None
    recompute: bool = False
    config: dict[str, Any] = dataclasses.field(default_factory=dict)


def parse_embed(params: dict[str, Any]) -> tuple[EmbedParams, EmbedConfig]:
    from curation.geometry.embed import EmbedConfig

    job = config_from_dict(EmbedParams, params)
    return job, config_from_dict(EmbedConfig, job.config)


def parse_umap(params: dict[str, Any]) -> tuple[UmapParams, MapConfig, EmbedConfig]:
    from curation.geometry.embed import EmbedConfig
    from curation.geometry.maps import MapConfig

    job = config_from_dict(UmapParams, params)
    return job, config_from_dict(MapConfig, job.map), config_from_dict(EmbedConfig, job.config)


def parse_score(params: dict[str, Any]) -> tuple[ScoreParams, ScoreConfig]:
    from curation.model.scoring import ScoreConfig  # imports torch, but loads no model

    job = config_from_dict(ScoreParams, params)
    return job, config_from_dict(ScoreConfig, job.config)


def run_import(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from curation.formats import importer

    job = config_from_dict(ImportParams, params)
    report = importer.import_source(ws, job.source, schema=job.schema, strict=job.strict, hub_split=job.split,
                                    progress=ctx.progress, should_stop=ctx.should_stop)
    return {"summary": report.summary(), "import_id": report.import_id, "new_samples": report.new_samples,
            "skipped": report.skipped}


def run_sleep(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Count to `steps`, one step per `seconds`; used to test progress, cancellation and restarts."""
    job = config_from_dict(SleepParams, params)
    steps, seconds = job.steps, job.seconds
    for i in range(steps):
        if ctx.should_stop():
            raise Cancelled(f"stopped at step {i}")
        time.sleep(seconds)
        ctx.progress(i + 1, steps, f"step {i + 1}")
    return {"steps": steps}


def run_embed(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Embed the pool with a sentence encoder (cached: only new texts cost anything)."""
    from curation.backends import BackendConfig, resolve_backend
    from curation.geometry.embed import embed_pool

    job, config = parse_embed(params)
    encode = resolve_backend(BackendConfig.from_models(job.backend)).encode_fn(config)
    X = embed_pool(ws, config, field=job.field, progress=ctx.progress, should_stop=ctx.should_stop, encode=encode)
    return {"rows": int(X.shape[0]), "dim": int(X.shape[1]), "model": config.model}


def run_select(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Run (or resume) a selection run created with `curation.methods.runner.start_run`."""
    from curation.methods.runner import run_selection

    parsed = config_from_dict(RunParams, params)
    factory = None
    if parsed.backend:
        from curation.methods.engines.base import make_engine

        factory = lambda ws_, records, models: make_engine(ws_, records, {**models, **(parsed.backend or {})})  # noqa: E731
    run = run_selection(ws, parsed.run_id, progress=ctx.progress, should_stop=ctx.should_stop,
                        engine_factory=factory)
    return {"run_id": run.run_id, "status": run.status}


def run_umap(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """The pool's 2-D map (curation.geometry.maps): embeds what is missing, lays it out, caches both."""
    from curation.geometry.maps import pool_map

    job, config, embed = parse_umap(params)
    result = pool_map(ws, embed_config=embed, field=job.field, config=config, progress=ctx.progress,
                      should_stop=ctx.should_stop)
    return {"key": result.key, "rows": int(result.meta["n"]), "method": result.meta["method"],
            "preview": result.preview, "seconds": result.meta["seconds"]}


def run_dedup_scan(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """One duplicate scan of the pool, kept for the Duplicates page (curation.geometry.dedup_scan)."""
    from curation.geometry.dedup_scan import scan_and_save

    job = config_from_dict(DedupScanParams, params)
    saved = scan_and_save(ws, field=job.field, floor=job.floor, near=job.near, progress=ctx.progress,
                          should_stop=ctx.should_stop)
    return {"rows": saved.pool.scan.n, "pairs": int(len(saved.pool.scan.i)), "floor": saved.floor}


def run_timeline(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """A run's same-size random Vendi baseline (curation.services.timeline), for the Select page's timeline."""
    from curation.services.timeline import compute_baseline

    run_id = config_from_dict(RunParams, params).run_id
    bands = compute_baseline(ws, run_id, progress=ctx.progress, should_stop=ctx.should_stop)
    return {"run_id": run_id, "sizes": len(bands)}


def run_score(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Score samples (all by default) with a model or a workspace checkpoint; results cached in the workspace."""
    from curation import model

    job, config = parse_score(params)  # before loading anything: a bad submission fails at once
    if job.checkpoint:
        lm = model.load_checkpoint(ws, job.checkpoint, device=job.device)
    else:
        lm = model.load_model(job.model, device=job.device, trust_remote_code=job.trust_remote_code)
    result = model.score_samples(ws, lm, job.sample_ids, config=config, recompute=job.recompute,
                                 progress=ctx.progress, should_stop=ctx.should_stop)
    return {"model_key": result.model_key, "samples": len(result.sample_ids), "unscorable": len(result.unscorable()),
            "summary": result.summary()}


def run_calibrate(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Measure this machine's rates for a run's model (seconds; cached per machine and model), for its estimate."""
    from curation.methods import registry
    from curation.methods.estimate import rates_for_run

    job = config_from_dict(CalibrateParams, params)
    rates = rates_for_run(job.method, registry.make_config(job.method, job.config), job.models, calibrate=True,
                          progress=ctx.progress)
    return {"calibrated": rates is not None, "seconds": rates.seconds if rates is not None else 0.0}


def run_evaluate(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Train and score an evaluation's models (curation.evaluation); a resumed job skips every finished model."""
    from curation.evaluation import run_evaluation

    evaluation_id = config_from_dict(EvaluateParams, params).evaluation_id
    report = run_evaluation(ws, evaluation_id, progress=ctx.progress, should_stop=ctx.should_stop)
    return {"evaluation_id": evaluation_id, "models": len(report.models),
            "differences": {role: iv.describe() for role, iv in report.differences.items()}}
