"""Rerun time of the Explore, Duplicates and Select pages on the Dolly-15k workspace (14,989 samples, embedded,
mapped, scanned for duplicates, one K-Center run), with Streamlit's AppTest: the server-side cost of a rerun
(reading the workspace, building figures, serialising them), without a browser.

    flock /tmp/cpu.lock .venv/bin/python bench/bench_pages.py      # builds the workspace on first use (minutes)
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import app_bench

APP = str(Path(__file__).resolve().parents[1] / "app.py")
RERUNS = 5


def measure(page: str, setup=None, state: dict | None = None) -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    started = time.perf_counter()
    at.switch_page(f"pages/{page}.py").run()
    first = time.perf_counter() - started
    if setup is not None:
        setup(at)
    times = []
    for _ in range(RERUNS):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    if at.exception:
        raise SystemExit(f"{page}: {[e.value for e in at.exception]}")
    spec_mb = sum(len(e.proto.spec) for e in at.get("plotly_chart")) / 1e6
    return {"first": first, "rerun": statistics.median(times), "spec_mb": spec_mb}


def main() -> None:
    ws, steps = app_bench.dolly_workspace()
    from curation.workspace import runs, samples

    os.environ["CURATION_WORKSPACE"] = str(ws.root)
    os.environ["CURATION_START_WORKER"] = "0"
    ids = samples.ids(ws)
    run_id = runs.list_runs(ws)[-1].run_id
    cases = [
        ("Explore, coloured by decision", "explore", None, {}),
        ("Explore, 2,000 samples lassoed", "explore", None, {"selection_ids": ids[::7][:2000]}),
        ("Explore, coloured by a run's K-Center distance", "explore", lambda at: (
            at.selectbox(key="explore_colour").select("score").run(),
            at.selectbox(key="explore_score").select("distance_to_selected").run()), {}),
        ("Duplicates, threshold 0.95", "duplicates", None, {}),
        ("Select, new run form (estimate shown)", "select", None, {}),
        ("Select, the run's timeline", "select", None, {"select_view": "Timeline", "select_timeline_run": run_id}),
    ]
    results = []
    for label, page, setup, state in cases:
        r = measure(page, setup, state)
        results.append((label, r))
        print(f"{label}: first {r['first']:.2f} s, rerun {r['rerun']:.2f} s, figures {r['spec_mb']:.1f} MB", flush=True)
    rows = "\n".join(f"| {label} | {r['first']:.2f} | {r['rerun']:.2f} | {r['spec_mb']:.1f} |" for label, r in results)
    built = "\n".join(f"| {name} | {seconds} |" for name, seconds in steps.items())
    app_bench.write_block("pages", f"""### Page reruns with the 15k Dolly pool

`flock /tmp/cpu.lock .venv/bin/python bench/bench_pages.py`: Streamlit's AppTest runs each page on a workspace
holding Dolly-15k ({len(ids):,} samples) with embeddings, a UMAP map, a duplicate scan (prompts, floor 0.85) and
one K-Center run (5%). *first view* = switching to the page in a new session (the app's caches warm for the
first case only), *rerun* = median of {RERUNS} reruns of the same session (what every click costs on the
server). Figures: the Plotly JSON the page sends to the browser. Load average at the start:
{os.getloadavg()[0]:.1f}.

| page | first view s | rerun s | figures MB |
|---|---|---|---|
{rows}

Building that workspace through the app's jobs (one time, in the worker; seconds):

| job | seconds |
|---|---|
{built}
""")


if __name__ == "__main__":
    main()
