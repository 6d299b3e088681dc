"""Explore, Duplicates and Select, headless with AppTest, on a seeded workspace: a Dolly slice, the demo pool and a
row with markup in it; a map, a duplicate scan and two fake-engine runs. Embeddings are the fake engine's
deterministic bag-of-words vectors (stored in the workspace's embedding cache under a test spec), so no model
loads; the browser test runs the real thing. Jobs run in-process (`jobs.run_pending`)."""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import asdict

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from curation.formats import demo, importer
from curation.geometry import dedup, maps
from curation.geometry import dedup_scan as dup_store
from curation.geometry.embed import sample_text
from curation.geometry.embed_cache import EmbeddingStore, StoreSpec, text_keys
from curation.geometry.vendi import vendi_score
from curation.methods import registry, runner
from curation.methods.engines.fake_engine import FakeEngine
from curation.methods.estimate import estimate_run
from curation.services import jobs, timeline
from curation.workspace import Workspace, decisions, runs, samples
from pages._common import md
from tests.shared_data import DOLLY, ROOT, write_jsonl_head

APP = str(ROOT / "app.py")
SPEC = StoreSpec(model="test/bag-of-words", revision="1", max_length=256, dim=48)
MARKUP = '<img src=x onerror="alert(1)"> & <b>bold</b>'


def embed_fake(ws: Workspace, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Fake-engine vectors of every sample's `field` text, stored in the embedding cache like real ones."""
    texts = [sample_text(r, field) for _, r in samples.iter_records(ws)]
    X = FakeEngine([r for _, r in samples.iter_records(ws)]).reference_embeddings(np.arange(len(texts))) \
        if field == "text" else _bags(texts)
    keys = text_keys(texts)
    store = EmbeddingStore.for_workspace(ws, SPEC)
    unique, first = np.unique(keys, return_index=True)
    missing = ~store.contains(unique)
    if missing.any():
        store.add(unique[missing], X[first[missing]])
    return X, keys


def _bags(texts: list[str]) -> np.ndarray:
    from curation.methods.engines.fake_engine import _bag

    X = np.stack([_bag(t) for t in texts]) + 1e-3
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def seeded_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages_b")
    ws = Workspace(root / "ws")
    extra = root / "markup.jsonl"
    extra.write_text(json.dumps({"instruction": MARKUP, "input": "", "output": "</div><script>x()</script>"}) + "\n")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, root / "dolly-300.jsonl", 300)))
    demo.import_demo(ws)
    importer.import_source(ws, str(extra))
    ids = samples.ids(ws)
    X, keys = embed_fake(ws, "text")
    store = {"store": f"embeddings/{SPEC.folder_name}", "spec": asdict(SPEC), "field": "text"}
    maps.build(ws, X, ids=ids, text_keys=keys, source=f"{SPEC.folder_name}/text", store=store,
               config=maps.MapConfig(method="pca"))
    P, prompt_keys = embed_fake(ws, "prompt")
    pool = dedup.scan_pool(ws, near=False)
    texts = [sample_text(r, "prompt") for _, r in samples.iter_records(ws)]
    pool = dedup.PoolScan(ids=pool.ids, scan=dedup.scan(P, texts, floor=0.85), X=P,
                          response_chars=pool.response_chars, protected=pool.protected)
    dup_store.save(ws, pool, field="prompt", near=True, text_keys=prompt_keys, store=store)
    for method, budget, config in (("kcenter", 40, {}), ("diverse_evol", 30, {"rounds": 2, "epochs": 1})):
        run_id = runner.start_run(ws, method, budget=budget, config=config, seed=1, models={"engine": "fake"})
        runner.run_selection(ws, run_id)
        timeline.compute_baseline(ws, run_id)
    ws.close()
    return root / "ws"


@pytest.fixture
def ws(seeded_root, tmp_path, monkeypatch):
    """A private copy of the seeded workspace (tests decide things)."""
    copy = tmp_path / "ws"
    shutil.copytree(seeded_root, copy)
    monkeypatch.setenv("CURATION_WORKSPACE", str(copy))
    monkeypatch.setenv("CURATION_START_WORKER", "0")
    workspace = Workspace(copy)
    yield workspace
    workspace.close()


