"""The contract every registered selection method keeps, checked through real runs on real Dolly rows with the
deterministic fake engine: exact budget, unique in-range ids, same selection for the same seed, human decisions
respected, provenance for every selected sample."""

from __future__ import annotations

import pytest

from curation.methods import registry, runner
from curation.methods.base import COMPONENTS
from curation.workspace import decisions, runs, samples

FAKE = {"engine": "fake"}
# small but complete settings: every method runs all of its iterations in well under a second
FAST = {"diverse_evol": {"rounds": 3, "epochs": 1}, "iterit": {"epochs": 2}, "learning_pct": {"epochs": 2}}
BUDGET = 24


@pytest.fixture(scope="module")
def pool(dolly_workspace):
    """A workspace of 160 real Dolly rows with a few human decisions."""
    ws = dolly_workspace(160)
    ids = samples.ids(ws)
    decisions.record(ws, ids[3:5], "approve")
    decisions.record(ws, [ids[40]], "pin")
    decisions.record(ws, ids[10:16], "reject")
    decisions.record(ws, [ids[4]], "pin")  # approved and pinned: counted once
    return ws


def run(ws, method: str, seed: int = 0, budget=BUDGET, **config) -> tuple[int, list[str]]:
    run_id = runner.start_run(ws, method, budget=budget, config={**FAST.get(method, {}), **config}, seed=seed,
                              models=FAKE)
    runner.run_selection(ws, run_id)
    return run_id, runs.iteration(ws, run_id).selected


@pytest.mark.parametrize("method", registry.names())
def test_contract(pool, method):
    ws = pool
    ids = samples.ids(ws)
    run_id, selected = run(ws, method)
    # exact budget, unique, in range
    assert len(selected) == BUDGET
    assert len(set(selected)) == BUDGET
    assert set(selected) <= set(ids)
    # constraints: approved and pinned always in, rejected never
    required = set(decisions.ids_with(ws, status="approved")) | set(decisions.ids_with(ws, pinned=True))
    assert required <= set(selected)
    assert not set(decisions.ids_with(ws, status="rejected")) & set(selected)
    # deterministic for a seed
    assert run(ws, method)[1] == selected
    # provenance: every selected sample has a row with its rank, reason and the score components
    its = runs.iterations(ws, run_id)
    assert runs.get(ws, run_id).status == "done"
    frame = runs.scores(ws, its[-1]).set_index("sample_id")
    assert len(frame) == len(ids)
    assert set(COMPONENTS) | {"rank", "selected", "reason", "gain", "method"} <= set(frame.columns)
    chosen = frame.loc[selected]
    assert chosen["selected"].all() and (chosen["method"] == method).all()
    assert chosen["rank"].tolist() == list(range(BUDGET))
    assert (chosen["reason"].str.len() > 0).all()
    assert int(frame["selected"].sum()) == BUDGET
    for it in its:  # every iteration carries its metrics
        assert it.metrics["n_selected"] == len(it.selected)
        assert it.metrics["vendi"] >= 1.0


@pytest.mark.parametrize("method", registry.names())
def test_budgets_in_percent_and_tokens(pool, method):
    ws = pool
    n = samples.count(ws)
    _, selected = run(ws, method, budget="10%")
    assert len(selected) == n // 10
    token_of = {s: len(r.prompt.split()) + len(r.response.split()) + 1  # the fake engine's token count
                for s, r in samples.get_many(ws, samples.ids(ws)).items()}
    budget = 3000
    run_id, selected = run(ws, method, budget=f"{budget} tokens")
    used = sum(token_of[s] for s in selected)
    assert used <= budget
    assert len(set(selected)) == len(selected) > 0
    assert runs.iteration(ws, run_id).metrics["tokens"] == used


def test_constraints_beyond_budget_are_a_clear_error(pool):
    from curation.errors import CurationError

    with pytest.raises(CurationError, match="exceed the budget"):
        run(pool, "random", budget=2)


def test_seed_changes_random_selection(pool):
    assert run(pool, "random", seed=1)[1] != run(pool, "random", seed=2)[1]


