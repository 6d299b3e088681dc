"""Selection in a real browser, with the real embedder and UMAP: import a Dolly slice, embed it and draw the map,
lasso a region and reject it, scan for duplicates and apply a threshold, run K-Center in the background
(refreshing the browser while it runs), compare it with a random run, review a little by keyboard, export the
run's selection and read the file back. Every step is checked against the workspace.

Screenshots of each page go to tests/screenshots/ (gitignored).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from curation.geometry import dedup
from curation.geometry import dedup_scan as dup_store
from curation.workspace import Workspace, decisions, runs, samples

from .streamlit_ui import by_key, go_to, main, open_app, press, screenshot, wait_for_run

DOLLY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dolly-15k" / "dolly-15k.jsonl"
SLICE = 300
PLANTED = range(5, 300, 50)  # rows that get a reworded twin: near duplicates spread over the map, so the lasso
#                              (a quarter of it) cannot reject every group before the Duplicates step

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _patient_expect():
    expect.set_options(timeout=30_000)


def tile(page: Page, label: str):
    """The value of the main area's metric labelled exactly `label`."""
    label_el = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return main(page).get_by_test_id("stMetric").filter(has=label_el).get_by_test_id("stMetricValue")


def choose(page: Page, key: str, option: str) -> None:
    """Pick an option of a select box by the start of its label."""
    by_key(page, key).click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()
    wait_for_run(page)


def lasso(page: Page, chart, fractions: list[tuple[float, float]]) -> None:
    """Draw a lasso through points given as fractions of the plot area."""
    area = chart.locator(".nsewdrag").first.bounding_box()
    points = [(area["x"] + fx * area["width"], area["y"] + fy * area["height"]) for fx, fy in fractions]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:] + points[:1]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    wait_for_run(page)


