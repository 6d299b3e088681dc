"""Job functions: adapt library calls to the job queue's (ws, params, ctx) -> result form.

Each function imports its heavy dependencies lazily, so the worker starts fast and the app never pays for
torch or umap on page load.
"""

from __future__ import annotations

import time
from typing import Any

from curation.errors import Cancelled
from curation.jobs import JobContext
from curation.workspace.db import Workspace


def run_import(ws: Workspace, params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from curation import importer

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