@pytest.mark.parametrize("method", registry.names())
def test_config_is_ready_for_a_form(method):
    import dataclasses
    import typing

    from curation.methods.base import choices_of, help_of

    cls = registry.get(method).config_cls
    cfg = cls()  # every field has a default
    helps, choices = help_of(cls), choices_of(cls)
    for f in dataclasses.fields(cls):
        assert helps[f.name], f"{method}.{f.name} has no help text"
        value = getattr(cfg, f.name)
        assert type(value) in (int, float, bool, str)
        if f.name in choices:
            assert value in choices[f.name]
    assert dataclasses.asdict(registry.make_config(method, dataclasses.asdict(cfg))) == dataclasses.asdict(cfg)
    assert set(typing.get_type_hints(cls)) == set(helps)  # annotations resolve


@pytest.fixture(scope="module")
def many_required(dolly_workspace):
    """160 Dolly rows, 20 of them approved: more than any method's first iteration takes at budget 40
    (DiverseEvol's initial pool with 3 rounds is 40 / 4 = 10)."""
    ws = dolly_workspace(160)
    ids = samples.ids(ws)
    decisions.record(ws, ids[100:120], "approve")
    return ws


@pytest.mark.parametrize("budget", [40, "3000 tokens"])
@pytest.mark.parametrize("method", registry.names())
def test_required_samples_beyond_the_first_iteration_are_all_selected(many_required, method, budget):
    ws = many_required
    required = set(samples.ids(ws)[100:120])
    run_id, selected = run(ws, method, budget=budget)
    assert required <= set(selected), f"{len(required - set(selected))} of the 20 approved samples are missing"
    assert len(set(selected)) == len(selected)
    if budget == 40:
        assert len(selected) == 40
    for it in runs.iterations(ws, run_id):  # never dropped on the way: every iteration keeps them
        assert required <= set(it.selected), f"iteration {it.iteration} misses approved samples"


# which rows each training method trains on in an iteration (a new training method must say so here)
TRAINS_ON = {"diverse_evol": "selected", "iterit": "selected", "learning_pct": "not rejected"}
MAX_WORDS = 60  # the fake engine skips a row whose prompt holds max_length words or more


@pytest.fixture(scope="module")
def long_prompts(dolly_workspace):
    """160 Dolly rows; three approved samples whose prompts fill max_length = 60, so every training method
    is asked to train on samples it must skip."""
    ws = dolly_workspace(160)
    records = samples.get_many(ws, samples.ids(ws))
    long = [s for s in samples.ids(ws) if len(records[s].prompt.split()) >= MAX_WORDS]
    decisions.record(ws, long[:3], "approve")
    return ws


@pytest.mark.parametrize("method", registry.names())
def test_skipped_samples_are_reported_and_not_counted_as_trained(long_prompts, method):
    import dataclasses

    ws = long_prompts
    fields = {f.name for f in dataclasses.fields(registry.get(method).config_cls)}
    run_id, _ = run(ws, method, budget=30, **({"max_length": MAX_WORDS} if "max_length" in fields else {}))
    records = samples.get_many(ws, samples.ids(ws))
    skip = {s for s, r in records.items() if len(r.prompt.split()) >= MAX_WORDS or not r.response.strip()}
    checked = 0
    for it in runs.iterations(ws, run_id):
        key = next((k for k in it.metrics if k.endswith("trained_samples")), None)
        if key is None:  # this iteration trained nothing
            continue
        prefix = key[: -len("trained_samples")]
        frame = runs.scores(ws, it).set_index("sample_id")
        asked = set(it.selected) if TRAINS_ON[method] == "selected" else set(frame.index[~frame["excluded"]])
        reported = set(frame.index[frame["train_skipped"] != ""])
        assert reported == asked & skip and reported
        assert all("max_length" in frame.loc[s, "train_skipped"] for s in reported)
        trained = asked - skip
        assert it.metrics[key] == len(trained) and it.metrics[prefix + "n_train_skipped"] == len(reported)
        # tokens that carried loss: each trained row's response words + 1, cut at what the prompt leaves
        assert it.metrics[prefix + "trained_tokens"] == sum(
            min(MAX_WORDS - len(records[s].prompt.split()), len(records[s].response.split()) + 1) for s in trained)
        checked += 1
    assert checked > 0 or method not in TRAINS_ON
