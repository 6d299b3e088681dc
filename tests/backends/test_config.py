"""The backend setting: its form in a run's models and on the command line, and its errors."""

from __future__ import annotations

import argparse
import sys

import pytest

from curation.backends import BackendConfig, add_ray_arguments, from_args, resolve_backend
from curation.errors import CurationError


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_ray_arguments(p)
    return p.parse_args(list(argv))


def test_flags_to_config_and_back_through_a_runs_models():
    assert from_args(_parse()) == BackendConfig()
    assert from_args(_parse("--ray")) == BackendConfig(kind="ray", address="local")
    assert from_args(_parse("--ray", "auto", "--ray-actors", "3")) == BackendConfig(kind="ray", address="auto",
                                                                                    actors=3)
    assert from_args(_parse("--ray", "off")).kind == "in_process"
    models = {"target": "m", **BackendConfig(kind="ray", address="ray://head:10001", actors=4).to_models()}
    assert models["ray_actors"] == "4"
    assert BackendConfig.from_models(models) == BackendConfig(kind="ray", address="ray://head:10001", actors=4)
    assert BackendConfig.from_models({"target": "m"}) == BackendConfig()
    merged = {**models, **BackendConfig().to_models()}  # resuming a Ray run in-process
    assert BackendConfig.from_models(merged).kind == "in_process"


def test_bad_settings_are_clear_errors():
    with pytest.raises(CurationError, match="unknown backend"):
        BackendConfig.from_models({"backend": "spark"})
    with pytest.raises(CurationError, match="whole number"):
        BackendConfig.from_models({"backend": "ray", "ray_actors": "two"})
    with pytest.raises(CurationError, match="actors >= 1"):
        BackendConfig(kind="ray", actors=0)


def test_asking_for_ray_without_it_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(CurationError, match="pip install -r requirements-ray.txt"):
        resolve_backend(BackendConfig(kind="ray"))
    assert resolve_backend(BackendConfig()).kind == "in_process"  # the default never imports ray
