"""One config policy: every setting is checked against its field's type (Literal choices, coercion of `--set`
strings and JSON numbers), unknown keys are refused, ranges go through one `validate()` hook, and the
registry refuses two methods with the same name. Expected values are written out here by hand."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

from curation.configs import choices_of, config_from_dict, setting
from curation.errors import CurationError
from curation.methods import registry
from curation.methods.baselines import RandomBaseline, RandomConfig

# (method, field) -> the allowed values, as docs/methods.md and the papers name them
CHOICES = {
    ("diverse_evol", "pooling"): ("mean", "response", "last"),
    ("diverse_evol", "metric"): ("l2", "cosine"),
    ("diverse_evol", "retrain"): ("from_base", "continue"),
    ("diverse_evol", "keep_checkpoints"): ("last", "all", "none"),
    ("iterit", "score_type"): ("both", "ifd"),
    ("iterit", "update_strategy"): ("iterative", "static"),
    ("iterit", "keep_checkpoints"): ("last", "all"),
    ("iterit", "train_on"): ("final_turn", "all_assistant_turns"),
    ("learning_pct", "score"): ("lp1", "lp1_app"),
    ("learning_pct", "region"): ("low", "mid", "high"),
    ("learning_pct", "lp1_app_schedule"): ("cut", "one_epoch"),
    ("learning_pct", "budget_mode"): ("exact", "reference_chunks"),
    ("learning_pct", "keep_checkpoints"): ("last", "all", "none"),
    ("longest", "measure"): ("chars", "tokens"),
    ("perplexity", "direction"): ("high", "low"),
    ("static_ifd", "prompt"): ("superfiltering", "chat_template"),
    ("kcenter", "metric"): ("l2", "cosine"),
    ("deita", "score"): ("ifd", "perplexity", "response_length"),
}
CLASS_NAMES = {"diverse_evol": "DiverseEvolConfig", "iterit": "IterITConfig", "learning_pct":
               "LearningPercentageConfig", "longest": "LongestConfig", "perplexity": "PerplexityConfig",
               "kcenter": "KCenterConfig", "deita": "DeitaConfig", "static_ifd": "StaticIFDConfig"}


@pytest.mark.parametrize(("method", "name"), sorted(CHOICES))
def test_literal_choices_come_from_the_type(method, name):
    allowed = CHOICES[(method, name)]
    assert choices_of(registry.get(method).config_cls)[name] == allowed
    for value in allowed:
        assert getattr(registry.make_config(method, {name: value}), name) == value
    for bad in ("nonsense", allowed[0].upper(), True):
        with pytest.raises(CurationError) as err:
            registry.make_config(method, {name: bad})
        assert str(err.value) == f"{CLASS_NAMES[method]}.{name} must be one of {', '.join(allowed)}, not {bad!r}"


def test_every_literal_field_of_the_built_in_methods_is_listed_above():
    found = {(m, f) for m in registry.names() for f in choices_of(registry.get(m).config_cls)}
    assert found == set(CHOICES)


def test_strings_and_json_numbers_are_coerced_to_the_field_type():
    cfg = registry.make_config("diverse_evol", {"rounds": "4", "epochs": 2.0, "learning_rate": "1e-4",
                                                "lora": "false", "train_final_round": "Yes", "batch_size": 8})
    got = {k: (v, type(v)) for k, v in dataclasses.asdict(cfg).items()
           if k in ("rounds", "epochs", "learning_rate", "lora", "train_final_round", "batch_size")}
    assert got == {"rounds": (4, int), "epochs": (2, int), "learning_rate": (0.0001, float), "lora": (False, bool),
                   "train_final_round": (True, bool), "batch_size": (8, int)}
    assert registry.make_config("iterit", {"decay": 0}).decay == 0.0 and type(
        registry.make_config("iterit", {"decay": 0}).decay) is float
    for text, expected in [("1", True), ("0", False), ("on", True), ("OFF", False), ("no", False), (1, True),
                           (0, False)]:
        assert registry.make_config("iterit", {"lora": text}).lora is expected
    assert registry.make_config("learning_pct", {"trajectories_file": "t.npy"}).trajectories_file == "t.npy"


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("rounds", "four", "a whole number"), ("rounds", 2.5, "a whole number"), ("rounds", True, "a whole number"),
    ("learning_rate", "fast", "a number"), ("learning_rate", False, "a number"), ("lora", "maybe", "true or false"),
    ("lora", 2, "true or false"), ("lora", None, "true or false"),
])
def test_values_that_do_not_fit_are_refused_with_the_field_named(name, value, expected):
    with pytest.raises(CurationError) as err:
        registry.make_config("diverse_evol", {name: value})
    assert str(err.value) == f"DiverseEvolConfig.{name} must be {expected}, not {value!r}"


@pytest.mark.parametrize("method", registry.names())
def test_unknown_key_is_refused_for_every_method(method):
    cls = registry.get(method).config_cls
    with pytest.raises(CurationError, match=f"unknown setting 'no_such_setting' for {cls.__name__}; known: "):
        registry.make_config(method, {"no_such_setting": 1})
    with pytest.raises(CurationError, match="must be an object"):
        registry.make_config(method, ["rounds", 3])


def test_range_checks_run_through_the_validate_hook():
    with pytest.raises(CurationError, match="0 <= decay <= 1"):
        registry.make_config("iterit", {"decay": "1.5"})
    with pytest.raises(CurationError, match="rounds >= 0"):
        registry.make_config("diverse_evol", {"rounds": -1})
    with pytest.raises(CurationError, match="epochs >= 2 for LP1"):
        registry.make_config("learning_pct", {"epochs": 1})
    assert registry.make_config("learning_pct", {"epochs": 1, "score": "lp1_app"}).epochs == 1


@dataclass(frozen=True)
class _Everything:
    mode: Literal["a", "b"] = "a"
    count: int | None = None
    parts: tuple[Literal["x", "y"], ...] = ()
    pair: tuple[int, str] = (0, "")
    label: str = ""

    def validate(self) -> None:
        if self.count is not None and self.count < 0:
            raise CurationError("count must be >= 0")


def test_optional_tuple_and_string_fields():
    cfg = config_from_dict(_Everything, {"count": "12", "parts": ["y", "x"], "pair": ["3", 4], "label": 5})
    assert cfg == _Everything(mode="a", count=12, parts=("y", "x"), pair=(3, "4"), label="5")
    assert config_from_dict(_Everything, {"count": None}).count is None
    assert config_from_dict(_Everything, None) == _Everything()
    with pytest.raises(CurationError, match=r"_Everything.parts must be a list whose items are one of x, y"):
        config_from_dict(_Everything, {"parts": ["x", "z"]})
    with pytest.raises(CurationError, match=r"_Everything.parts must be a list, not 'x'"):
        config_from_dict(_Everything, {"parts": "x"})
    with pytest.raises(CurationError, match=r"_Everything.pair must be a list of 2 items"):
        config_from_dict(_Everything, {"pair": [1]})
    with pytest.raises(CurationError, match=r"_Everything.count must be a whole number or null, not 'many'"):
        config_from_dict(_Everything, {"count": "many"})
    with pytest.raises(CurationError, match="count must be >= 0"):
        config_from_dict(_Everything, {"count": -1})
    with pytest.raises(CurationError, match="_Everything.label must be a string, not None"):
        config_from_dict(_Everything, {"label": None})


@pytest.mark.parametrize("method", registry.names())
def test_a_stored_run_config_builds_back_to_the_same_config(method):
    cls = registry.get(method).config_cls
    stored = json.loads(json.dumps(dataclasses.asdict(cls())))  # what runs.create keeps and a resume reads
    assert registry.make_config(method, stored) == cls()
    assert set(typing.get_type_hints(cls)) == {f.name for f in dataclasses.fields(cls)}


# -- the registry ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _OneFlavour:
    flavour: Literal["plain"] = setting("plain", "the only flavour")


class _Impostor(RandomBaseline):
    name: ClassVar[str] = "random"


class _First(RandomBaseline):
    name: ClassVar[str] = "throwaway_dup"
    config_cls: ClassVar[type] = _OneFlavour


class _Second(RandomBaseline):
    name: ClassVar[str] = "throwaway_dup"


class _Nameless(RandomBaseline):
    name: ClassVar[str] = ""


class _NoDataclass(RandomBaseline):
    name: ClassVar[str] = "throwaway_broken"
    config_cls: ClassVar[type] = dict


def test_registry_refuses_a_second_method_with_a_taken_name():
    with pytest.raises(CurationError, match="two selection methods are named 'random'"):
        registry.register(_Impostor)
    assert type(registry.get("random")) is RandomBaseline and registry.get("random").config_cls is RandomConfig
    try:
        assert registry.register(_First) is _First
        registry.register(_First)  # the same class again (its module re-imported): no conflict
        with pytest.raises(CurationError, match="two selection methods are named 'throwaway_dup'"):
            registry.register(_Second)
        assert type(registry.get("throwaway_dup")) is _First
        assert registry.names()[-1] == "throwaway_dup"  # after the built-ins
        assert registry.make_config("throwaway_dup") == _OneFlavour()
    finally:
        registry.unregister("throwaway_dup")
    assert "throwaway_dup" not in registry.names()


def test_registry_refuses_a_selector_without_a_name_or_a_dataclass_config():
    with pytest.raises(CurationError, match="needs a class attribute `name`"):
        registry.register(_Nameless)
    with pytest.raises(CurationError, match="needs a dataclass `config_cls`"):
        registry.register(_NoDataclass)
    assert "throwaway_broken" not in registry.names()
