"""docs/methods.md, "Adding a method": the example block is executed as written, registered, and run through the
runner on the fake engine over real Dolly rows; its selection is checked against a ranking computed here."""

from __future__ import annotations

import re
import sys
import types

import pytest

from curation.configs import choices_of, help_of
from curation.errors import CurationError
from curation.methods import registry, runner
from curation.workspace import decisions, runs, samples
from tests.shared_data import ROOT

BUDGET = 20


def doc_example() -> str:
    text = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    section = text.split("## Adding a method", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


@pytest.fixture
def shortest():
    """The doc's module, imported as a module of its own (type hints resolve against its namespace)."""
    module = types.ModuleType("doc_example_shortest")
    sys.modules[module.__name__] = module
    try:
        exec(compile(doc_example(), "docs/methods.md", "exec"), module.__dict__)
        yield module
    finally:
        registry.unregister("shortest")
        del sys.modules[module.__name__]


@pytest.fixture(scope="module")
def pool(dolly_workspace):
    ws = dolly_workspace(120)
    ids = samples.ids(ws)
    decisions.record(ws, [ids[7], ids[30]], "approve")
    decisions.record(ws, ids[50:60], "reject")
    return ws


def test_the_example_is_about_thirty_lines():
    lines = [line for line in doc_example().splitlines() if line.strip()]
    assert 20 <= len(lines) <= 40


def test_the_example_registers_with_its_settings(shortest):
    assert "shortest" in registry.names()
    cls = registry.get("shortest").config_cls
    assert choices_of(cls) == {"part": ("prompt", "response")}
    assert set(help_of(cls)) == {"part", "longest_first"} and all(help_of(cls).values())
    assert registry.make_config("shortest", {"part": "response", "longest_first": "true"}) == cls(
        part="response", longest_first=True)
    with pytest.raises(CurationError, match=r"^ShortestConfig.part must be one of prompt, response, not 'middle'$"):
        registry.make_config("shortest", {"part": "middle"})
    with pytest.raises(CurationError, match="unknown setting 'parts' for ShortestConfig"):
        registry.make_config("shortest", {"parts": "prompt"})


@pytest.mark.parametrize(("part", "longest_first"), [("prompt", False), ("response", True)])
def test_the_example_runs_through_the_runner(shortest, pool, part, longest_first):
    ws = pool
    ids = samples.ids(ws)
    records = samples.get_many(ws, ids)
    run_id = runner.start_run(ws, "shortest", budget=BUDGET, config={"part": part, "longest_first": longest_first},
                              seed=0, models={"engine": "fake"})
    runner.run_selection(ws, run_id)
    assert runs.get(ws, run_id).status == "done"
    selected = runs.iteration(ws, run_id).selected

    # reference: approved samples first (in row order), then the rest by length, ties by row
    required = [ids[7], ids[30]]
    rejected = set(ids[50:60])
    sign = -1 if longest_first else 1
    rest = sorted((i for i, s in enumerate(ids) if s not in rejected and s not in required),
                  key=lambda i: (sign * len(getattr(records[ids[i]], part)), i))
    assert selected == required + [ids[i] for i in rest[: BUDGET - len(required)]]

    frame = runs.scores(ws, runs.iteration(ws, run_id)).set_index("sample_id")
    chosen = frame.loc[selected]
    assert chosen["selected"].all() and chosen["rank"].tolist() == list(range(BUDGET))
    assert (chosen["method"] == "shortest").all()
    lengths = [len(getattr(records[s], part)) for s in selected[2:]]
    assert chosen["reason"].tolist()[2:] == [f"{part} of {n} characters" for n in lengths]
    assert int(frame["selected"].sum()) == BUDGET