def test_embed_map_dedup_select_review_export(page: Page, app_server, tmp_path):
    ws = Workspace(app_server.workspace)
    rows = [json.loads(line) for line in DOLLY.read_text(encoding="utf-8").splitlines()[:SLICE - len(PLANTED)]]
    rows += [dict(rows[i], instruction="Please answer this: " + rows[i]["instruction"]) for i in PLANTED]
    source = tmp_path / "dolly-slice.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    # -- import ---------------------------------------------------------------------------------------
    open_app(page, app_server.url)
    by_key(page, "import_path", "input").fill(str(source))
    by_key(page, "import_path", "input").press("Enter")
    expect(by_key(page, "path_schema", "input")).to_have_value("detected: alpaca")
    by_key(page, "path_import", "button").click()
    expect(main(page).get_by_text("finished").first).to_be_visible(timeout=60_000)
    assert samples.count(ws) == SLICE

    # -- Explore: embed and map (jobs), lasso, reject the lassoed ------------------------------------
    go_to(page, "Explore")
    expect(main(page).get_by_text("No map of this pool yet")).to_be_visible()
    by_key(page, "explore_compute", "button").click()
    chart = main(page).get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible(timeout=120_000)  # embedding 300 texts, then the PCA first look
    expect(main(page).get_by_text(f"{SLICE} samples · PCA first look")).to_be_visible()
    screenshot(page, "10b-explore-first-look")
    # UMAP's first compile takes longer; the page redraws with its map when the job is done
    expect(main(page).get_by_text(f"{SLICE} samples · UMAP")).to_be_visible(timeout=240_000)
    wait_for_run(page)
    assert [j.status for j in sorted(_jobs(ws, "embed", "umap"), key=lambda j: j.job_id)] == ["done"] * 3
    screenshot(page, "11-explore-map")
    lasso(page, chart, [(0.05, 0.05), (0.45, 0.05), (0.45, 0.45), (0.05, 0.45)])
    heading = main(page).get_by_role("heading", name=re.compile(r"Selection: \d+ samples"))
    expect(heading).to_be_visible()
    lassoed = int(re.search(r"(\d+) samples", heading.inner_text()).group(1))
    assert 0 < lassoed < SLICE
    screenshot(page, "12-explore-selection")
    by_key(page, "explore_reject", "button").click()
    expect(tile(page, "Rejected")).to_have_text(str(lassoed))
    rejected_by_map = set(decisions.ids_with(ws, status="rejected"))
    assert len(rejected_by_map) == lassoed

    # -- Duplicates: scan (a job), pick the threshold, apply to all ------------------------------------
    go_to(page, "Duplicates")
    by_key(page, "dup_scan", "button").click()
    expect(tile(page, "Groups")).to_be_visible(timeout=120_000)
    saved = dup_store.load(ws)
    threshold = next(t for t in (0.95, 0.925, 0.9, 0.875, 0.85) if saved.pool.scan.preview([t])[0].groups)
    slider = main(page).get_by_test_id("stSlider").get_by_role("slider").first
    slider.focus()  # a react-aria slider: the thumb's input takes the keys
    for _ in range(round((slider_value(slider) - threshold) / 0.005)):
        page.keyboard.press("ArrowLeft")
    wait_for_run(page)
    expected = saved.pool.scan.preview([threshold])[0]
    expect(tile(page, "Groups")).to_have_text(f"{expected.groups:,}")
    plan = dedup.apply(ws, dup_store.load(ws).pool, threshold, dry_run=True)
    screenshot(page, "13-duplicates")
    by_key(page, "dup_apply", "button").click()
    by_key(page, "dup_confirm_yes", "button").click()
    expect(tile(page, "Groups")).to_have_text("0")
    by_dedup = {s for s in decisions.ids_with(ws, status="rejected") if decisions.state(ws, s).origin == "dedup"}
    assert by_dedup == set(plan.dropped_ids) and by_dedup.isdisjoint(rejected_by_map)

    # -- Select: K-Center in the background, a refresh while it runs -----------------------------------
    go_to(page, "Select")
    choose(page, "select_method", "kcenter")
    screenshot(page, "14-select-new-run")
    by_key(page, "select_start", "button").click()
    expect(main(page).get_by_text("Run 1 started")).to_be_visible()
    assert runs.list_runs(ws)
    page.reload()  # mid-run: the job, its progress and the run live in the workspace, not in the page
    wait_for_run(page)
    expect(main(page).locator("h1").first).to_have_text("Select")
    main(page).get_by_role("tab", name="Timeline").click()
    wait_for_run(page)
    expect(main(page).get_by_text(re.compile(r"\bdone\b")).first).to_be_visible(timeout=120_000)
    page.reload()  # the tab is kept in the URL
    wait_for_run(page)
    expect(main(page).get_by_role("tab", name="Timeline", selected=True)).to_be_visible()
    (kcenter,) = runs.list_runs(ws)
    picked = runs.iteration(ws, kcenter.run_id).selected
    excluded = set(decisions.ids_with(ws, status="rejected"))
    assert kcenter.status == "done" and len(picked) == SLICE * 5 // 100 and excluded.isdisjoint(picked)
    main(page).get_by_role("tab", name="Timeline").click()
    wait_for_run(page)
    expect(main(page).get_by_text(f"Selected in iteration 0 ({len(picked)})")).to_be_visible()
    expect(main(page).get_by_text("farthest from the selected set").first).to_be_attached()  # a canvas grid
    screenshot(page, "15-select-timeline")

    main(page).get_by_role("tab", name="New run").click()
    wait_for_run(page)
    choose(page, "select_method", "random")
    by_key(page, "select_start", "button").click()
    expect(main(page).get_by_text("Run 2 started")).to_be_visible()
    wait_until(lambda: runs.get(ws, 2).status == "done", timeout=120)
    main(page).get_by_role("tab", name="Compare runs").click()
    wait_for_run(page)
    both = len(set(picked) & set(runs.iteration(ws, 2).selected))
    expect(tile(page, "In both")).to_have_text(str(both))
    screenshot(page, "16-select-compare")

    # -- Review two of the K-Center run's picks by keyboard, undo one ------------------------------------
    go_to(page, "Review")
    press(page, "a")
    expect(tile(page, "Approved")).to_have_text("1")
    press(page, "a")
    expect(tile(page, "Approved")).to_have_text("2")
    press(page, "Backspace")
    expect(tile(page, "Approved")).to_have_text("1")
    approved = decisions.ids_with(ws, status="approved")
    assert len(approved) == 1 and approved[0] in set(picked) | set(runs.iteration(ws, 2).selected)

    # -- Export the K-Center run's selection and read it back ----------------------------------------------
    go_to(page, "Export")
    choose(page, "export_run", f"run {kcenter.run_id}")
    expect(main(page).get_by_text(f"{len(picked)} samples will be exported")).to_be_visible()
    out = tmp_path / "exports" / "kcenter.jsonl"
    by_key(page, "export_path_alpaca_messages", "input").fill(str(out))
    by_key(page, "export_path_alpaca_messages", "input").press("Enter")
    wait_for_run(page)
    by_key(page, "export_go", "button").click()
    expect(main(page).get_by_text(f"Wrote {len(picked)} samples")).to_be_visible()
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    records = samples.get_many(ws, picked)
    by_instruction = {r["instruction"]: r for r in rows}
    assert sorted(r["instruction"] for r in exported) == sorted(records[s].instruction for s in picked)
    for row in exported:  # exactly the source rows
        source_row = by_instruction[row["instruction"]]
        assert (row["input"], row["output"]) == (source_row["input"], source_row["output"])
    screenshot(page, "17-export-run")
    ws.close()


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def slider_value(slider) -> float:
    return float(slider.get_attribute("aria-valuenow") or slider.input_value())


def _jobs(ws: Workspace, *kinds: str):
    from curation.services import jobs

    return [j for j in jobs.list_jobs(ws) if j.kind in kinds]
