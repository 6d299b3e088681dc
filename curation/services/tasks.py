"""Job functions: adapt library calls to the job queue's (ws, params, ctx) -> result form.

Each function imports its heavy dependencies lazily, so the worker starts fast and the app never pays for
torch or umap on page load.
"""

from __future__ import annotations

import time
from typing import Any

from curation.errors import Cancelled
from curation.services.jobs import JobContext
from curation.workspace.db import Workspace


def run_import(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from curation.formats import importer

    report = importer.import_source(ws, params["source"], schema=params.get("schema"),
                                    strict=bool(params.get("strict")), hub_split=params.get("split", "train"),
                                    progress=ctx.progress, should_stop=ctx.should_stop)
    return {"summary": report.summary(), "import_id": report.import_id, "new_samples": report.new_samples,
            "skipped": report.skipped}


def run_sleep(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Count to `steps`, one step per `seconds`; used to test progress, cancellation and restarts."""
    steps, seconds = int(params.get("steps", 10)), float(params.get("seconds", 0.1))
    for i in range(steps):
        if ctx.should_stop():
            raise Cancelled(f"stopped at step {i}")
        time.sleep(seconds)
        ctx.progress(i + 1, steps, f"step {i + 1}")
    return {"steps": steps}


def run_embed(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Embed the pool with a sentence encoder (cached: only new texts cost anything)."""
    from curation.geometry.embed import EmbedConfig, embed_pool

    config = EmbedConfig(**{k: v for k, v in params.get("config", {}).items() if k in EmbedConfig.__dataclass_fields__})
    X = embed_pool(ws, config, field=params.get("field", "text"), progress=ctx.progress,
                   should_stop=ctx.should_stop)
    return {"rows": int(X.shape[0]), "dim": int(X.shape[1]), "model": config.model}


def run_select(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Run (or resume) a selection run created with `curation.methods.runner.start_run`."""
    from curation.methods.runner import run_selection

    run = run_selection(ws, int(params["run_id"]), progress=ctx.progress, should_stop=ctx.should_stop)
    return {"run_id": run.run_id, "status": run.status}


def run_umap(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """The pool's 2-D map (curation.geometry.maps): embeds what is missing, lays it out, caches both."""
    from curation.geometry.embed import EmbedConfig
    from curation.geometry.maps import MapConfig, pool_map

    config = MapConfig(**{k: v for k, v in params.get("map", {}).items() if k in MapConfig.__dataclass_fields__})
    embed = EmbedConfig(**{k: v for k, v in params.get("config", {}).items() if k in EmbedConfig.__dataclass_fields__})
    result = pool_map(ws, embed_config=embed, field=params.get("field", "text"), config=config,
                      progress=ctx.progress, should_stop=ctx.should_stop)
    return {"key": result.key, "rows": int(result.meta["n"]), "method": result.meta["method"],
            "preview": result.preview, "seconds": result.meta["seconds"]}


def run_dedup_scan(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """One duplicate scan of the pool, kept for the Duplicates page (curation.geometry.dedup_scan)."""
    from curation.geometry.dedup_scan import scan_and_save

    saved = scan_and_save(ws, field=params.get("field", "prompt"), floor=float(params.get("floor", 0.85)),
                          near=bool(params.get("near", True)), progress=ctx.progress, should_stop=ctx.should_stop)
    return {"rows": saved.pool.scan.n, "pairs": int(len(saved.pool.scan.i)), "floor": saved.floor}


def run_timeline(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """A run's same-size random Vendi baseline (curation.services.timeline), for the Select page's timeline."""
    from curation.services.timeline import compute_baseline

    bands = compute_baseline(ws, int(params["run_id"]), progress=ctx.progress, should_stop=ctx.should_stop)
    return {"run_id": int(params["run_id"]), "sizes": len(bands)}


def run_score(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Score samples (all by default) with a model or a workspace checkpoint; results cached in the workspace."""
    from curation import model
    from curation.model.scoring import ScoreConfig

    if params.get("checkpoint"):
        lm = model.load_checkpoint(ws, params["checkpoint"], device=params.get("device"))
    else:
        lm = model.load_model(params.get("model"), device=params.get("device"),
                              trust_remote_code=bool(params.get("trust_remote_code")))
    fields = ScoreConfig.__dataclass_fields__
    config = ScoreConfig(**{k: (tuple(v) if isinstance(v, list) else v)
                            for k, v in params.get("config", {}).items() if k in fields})
    result = model.score_samples(ws, lm, params.get("sample_ids"), config=config,
                                 recompute=bool(params.get("recompute")), progress=ctx.progress,
                                 should_stop=ctx.should_stop)
    return {"model_key": result.model_key, "samples": len(result.sample_ids), "unscorable": len(result.unscorable()),
            "summary": result.summary()}
