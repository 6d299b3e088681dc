"""Run estimates know the engine: the fake engine runs no model and no embedder, so it costs next to nothing."""

from __future__ import annotations

import re

from curation.cli import main
from curation.methods import registry
from curation.methods.estimate import estimate_run


def test_fake_engine_estimate_is_next_to_nothing():
    for method, settings in (("iterit", {}), ("diverse_evol", {"rounds": 4}), ("static_ifd", {})):
        config = registry.make_config(method, settings)
        common = dict(n_pool=3000, n_select=150, prompt_chars=400.0, response_chars=600.0, embedded=False)
        real = estimate_run(method, config, **common)
        fake = estimate_run(method, config, engine="fake", **common)
        assert real.seconds > 60, method  # minutes of model work on a CPU
        assert fake.seconds < 1 and fake.describe() == "about 1 s", method


def test_select_estimate_with_the_fake_engine(dolly_workspace, capsys):
    ws = dolly_workspace(200)

    def printed(engine: str) -> str:
        assert main(["-w", str(ws.root), "select", "--method", "iterit", "--budget", "20", "--engine", engine,
                     "--estimate"]) == 0
        return capsys.readouterr().out

    fake, real = printed("fake"), printed("model")
    assert "estimated time on this machine: about 1 s" in fake
    assert re.search(r"about (\d+) (s|min)", real) and "about 1 s" not in real
