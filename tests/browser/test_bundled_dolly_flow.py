"""The first session with no network, in a real browser: an empty workspace loads the bundled Dolly-15k from
the Start page (all 14,989 rows), Explore draws its map (the PCA first look, then UMAP), a K-Center selection
of 2 % runs from the Select page, and the Export page writes it; the file is read back against the shared copy
of Dolly, and the picks against a brute-force farthest-first check over the pool's embeddings.

Each step's time is printed (run with -s, or read the lines after the test's dot); a screenshot of each step
goes to `<tmp_path>/screenshots/`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from curation.workspace import Workspace, runs, samples

from .streamlit_ui import by_key, choose, go_to, main, metric, open_app, screenshot_to, wait_for_run, wait_until

DOLLY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dolly-15k" / "dolly-15k.jsonl"
N_DOLLY = 14_989
PERCENT = 2
N_PICKED = 299  # floor(2 % of 14,989 = 299.78)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _patient_expect():
    expect.set_options(timeout=30_000)


@pytest.fixture
def step_times(capsys):
    """Seconds per step, printed after the test (shown under -q too: output capture is off for it)."""
    times: dict[str, float | str] = {}
    yield times
    with capsys.disabled():
        print()
        for step, value in times.items():
            print(f"bundled Dolly flow: {step}: " + (f"{value:.1f} s" if isinstance(value, float) else value))


def timed(times: dict[str, float | str], step: str, since: float) -> None:
    times[step] = time.perf_counter() - since


def test_bundled_dolly_map_kcenter_export(page: Page, app_server, tmp_path, step_times):
    ws = Workspace(app_server.workspace)
    shots = tmp_path / "screenshots"
    dolly_rows = [json.loads(line) for line in DOLLY.read_text(encoding="utf-8").splitlines()]
    assert len(dolly_rows) == N_DOLLY

    # -- Start: an empty workspace, the hub out of reach, the bundled pool one click away ----------------
    started = time.perf_counter()
    open_app(page, app_server.url)
    expect(main(page).get_by_text("The workspace is empty").first).to_be_visible()
    expect(by_key(page, "load_dolly", "button")).to_be_disabled()  # offline: the hub card cannot be used
    timed(step_times, "app open", started)
    screenshot_to(page, shots, "01-start-empty")
    clicked = time.perf_counter()
    by_key(page, "load_bundled", "button").click()
    expect(main(page).get_by_text("import #1 finished").first).to_be_visible(timeout=120_000)
    timed(step_times, "bundled Dolly-15k imported", clicked)
    expect(metric(page, "New samples").first).to_have_text(f"{N_DOLLY:,}")
    expect(metric(page, "Skipped").first).to_have_text("0")
    assert samples.count(ws) == N_DOLLY
    screenshot_to(page, shots, "02-start-imported")

    # -- Explore: embed every row, the PCA first look, then UMAP ---------------------------------------
    go_to(page, "Explore")
    expect(main(page).get_by_text("No map of this pool yet")).to_be_visible()
    clicked = time.perf_counter()
    by_key(page, "explore_compute", "button").click()
    chart = main(page).get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible(timeout=300_000)  # no encoding: the import filled the cache with shipped vectors
    expect(main(page).get_by_text(f"{N_DOLLY:,} samples · PCA first look")).to_be_visible()
    timed(step_times, "map drawn (PCA first look, shipped embeddings)", clicked)
    screenshot_to(page, shots, "03-explore-first-look")
    expect(main(page).get_by_text(f"{N_DOLLY:,} samples · UMAP")).to_be_visible(timeout=180_000)
    timed(step_times, "UMAP map drawn (since the click)", clicked)
    wait_for_run(page)
    assert chart.locator(".main-svg").first.is_visible()
    screenshot_to(page, shots, "04-explore-umap")

    # -- Select: K-Center at 2 % of the pool, reusing the map's embeddings ---------------------------------
    go_to(page, "Select")
    choose(page, "select_method", "kcenter")
    by_key(page, "select_budget_percent", "input").fill(str(PERCENT))
    by_key(page, "select_budget_percent", "input").press("Enter")
    wait_for_run(page)
    expect(main(page).get_by_text(f"for about {N_PICKED} of {N_DOLLY:,} samples")).to_be_visible()
    screenshot_to(page, shots, "05-select-kcenter")
    clicked = time.perf_counter()
    by_key(page, "select_start", "button").click()
    expect(main(page).get_by_text("Run 1 started")).to_be_visible()
    wait_until(lambda: runs.get(ws, 1).status in ("done", "failed", "cancelled"), timeout=300)
    timed(step_times, "K-Center selection (click to run done)", clicked)
    run = runs.get(ws, 1)
    assert (run.method, run.status) == ("kcenter", "done")
    picked = runs.iteration(ws, 1).selected
    assert len(picked) == len(set(picked)) == N_PICKED
    main(page).get_by_role("tab", name="Timeline").click()
    wait_for_run(page)
    expect(main(page).get_by_text(f"Selected in iteration 0 ({N_PICKED})")).to_be_visible()
    screenshot_to(page, shots, "06-select-timeline")
    ids = samples.ids(ws)
    assert farthest_first_shortfall(pool_embeddings(ws), [ids.index(s) for s in picked]) < 1e-5

    # -- Export the run's selection and read the file back -------------------------------------------
    go_to(page, "Export")
    choose(page, "export_run", "run 1")
    expect(main(page).get_by_text(f"{N_PICKED} samples will be exported")).to_be_visible()
    out = tmp_path / "exports" / "dolly-kcenter.jsonl"
    by_key(page, "export_path_alpaca_messages", "input").fill(str(out))
    by_key(page, "export_path_alpaca_messages", "input").press("Enter")
    wait_for_run(page)
    clicked = time.perf_counter()
    by_key(page, "export_go", "button").click()
    expect(main(page).get_by_text(f"Wrote {N_PICKED} samples")).to_be_visible()
    timed(step_times, "export written", clicked)
    screenshot_to(page, shots, "07-export")
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(exported) == N_PICKED
    dolly = {(r["instruction"], r["input"], r["output"]) for r in dolly_rows}
    assert all((r["instruction"], r["input"], r["output"]) in dolly for r in exported)  # Dolly rows, verbatim
    records = samples.get_many(ws, picked)
    assert sorted(r["instruction"] for r in exported) == sorted(records[s].instruction for s in picked)
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text(encoding="utf-8"))
    assert manifest["count"] == N_PICKED
    timed(step_times, "whole flow", started)
    step_times["screenshots"] = str(shots)
    ws.close()


def pool_embeddings(ws: Workspace) -> np.ndarray:
    """The pool's sentence embeddings as the map's job cached them (reading them embeds nothing)."""
    from curation.geometry.embed import embed_pool

    return embed_pool(ws)


def farthest_first_shortfall(X: np.ndarray, order: list[int]) -> float:
    """Brute force in float64: by how much a pick falls short of the farthest row from the picks before it
    (0 for an exact farthest-first order; near-ties within rounding give ~1e-7)."""
    X = np.asarray(X, np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    nearest = np.full(len(X), np.inf)
    shortfall = 0.0
    for i, row in enumerate(order):
        if i:
            shortfall = max(shortfall, float(nearest.max() - nearest[row]))
        d = np.sqrt(np.maximum(sq + sq[row] - 2.0 * (X @ X[row]), 0.0))
        np.minimum(nearest, d, out=nearest)
    return shortfall