def open_page(page: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def decode(value):
    """Plotly's JSON with its typed arrays ({"dtype", "bdata"[, "shape"]}) turned back into lists."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def figures(at: AppTest) -> list[dict]:
    return [decode(json.loads(e.proto.spec)) for e in at.get("plotly_chart")]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.main.metric}


def map_rows(fig: dict) -> dict[str, list[int]]:
    return {trace["name"]: list(trace["customdata"]) for trace in fig["data"]}


# -- Explore -----------------------------------------------------------------------------------------------
def test_explore_draws_every_sample_once_where_the_map_put_it_with_escaped_hover(ws):
    ids = samples.ids(ws)
    pool_map = maps.current(ws, ids)
    at = open_page("explore")
    fig = figures(at)[0]
    assert all(trace["type"] == "scattergl" for trace in fig["data"])
    assert sorted(r for rows in map_rows(fig).values() for r in rows) == list(range(len(ids)))
    for trace in fig["data"]:
        rows = np.array(trace["customdata"])
        np.testing.assert_allclose(trace["x"], pool_map.coords[rows, 0], rtol=1e-6)
        np.testing.assert_allclose(trace["y"], pool_map.coords[rows, 1], rtol=1e-6)
    assert set(map_rows(fig)) == {"pending"}  # coloured by decision by default
    hover = {r: h for trace in fig["data"] for r, h in zip(trace["customdata"], trace["hovertext"])}
    markup_row = next(r for r, s in enumerate(ids) if MARKUP in samples.get(ws, s).prompt)
    assert "&lt;img src=x onerror=\"alert(1)\"&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in hover[markup_row]
    assert "&lt;/div&gt;&lt;script&gt;x()&lt;/script&gt;" in hover[markup_row]
    assert not any("<img" in h or "<script" in h or "</div" in h for h in hover.values())


def test_explore_summarises_and_decides_the_map_selection(ws):
    ids = samples.ids(ws)
    chosen = ids[5:25]
    X = maps.embeddings(ws, maps.current(ws, ids))
    at = open_page("explore", selection_ids=chosen)
    assert any(h.value == "Selection: 20 samples" for h in at.subheader)
    shown = metrics(at)
    assert shown["Pending"] == "20" and shown["Approved"] == "0"
    assert shown["Vendi (selection)"] == f"{vendi_score(X[5:25]):.1f}"
    assert shown["Vendi (pool)"] == f"{vendi_score(X):.1f}"
    lengths = figures(at)[1]
    assert [t["name"] for t in lengths["data"]] == [f"pool ({len(ids)})", "map selection (20)"]
    at.button(key="explore_reject").click().run()
    assert set(decisions.ids_with(ws, status="rejected")) == set(chosen)
    assert {decisions.state(ws, s).reason for s in chosen} == {"map selection"}
    assert map_rows(figures(at)[0])["rejected"] == list(range(5, 25))  # recoloured at once
    at.button(key="explore_pin").click().run()
    assert set(decisions.ids_with(ws, pinned=True)) == set(chosen)
    at.button(key="explore_deselect").click().run()
    assert at.session_state["selection_ids"] == [] and metrics(at) == {}


def test_explore_colours_by_the_iteration_a_run_added_a_sample(ws):
    ids = samples.ids(ws)
    evol = next(r for r in runs.list_runs(ws) if r.method == "diverse_evol")
    at = open_page("explore")
    at.selectbox(key="explore_colour").select("iteration").run()
    at.selectbox(key="explore_run").select(evol.run_id).run()
    rows = map_rows(figures(at)[0])
    its = runs.iterations(ws, evol.run_id)
    seen: set[str] = set()
    for it in its:
        added = [s for s in it.selected if s not in seen]
        seen |= set(it.selected)
        assert sorted(rows[f"iteration {it.iteration}"]) == sorted(ids.index(s) for s in added)
    assert len(rows["never selected"]) == len(ids) - len(seen)


def test_explore_colours_by_a_runs_score(ws):
    ids = samples.ids(ws)
    kcenter = next(r for r in runs.list_runs(ws) if r.method == "kcenter")
    scores = runs.scores(ws, runs.iteration(ws, kcenter.run_id)).set_index("sample_id")
    at = open_page("explore")
    at.selectbox(key="explore_colour").select("score").run()
    at.selectbox(key="explore_run").select(kcenter.run_id).run()
    at.selectbox(key="explore_score").select("distance_to_selected").run()
    none, shown = figures(at)[0]["data"]
    picked = [ids[r] for r in shown["customdata"]]
    finite = np.isfinite(scores["distance_to_selected"])  # the first pick's distance is infinite: no colour
    assert set(picked) == set(scores.index[finite]) and np.isinf(scores["distance_to_selected"]).sum() == 1
    np.testing.assert_allclose(shown["marker"]["color"], scores.loc[picked, "distance_to_selected"])
    assert len(none["customdata"]) == len(ids) - len(picked)


def test_explore_without_a_map_queues_embedding_then_a_first_look_then_the_map(ws):
    shutil.rmtree(ws.root / "maps")
    at = open_page("explore")
    assert any("No map of this pool yet" in i.value for i in at.info)
    at.button(key="explore_compute").click().run()
    queued = [(j.kind, j.params) for j in reversed(jobs.list_jobs(ws))]
    assert queued == [("embed", {"config": {}, "field": "text"}),
                      ("umap", {"field": "text", "map": {"method": "pca"}}),
                      ("umap", {"field": "text", "map": {"preview": False}})]
    assert at.button(key="explore_compute").disabled  # one map at a time
    assert at.button(key=f"cancel-explore-{jobs.list_jobs(ws)[-1].job_id}")  # progress with a cancel button


def test_explore_says_when_the_pool_changed_since_the_map(ws, tmp_path):
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"instruction": "one more", "input": "", "output": "sample"}) + "\n")
    importer.import_source(ws, str(more))
    at = open_page("explore")
    assert not at.get("plotly_chart")
    assert any(f"{samples.count(ws) - 1:,} samples then" in i.value for i in at.info)


# -- Duplicates --------------------------------------------------------------------------------------------
def duplicate_counts(at: AppTest) -> dict[str, str]:
    shown = metrics(at)
    return {k: shown[k] for k in ("Groups", "Samples in groups", "Would be rejected", "Pairs")}


def expected_counts(scan: dedup.Scan, t: float) -> dict[str, str]:
    c = scan.preview([t])[0]
    return {"Groups": f"{c.groups:,}", "Samples in groups": f"{c.in_groups:,}", "Would be rejected": f"{c.dropped:,}",
            "Pairs": f"{c.pairs:,}"}


def test_duplicates_slider_previews_the_scan(ws):
    saved = dup_store.load(ws)
    at = open_page("duplicates")
    assert duplicate_counts(at) == expected_counts(saved.pool.scan, 0.95)
    slider = at.slider(key=f"dup_threshold_{round(saved.floor * 1000)}")
    slider.set_value(0.9).run()
    assert duplicate_counts(at) == expected_counts(saved.pool.scan, 0.9)
    assert saved.pool.scan.preview([0.9])[0].groups >= 5  # the demo pool plants duplicates
    curve = figures(at)[0]
    dropped = dict(zip(curve["data"][0]["x"], curve["data"][0]["y"]))
    assert dropped[0.9] == saved.pool.scan.preview([0.9])[0].dropped


def largest_group(ws: Workspace, t: float) -> list[str]:
    saved = dup_store.load(ws)
    group = sorted(saved.pool.scan.groups(t), key=lambda g: (-len(g), int(g[0])))[0]
    return [saved.pool.ids[int(r)] for r in group]


def test_duplicates_keep_this_and_keep_all(ws):
    group = largest_group(ws, 0.95)
    at = open_page("duplicates")
    at.button(key=f"dup_keep_{group[0]}_{group[-1]}").click().run()
    assert {s for s in group if decisions.state(ws, s).status == "rejected"} == set(group[:-1])
    assert all(group[-1] in decisions.state(ws, s).reason for s in group[:-1])
    at.button(key="dup_undo").click().run()
    assert decisions.counts(ws)["rejected"] == 0
    before = dup_store.load(ws).pool.scan.preview([0.95])[0].groups
    at.button(key=f"dup_keepall_{group[0]}").click().run()
    after = dup_store.load(ws).pool.scan
    assert after.preview([0.95])[0].groups == before - 1
    assert duplicate_counts(at) == expected_counts(after, 0.95)
    assert decisions.counts(ws)["rejected"] == 0  # keep-all decides nothing


def test_a_large_group_draws_its_first_members_and_counts_the_rest(ws, monkeypatch):
    import pages._dup_groups as cards

    group = largest_group(ws, 0.95)
    monkeypatch.setattr(cards, "MEMBERS_SHOWN", len(group) - 1)
    at = open_page("duplicates")
    keep_buttons = [b.key for b in at.button if b.key and b.key.startswith(f"dup_keep_{group[0]}_")]
    assert keep_buttons == [f"dup_keep_{group[0]}_{s}" for s in group[:-1]]  # the last member is not drawn
    assert any("… and 1 more samples in this group" in c.value for c in at.caption)
    at.button(key=f"dup_keepall_{group[0]}").click().run()  # covers every member, the undrawn one too
    saved = dup_store.load(ws)
    row = {s: r for r, s in enumerate(saved.pool.ids)}
    together = [g for g in saved.pool.scan.groups(0.95) if {row[group[0]], row[group[-1]]} <= set(g.tolist())]
    assert together == []


def test_duplicates_apply_to_all_rejects_exactly_the_plan_and_undoes(ws):
    saved = dup_store.load(ws)
    plan = dedup.apply(ws, saved.pool, 0.95, keeper="first", dry_run=True)
    at = open_page("duplicates")
    at.selectbox(key="dup_keeper").select("first").run()
    at.button(key="dup_apply").click().run()
    at.button(key="dup_confirm_yes").click().run()
    assert set(decisions.ids_with(ws, status="rejected")) == set(plan.dropped_ids) and plan.dropped_ids
    assert {decisions.state(ws, s).reason for s in plan.dropped_ids} == set(plan.reasons)
    assert duplicate_counts(at)["Groups"] == "0"  # rejected samples leave the scan's pairs
    at.button(key="dup_undo").click().run()
    assert decisions.counts(ws)["rejected"] == 0


def test_duplicates_without_a_scan_queue_one(ws):
    shutil.rmtree(ws.root / "dedup")
    at = open_page("duplicates")
    assert any("not been scanned" in i.value for i in at.info)
    at.checkbox(key="dup_exact").check().run()
    at.button(key="dup_scan").click().run()
    (job,) = jobs.list_jobs(ws)
    assert (job.kind, job.params) == ("dedup_scan", {"field": "prompt", "floor": 0.85, "near": False})
    jobs.run_pending(ws)
    at.run()
    assert not at.exception and metrics(at)["Groups"] == f"{dup_store.load(ws).pool.scan.preview([1.0])[0].groups:,}"


# -- Select ------------------------------------------------------------------------------------------------
def test_select_builds_the_form_from_the_config_dataclass(ws):
    from dataclasses import fields

    at = open_page("select")
    for name in registry.names():
        at.selectbox(key="select_method").select(name).run()
        for setting in fields(registry.get(name).config_cls):
            assert at.session_state[f"select_cfg_{name}_{setting.name}"] == setting.default
    assert not at.exception


def test_select_shows_an_estimate_and_readable_config_errors(ws):
    at = open_page("select")
    at.selectbox(key="select_method").select("static_ifd").run()
    estimate = next(i.value for i in at.info if "Estimated time" in i.value)
    n = samples.count(ws)
    chars = ws.query("SELECT AVG(prompt_chars), AVG(response_chars) FROM samples")[0]
    expected = estimate_run("static_ifd", registry.make_config("static_ifd"), n_pool=n, n_select=n * 5 // 100,
                            prompt_chars=chars[0], response_chars=chars[1], embedded=False)  # the test vectors are
    assert f"**{md(expected.describe())}**" in estimate  # not the default embedder's: embedding is priced in
    assert "sentence" in estimate and "IFD" in estimate
    at.selectbox(key="select_method").select("diverse_evol").run()
    at.number_input(key="select_cfg_diverse_evol_epochs").set_value(0).run()
    assert "DiverseEvol needs" in at.error[0].value


def test_select_starts_a_run_as_a_job_and_follows_it_on_its_timeline(ws):
    at = open_page("select")
    at.selectbox(key="select_method").select("kcenter").run()
    at.selectbox(key="select_cfg_kcenter_metric").select("cosine").run()
    at.number_input(key="select_budget_percent").set_value(10.0).run()
    at.radio(key="select_engine").set_value("fake").run()
    at.button(key="select_start").click().run()
    run = runs.list_runs(ws)[-1]
    assert (run.method, run.config, run.budget, run.models["engine"]) == (
        "kcenter", {"metric": "cosine"}, {"kind": "percent", "value": 10.0}, "fake")
    queued = [(j.kind, j.params) for j in reversed(jobs.list_jobs(ws))]
    assert queued == [("select", {"run_id": run.run_id}), ("timeline", {"run_id": run.run_id})]
    assert any(f"Run {run.run_id} started" in m.value for m in at.success)
    jobs.run_pending(ws)
    at.session_state["select_view"] = "Timeline"
    at.run()
    assert not at.exception
    its = runs.iterations(ws, run.run_id)
    assert len(its[-1].selected) == samples.count(ws) // 10
    table = next(d.value for d in at.dataframe if "random vendi (cosine)" in d.value.columns)
    band = timeline.load_baseline(ws, run.run_id)[len(its[-1].selected)]
    assert table["vendi (cosine)"].tolist() == [its[-1].metrics["vendi"]]
    assert table["random vendi (cosine)"].tolist() == [band[0]]
    vendi_fig = figures(at)[0]
    assert [t["name"] for t in vendi_fig["data"]][-1] == "selection"
    random_trace = next(t for t in vendi_fig["data"] if t["name"].startswith("random, same size"))
    assert random_trace["y"] == [band[0]] and random_trace["error_y"]["array"] == [band[2] - band[0]]


def test_select_timeline_shows_each_iteration_of_a_multi_round_run(ws):
    evol = next(r for r in runs.list_runs(ws) if r.method == "diverse_evol")
    its = runs.iterations(ws, evol.run_id)
    at = open_page("select", select_view="Timeline", select_timeline_run=evol.run_id)
    table = next(d.value for d in at.dataframe if "random vendi (cosine)" in d.value.columns)
    steps = timeline.diffs(its)
    assert table["added"].tolist() == [len(s.added) for s in steps] == [10, 10, 10]
    assert table["kept"].tolist() == [0, 10, 20] and table["dropped"].tolist() == [0, 0, 0]
    baseline = timeline.load_baseline(ws, evol.run_id)
    assert table["random vendi (cosine)"].tolist() == [baseline[s.size][0] for s in steps]
    at.selectbox(key=f"select_iteration_{evol.run_id}").select(1).run()
    assert any(m.value.startswith("**Added** versus the previous iteration: 10") for m in at.markdown)
    picked = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert picked["id"].tolist() == its[1].selected
    assert picked["reason"].str.contains("initial pool|farthest").all()
    lengths = [f for f in figures(at) if f["data"][0]["type"] == "box"][0]
    assert [t["name"] for t in lengths["data"]] == ["pool", "iteration 0", "iteration 1", "iteration 2"]


def test_select_cancels_a_queued_run_and_resumes_it(ws):
    run_id = runner.start_run(ws, "kcenter", budget=20, seed=0, models={"engine": "fake"})
    job_id = jobs.submit(ws, "select", {"run_id": run_id})
    at = open_page("select")
    at.button(key=f"cancel-select-{job_id}").click().run()
    assert jobs.get(ws, job_id).status == "cancelled"
    runs.set_status(ws, run_id, "cancelled", "Cancelled: <b>stopped</b> by you")
    at = open_page("select", select_view="Timeline", select_timeline_run=run_id)
    assert "stopped" in at.error[0].value and "<b>" not in at.error[0].value
    at.button(key=f"select_resume_{run_id}").click().run()
    jobs.run_pending(ws)
    assert runs.get(ws, run_id).status == "done" and len(runs.iteration(ws, run_id).selected) == 20


def test_select_compares_two_runs(ws):
    done = runs.list_runs(ws)
    a, b = (runs.iteration(ws, r.run_id).selected for r in (done[-1], done[-2]))
    at = open_page("select", select_view="Compare runs")
    shown = metrics(at)
    assert shown["In both"] == str(len(set(a) & set(b)))
    assert shown[f"Only run {done[-1].run_id}"] == str(len(set(a) - set(b)))
    assert shown["Jaccard overlap"] == f"{len(set(a) & set(b)) / len(set(a) | set(b)):.2f}"
    bars = [t for t in figures(at)[0]["data"] if t["type"] == "bar"]
    assert bars[3]["y"] == [runs.iteration(ws, r.run_id).metrics["vendi"] for r in (done[-1], done[-2])]


def test_select_estimate_and_run_agree_on_a_fractional_percent(ws):
    n = samples.count(ws)
    expected = 184 * n // 1000  # 18.4% of the pool, rounded down, in integers
    at = open_page("select")
    at.selectbox(key="select_method").select("kcenter").run()
    at.number_input(key="select_budget_percent").set_value(18.4).run()
    estimate = next(i.value for i in at.info if "Estimated time" in i.value)
    assert f"for about {expected:,} of {n:,} samples" in estimate
    at.radio(key="select_engine").set_value("fake").run()
    at.button(key="select_start").click().run()
    jobs.run_pending(ws)
    run = runs.list_runs(ws)[-1]
    assert run.budget == {"kind": "percent", "value": 18.4} and len(runs.iteration(ws, run.run_id).selected) == expected
    assert [j.kind for j in jobs.list_jobs(ws) if j.params == {"run_id": run.run_id}] == ["timeline", "select"]
