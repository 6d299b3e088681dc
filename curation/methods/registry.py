"""The registry of selection methods: name -> selector. The CLI, the app and the contract test iterate over it."""

from __future__ import annotations

from typing import Any

from curation.errors import CurationError
from curation.methods.base import Selector, config_from_dict


def _selectors() -> dict[str, Selector]:
    from curation.methods import baselines, diverse_evol, iterit, learning_pct

    found: list[Selector] = [diverse_evol.DiverseEvol(), iterit.IterIT(), learning_pct.LearningPercentage(),
                             *baselines.BASELINES]
    return {s.name: s for s in found}


_REGISTRY: dict[str, Selector] | None = None


def registry() -> dict[str, Selector]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _selectors()
    return _REGISTRY


def names() -> list[str]:
    return list(registry())


def get(name: str) -> Selector:
    try:
        return registry()[name]
    except KeyError:
        raise CurationError(f"unknown method {name!r}; known: {', '.join(registry())}") from None


def make_config(name: str, values: dict[str, Any] | None = None) -> Any:
    """The method's config from (partial) JSON values; defaults fill the rest. Validates choices."""
    cfg = config_from_dict(get(name).config_cls, values)
    check = getattr(cfg, "validate", None)
    if check is not None:
        check()
    return cfg
