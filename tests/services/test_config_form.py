"""The Select page's settings form as data: a widget per config field, from a hand-made config dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from curation.configs import setting
from curation.services.config_form import float_step, form_fields


@dataclass(frozen=True)
class Demo:
    metric: Literal["cosine", "l2"] = setting("l2", "distance")
    lora: bool = setting(True, "train an adapter")
    rounds: int = setting(3, "")
    learning_rate: float = setting(2e-5, "step size")
    device: str = "cpu"


def test_each_field_gets_its_widget():
    got = [(f.name, f.label, f.widget, f.default, f.options, f.help, f.step) for f in form_fields(Demo)]
    assert got == [("metric", "metric", "choice", "l2", ("cosine", "l2"), "distance", 1.0),
                   ("lora", "lora", "bool", True, (), "train an adapter", 1.0),
                   ("rounds", "rounds", "int", 3, (), None, 1.0),
                   ("learning_rate", "learning rate", "float", 2e-5, (), "step size", pytest.approx(1e-6)),
                   ("device", "device", "text", "cpu", (), None, 1.0)]


@pytest.mark.parametrize("default,step", [(0.05, 0.001), (1.0, 0.1), (250.0, 10.0), (-0.3, 0.01), (0.0, 0.01)])
def test_float_step_is_a_tenth_of_the_magnitude(default, step):
    assert float_step(default) == pytest.approx(step)
