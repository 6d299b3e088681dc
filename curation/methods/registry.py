"""The registry of selection methods: name -> selector. The CLI, the app and the contract test iterate over it.

A method registers itself where it is defined, with `@register` on its class; the registry imports the
built-in method modules (`BUILTIN_MODULES`) the first time it is asked. So a new method in one of those
modules is its config dataclass plus its class, nothing else; a method in a new module also needs that module
named in `BUILTIN_MODULES` (the job worker is a separate process and knows only what this imports).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, TypeVar

from curation.configs import config_from_dict
from curation.errors import CurationError
from curation.methods.base import Selector

BUILTIN_MODULES = (  # also the order of the method list in the CLI and the app
    "curation.methods.diverse_evol",
    "curation.methods.iterit",
    "curation.methods.learning_pct",
    "curation.methods.baselines",
)

C = TypeVar("C", bound=type)

_SELECTORS: dict[str, Selector] = {}
_builtins_loaded = False


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register(cls: C) -> C:
    """Class decorator: add (an instance of) a selector class under its `name`. A second, different class with
    the same name is refused; the same class registered again (its module reloaded) replaces itself."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise CurationError(f"selector {_origin(cls)} needs a class attribute `name`")
    config_cls = getattr(cls, "config_cls", None)
    if not (isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls)):
        raise CurationError(f"selector {name!r} ({_origin(cls)}) needs a dataclass `config_cls`")
    current = _SELECTORS.get(name)
    if current is not None and _origin(type(current)) != _origin(cls):
        raise CurationError(f"two selection methods are named {name!r}: {_origin(type(current))} and "
                            f"{_origin(cls)}")
    _SELECTORS[name] = cls()
    return cls


def unregister(name: str) -> None:
    """Remove a method (a test's throwaway selector); unknown names are ignored."""
    _SELECTORS.pop(name, None)


def registry() -> dict[str, Selector]:
    """Every registered method: the built-ins in `BUILTIN_MODULES` order, then any others as registered."""
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _builtins_loaded = True
    rank = {module: i for i, module in enumerate(BUILTIN_MODULES)}
    # registration order follows import order, which a caller importing one module early can change
    ordered = sorted(enumerate(_SELECTORS.items()),
                     key=lambda item: (rank.get(type(item[1][1]).__module__, len(rank)), item[0]))
    return {name: selector for _, (name, selector) in ordered}


def names() -> list[str]:
    return list(registry())


# the papers' own names and common spellings; case, hyphens, spaces and underscores are ignored on top of these
ALIASES = {"learningpercentage": "learning_pct", "lp": "learning_pct", "learningpct": "learning_pct",
           "diverseevol": "diverse_evol", "kcenter": "kcenter", "kcentergreedy": "kcenter",
           "clusterrandom": "cluster_random", "staticifd": "static_ifd", "ifd": "static_ifd",
           "superfiltering": "static_ifd", "longestresponse": "longest"}


def _squashed(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def canonical(name: str) -> str:
    """The registered name for `name`: "DiverseEvol", "diverse-evol" -> "diverse_evol"; "lp" -> "learning_pct"."""
    known = registry()
    if name in known:
        return name
    squashed = _squashed(name)
    by_squash = {_squashed(n): n for n in known}
    found = by_squash.get(squashed) or ALIASES.get(squashed)
    if found is None or found not in known:
        raise CurationError(f"unknown method {name!r}; known: {', '.join(known)} (case and hyphens do not matter)")
    return found


def get(name: str) -> Selector:
    return registry()[canonical(name)]


def make_config(name: str, values: dict[str, Any] | None = None) -> Any:
    """The method's config from (partial) JSON values; defaults fill the rest (curation.configs checks them)."""
    return config_from_dict(get(name).config_cls, values)
