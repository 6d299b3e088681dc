"""Method names as users write them: the papers' spellings, any case, hyphens or spaces; a typo is refused."""

from __future__ import annotations

import pytest

from curation.errors import CurationError
from curation.methods import registry

SPELLINGS = {
    "DiverseEvol": "diverse_evol", "diverseevol": "diverse_evol", "diverse-evol": "diverse_evol",
    "IterIT": "iterit", "iterit": "iterit",
    "learning-percentage": "learning_pct", "Learning Percentage": "learning_pct", "lp": "learning_pct",
    "learning_pct": "learning_pct", "K-Center": "kcenter", "cluster-random": "cluster_random",
    "Superfiltering": "static_ifd", "static-ifd": "static_ifd", "DEITA": "deita",
}


@pytest.mark.parametrize("spelling,name", SPELLINGS.items())
def test_spellings_resolve_to_the_registered_name(spelling, name):
    assert registry.canonical(spelling) == name
    assert registry.get(spelling).name == name


def test_a_typo_is_refused_with_the_known_names():
    with pytest.raises(CurationError, match="unknown method 'diversevol'.*diverse_evol"):
        registry.get("diversevol")


def test_a_run_started_under_an_alias_stores_the_registered_name(dolly_workspace):
    from curation.methods import runner
    from curation.workspace import runs

    ws = dolly_workspace(30)
    run_id = runner.start_run(ws, "K-Center", budget=5, models={"engine": "fake"})
    assert runs.get(ws, run_id).method == "kcenter"
