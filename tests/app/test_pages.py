"""Every page of the app, headless with AppTest, on a seeded workspace (a Dolly slice plus the demo pool).

Jobs run in-process (`jobs.run_pending`) instead of in a detached worker (CURATION_START_WORKER=0).
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from curation.formats import demo, importer
from curation.services import browse, jobs
from curation.workspace import Workspace, decisions, runs, samples
from tests.shared_data import DOLLY, ROOT, write_jsonl_head

APP = str(ROOT / "app.py")
PAGES = ["start", "data", "explore", "duplicates", "select", "review", "export", "jobs"]


@pytest.fixture
def app_ws(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("CURATION_START_WORKER", "0")
    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def slice_path(tmp_path):
    return write_jsonl_head(DOLLY, tmp_path / "dolly-300.jsonl", 300)


@pytest.fixture
def seeded(app_ws, slice_path):
    importer.import_source(app_ws, slice_path)
    demo.import_demo(app_ws)
    return app_ws


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    if page != "start":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe with this column (AppTest keeps keys only for dataframes with selections)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def main_metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.main.metric}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_seeded_workspace(seeded, page):
    at = open_page(page)
    assert at.title[0].value == page.capitalize()


def test_sidebar_counts_decisions(seeded):
    # on the entry page only: AppTest (1.67) drops the sidebar after switch_page
    decisions.record(seeded, samples.ids(seeded)[:3], "approve")
    decisions.record(seeded, samples.ids(seeded)[3:4], "reject")
    at = open_page("start")
    sidebar = {m.label: m.value for m in at.sidebar.metric}
    assert sidebar == {"Approved": "3", "Rejected": "1", "Pending": f"{samples.count(seeded) - 4:,}"}


@pytest.mark.parametrize("page", ["data", "review", "export"])
def test_pages_point_an_empty_workspace_to_start(app_ws, page):
    at = open_page(page)
    assert "pool is empty" in at.info[0].value


def test_start_offers_the_bundled_dolly_first_and_loads_it_offline(app_ws):
    at = open_page("start")
    assert at.button(key="load_bundled").proto.type == "primary"
    at.button(key="load_bundled").click().run()
    (job,) = jobs.list_jobs(app_ws)
    assert (job.kind, job.params["source"], job.params["schema"]) == ("import", "dolly-15k", "alpaca")
    jobs.run_pending(app_ws)
    at.run()
    assert not at.exception
    assert samples.count(app_ws) == 14_989
    assert main_metrics(at)["New samples"] == "14,989"


def test_start_loads_the_demo_pool_offline_and_shows_the_report(app_ws):
    at = open_page("start")
    assert at.button(key="load_dolly").disabled  # HF_HUB_OFFLINE=1 in the test environment
    assert any("cannot be reached" in c.value for c in at.caption)
    at.button(key="load_demo").click().run()
    (job,) = jobs.list_jobs(app_ws)
    assert (job.kind, job.params["schema"], job.status) == ("import", "alpaca", "queued")
    assert job.params["source"] == str(demo.demo_path(app_ws))
    jobs.run_pending(app_ws)
    at.run()
    assert not at.exception
    assert main_metrics(at)["New samples"] == f"{samples.count(app_ws):,}"
    problems = frame_with(at, "meaning")
    assert dict(zip(problems["problem"], problems["rows"]))["empty_response"] == demo.DemoSpec().noisy_per_kind
    located = frame_with(at, "where")
    assert located["where"].str.fullmatch(r"demo-pool\.jsonl:\d+").all()


def test_start_previews_a_path_with_override_and_imports_it(app_ws, slice_path):
    at = open_page("start")
    at.text_input(key="import_path").input(str(slice_path)).run()
    schema = at.selectbox(key="path_schema")
    assert schema.format_func(schema.value) == "detected: alpaca"
    first = [json.loads(line) for line in slice_path.read_text().splitlines()[:5]]
    shown = frame_with(at, "instruction")
    assert shown["instruction"].tolist() == [r["instruction"] for r in first]
    assert shown["response"].tolist() == [r["output"] for r in first]
    schema.select("sharegpt").run()  # the wrong schema: every scanned row would be skipped
    assert any("would be skipped" in w.value for w in at.warning)
    at.selectbox(key="path_schema").select("detected").run()
    at.button(key="path_import").click().run()
    job = jobs.list_jobs(app_ws)[0]
    assert job.params == {"source": str(slice_path), "schema": None, "strict": False, "split": "train"}
    jobs.run_pending(app_ws)
    at.run()
    assert main_metrics(at)["New samples"] == "300"
    assert samples.count(app_ws) == 300


def test_start_shows_unreadable_sources_as_messages(app_ws, tmp_path):
    at = open_page("start")
    at.text_input(key="import_path").input(str(tmp_path / "missing.jsonl")).run()
    assert not at.exception
    assert "no such file" in at.error[0].value and "missing" in at.error[0].value


def test_start_upload_is_saved_in_the_workspace_and_previewed(app_ws, slice_path):
    at = open_page("start")
    at.file_uploader(key="import_upload").set_value(("my set.jsonl", slice_path.read_bytes(),
                                                      "application/json")).run()
    saved = app_ws.root / "uploads" / "my_set.jsonl"
    assert saved.read_bytes() == slice_path.read_bytes()
    assert len(frame_with(at, "instruction")) == 5
    at.button(key="upload_import").click().run()
    assert jobs.list_jobs(app_ws)[0].params["source"] == str(saved)


def test_data_filters_page_and_bulk_actions_on_the_whole_filter(seeded, slice_path):
    at = open_page("data")
    frame = samples.frame(seeded)

    def has(term):  # a whole word (the page's default search), by Python's own tokenizing
        return (frame["prompt"] + " " + frame["response"]).map(
            lambda text: term in re.findall(r"[^\W_]+", text.lower()))

    reference = frame[has("the") & has("water")]
    assert 0 < len(reference) <= 50
    at.text_input(key="data_text").input("the water").run()
    assert at.markdown[0].value.startswith(f"**{len(reference):,}** matching")
    table = at.dataframe(key="data_table_1_50").value
    assert table["id"].tolist() == reference["id"].tolist()

    at.button(key="bulk_reject").click().run()
    at.button(key="bulk_confirm").click().run()
    assert set(decisions.ids_with(seeded, status="rejected")) == set(reference["id"])
    at.button(key="data_undo").click().run()
    assert decisions.ids_with(seeded, status="rejected") == []

    at.text_input(key="data_text").input("").run()
    at.multiselect(key="data_sources").select(str(slice_path)).run()
    assert at.markdown[0].value.startswith("**300** matching")
    at.pagination[0].set_value(6).run()  # 50 per page: rows 251-300
    assert at.dataframe(key="data_table_6_50").value["row"].tolist() == list(range(251, 301))


def test_data_row_detail_decides_one_sample(seeded):
    at = open_page("data")
    second = browse.page(seeded, limit=2)["id"].iloc[1]
    at.selectbox(key="data_detail_1_50_0").select(second).run()
    assert any(second in c.value for c in at.caption)
    at.button(key="data_detail_approve").click().run()
    assert decisions.state(seeded, second).status == "approved"
    at.button(key="data_detail_pin").click().run()
    assert decisions.state(seeded, second).pinned


def review_current(at: AppTest) -> str:
    text = " ".join(c.value for c in at.caption)
    return re.search(r"id `([0-9a-f]{16})`", text).group(1)


def test_review_keys_undo_and_a_refresh(seeded):
    at = open_page("review")
    assert at.button(key="review_approve").proto.shortcut == "a"
    assert at.button(key="review_reject").proto.shortcut == "x"
    assert at.button(key="review_skip").proto.shortcut == "space"
    assert at.button(key="review_undo").proto.shortcut == "backspace"
    order = browse.matching_ids(seeded, browse.Filter(statuses=("pending",)))
    assert review_current(at) == order[0]
    at.button(key="review_approve").click().run()
    assert review_current(at) == order[1]
    at.button(key="review_reject").click().run()
    at.button(key="review_skip").click().run()
    assert review_current(at) == order[3]
    at.button(key="review_approve").click().run()
    at.button(key="review_undo").click().run()   # undoes the approval of order[3] and shows it again
    assert review_current(at) == order[3]
    assert decisions.state(seeded, order[3]).status == "pending"
    assert main_metrics(at)["Skipped"] == "1" and main_metrics(at)["Approved"] == "1"
    at.button(key="review_undo").click().run()   # the skip comes back
    assert review_current(at) == order[2]
    states = {s: decisions.state(seeded, s).status for s in order[:4]}
    assert states == {order[0]: "approved", order[1]: "rejected", order[2]: "pending", order[3]: "pending"}

    fresh = open_page("review")  # a browser refresh is a new session: decisions stay, the queue resumes
    assert main_metrics(fresh)["Approved"] == "1" and main_metrics(fresh)["Rejected"] == "1"
    assert review_current(fresh) == order[2]
    assert main_metrics(fresh)["To review"] == f"{len(order) - 2:,}"


def test_review_defaults_to_a_runs_selection_and_bulk_approves_it(seeded):
    ids = samples.ids(seeded)
    run_id = runs.create(seeded, name="k", method="k_center", config={}, budget={}, seed=0)
    picked = ids[100:110] + ids[5:8]
    runs.add_iteration(seeded, run_id, 0, picked)
    decisions.record(seeded, [ids[5]], "reject")
    at = open_page("review")
    assert at.segmented_control(key="review_queue").value == "selected"
    assert main_metrics(at)["To review"] == "12"
    assert review_current(at) == ids[6]  # pending, selected, in row order
    at.button(key="review_bulk_approve").click().run()
    at.button(key="review_bulk_confirm").click().run()
    assert set(decisions.ids_with(seeded, status="approved")) == set(picked) - {ids[5]}
    assert any("Nothing left" in s.value for s in at.success)


def test_export_writes_reads_back_and_offers_the_download(seeded, tmp_path):
    ids = samples.ids(seeded)
    decisions.record(seeded, ids[:7], "approve")
    at = open_page("export")
    at.radio(key="export_decisions").set_value("approved").run()
    assert at.markdown[0].value == "**7** samples will be exported."
    out = tmp_path / "out" / "approved.jsonl"
    at.text_input(key="export_path_alpaca_messages").input(str(out)).run()
    at.button(key="export_go").click().run()
    assert not at.exception
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    records = samples.get_many(seeded, ids[:7])
    assert [r["output"] for r in rows] == [records[s].response for s in ids[:7]]
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert manifest["count"] == 7 and manifest["format"] == "alpaca"
    assert at.download_button(key="export_download").label == "Download approved.jsonl"
    assert at.json[0].value  # the manifest is shown


def test_export_to_an_unwritable_path_is_a_message(seeded):
    at = open_page("export")
    at.text_input(key="export_path_alpaca_messages").input("/proc/forbidden/out.jsonl").run()
    at.button(key="export_go").click().run()
    assert not at.exception and at.error


def test_jobs_page_shows_the_queue_and_cancels(seeded):
    job_id = jobs.submit(seeded, "sleep", {"steps": 3})
    at = open_page("jobs")
    table = frame_with(at, "kind")
    assert isinstance(table, pd.DataFrame) and table["status"].tolist()[0] == "queued"
    at.button(key=f"cancel-jobs-{job_id}").click().run()
    assert jobs.get(seeded, job_id).status == "cancelled"


def test_map_selection_filters_data_and_feeds_the_review_queue(seeded):
    chosen = samples.ids(seeded)[10:25]
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["selection_ids"] = chosen  # what the Explore page's lasso publishes
    at.run().switch_page("pages/data.py").run()
    at.checkbox(key="data_selection_ids").check().run()
    assert at.markdown[0].value.startswith("**15** matching")
    at.switch_page("pages/review.py").run()
    assert "The map selection" in at.segmented_control(key="review_queue").options
    at.segmented_control(key="review_queue").set_value("map").run()
    assert main_metrics(at)["To review"] == "15" and review_current(at) == chosen[0]
    at.segmented_control(key="review_queue").set_value("data").run()  # the Data page's filter, here the same
    assert main_metrics(at)["To review"] == "15"


def test_pages_never_import_heavy_libraries(seeded):
    """torch, umap, faiss, transformers and datasets load in the worker, never on page load."""
    import subprocess
    import sys

    script = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout=60).run()
for page in {PAGES[1:]!r}:
    at.switch_page(f"pages/{{page}}.py").run()
    assert not at.exception, page
heavy = sorted(m for m in ("torch", "umap", "faiss", "transformers", "datasets", "sentence_transformers")
               if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HEAVY=\n" in done.stdout, done.stdout


def test_data_filter_on_near_duplicate_groups(seeded):
    from curation.geometry import dedup_scan as dup_store
    from curation.geometry.embed import sample_text
    from curation.records import normalise

    at = open_page("data")
    # no scan yet: a caption instead of the checkbox
    assert any("scan on the Duplicates page" in c.value for c in at.caption)
    dup_store.scan_and_save(seeded, near=False)  # exact prompt groups, no model needed
    # reference: samples whose normalised prompt occurs more than once in the pool
    keys = [(sid, normalise(sample_text(rec, "prompt"))) for sid, rec in samples.iter_records(seeded)]
    counts = pd.Series([k for _, k in keys]).value_counts()
    expected = {sid for sid, k in keys if counts[k] > 1}
    assert expected  # the demo pool plants repeated prompts
    at = open_page("data")
    at.checkbox(key="data_near").check().run()
    assert at.markdown[0].value.startswith(f"**{len(expected):,}** matching")
    shown = set(at.dataframe(key="data_table_1_50").value["id"])
    assert shown <= expected and len(shown) == min(50, len(expected))
