"""What the app benchmarks (issue 6) share: a Dolly-15k workspace taken through the whole pipeline once, its
embeddings as a plain array, and writing figures into this area's section of bench/README.md.

The workspace lives outside the repository (`$BENCH_CACHE/pages_ws`, default /tmp/bench_cache) and is built
once, through the same jobs the app submits (import, embed, map, duplicate scan, a K-Center run and its
random baseline), each timed; later runs reuse it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
import readme_blocks  # noqa: E402  (bench/ is on sys.path: scripts run from it)
from geometry_data import ALPACA, CACHE, DOLLY  # noqa: E402

README = BENCH / "README.md"
SECTION = "## App: maps and pages (issue 6)"
WORKSPACE = CACHE / "pages_ws"
DOLLY_TEXT = CACHE / "dolly_text_minilm.npy"
__all__ = ["ALPACA", "CACHE", "DOLLY", "DOLLY_TEXT", "WORKSPACE", "dolly_workspace", "write_block"]


def dolly_workspace(log=print):
    """The Dolly-15k workspace with embeddings, a map, a duplicate scan and a K-Center run (built on first use)."""
    from curation.services import jobs
    from curation.workspace import Workspace, runs, samples

    ws = Workspace(WORKSPACE)
    steps_path = WORKSPACE / "bench_steps.json"
    steps = json.loads(steps_path.read_text()) if steps_path.exists() else {}

    def job(name: str, kind: str, params: dict) -> None:
        if name in steps:
            return
        started = time.perf_counter()
        job_id = jobs.submit(ws, kind, params)
        jobs.run_pending(ws)
        done = jobs.get(ws, job_id)
        if done.status != "done":
            raise RuntimeError(f"{kind} job failed: {done.error}")
        steps[name] = round(time.perf_counter() - started, 1)
        steps_path.write_text(json.dumps(steps, indent=1))
        log(f"{name}: {steps[name]} s")

    if samples.count(ws) == 0:
        job("import", "import", {"source": str(DOLLY)})
    job("embed text (MiniLM)", "embed", {"config": {}, "field": "text"})
    job("map (UMAP, full)", "umap", {"field": "text", "map": {"preview": False}})
    job("duplicate scan (prompts, embeds them)", "dedup_scan", {"field": "prompt", "floor": 0.85, "near": True})
    if not runs.list_runs(ws):
        from curation.methods import runner

        run_id = runner.start_run(ws, "kcenter", budget="5%", seed=0)
        job("K-Center run, 5%", "select", {"run_id": run_id})
        job("random Vendi baseline", "timeline", {"run_id": run_id})
    if not DOLLY_TEXT.exists():
        from curation.geometry.embed import EmbedConfig, embed_pool
        from curation.workspace.arrays import save_array

        save_array(DOLLY_TEXT, embed_pool(ws, EmbedConfig()))
    return ws, steps


def load(name: str) -> np.ndarray:
    """Unit-row float32 embeddings: "dolly" (14,989 whole conversations), "alpaca" (43,598 prompts)."""
    if name == "dolly":
        return np.load(DOLLY_TEXT, allow_pickle=False)
    from geometry_data import alpaca_prompt_embeddings

    return alpaca_prompt_embeddings(progress=False)


def write_block(name: str, markdown: str) -> None:
    """Replace (or append) block `name` inside this area's section of bench/README.md, nothing else."""
    readme_blocks.write_block(SECTION, "app-maps", name, markdown, README)
