"""Config dataclasses from JSON-ish values, strictly and in one place: method settings (forms, `--set`, stored
runs) and job parameters (EmbedConfig, MapConfig, ScoreConfig) all go through `config_from_dict`.

A config is a frozen dataclass and its type hints are the schema: an unknown key is refused, strings and JSON
numbers are coerced to the field's type (int, float, bool, str, `tuple[...]` and `list[...]` from JSON lists,
`X | None`, `dict` for nested settings), a value outside a `Literal[...]` is refused with the allowed values,
and then the class's `validate()` hook, if it has one, checks what a type cannot say (ranges, rules across
fields). So a new setting is one annotated field, with nothing to repeat elsewhere.

Deliberately light (the standard library only): the app, the CLI and the job worker import it for free.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from curation.errors import CurationError

T = TypeVar("T")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class _Mismatch(Exception):
    """A value that does not fit a type; `expected` says what would have (for the one-line message)."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def config_from_dict(cls: type[T], values: Mapping[str, Any] | None) -> T:
    """`cls(**values)` after checking and coercing every value against the field's type hint; defaults fill the
    rest. Unknown keys, wrong types and values outside a Literal raise `CurationError` naming the field."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise CurationError(f"settings for {cls.__name__} must be an object of name: value, not {values!r}")
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(values) - set(known), key=str)
    if unknown:
        raise CurationError(f"unknown setting {unknown[0]!r} for {cls.__name__}; known: {', '.join(known)}")
    missing = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise CurationError(f"{cls.__name__} needs {', '.join(repr(m) for m in missing)}")
    hints = typing.get_type_hints(cls)
    out = {}
    for key, value in values.items():
        try:
            out[key] = _coerce(hints[key], value)
        except _Mismatch as bad:
            raise CurationError(f"{cls.__name__}.{key} must be {bad.expected}, not {value!r}") from None
    config = cls(**out)
    hook = getattr(config, "validate", None)
    if callable(hook):
        hook()
    return config


def _coerce(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (tuple, list, dict):  # unparametrised
        origin = hint
    if origin is Literal:
        if value in args and not (isinstance(value, bool) and bool not in map(type, args)):
            return value
        raise _Mismatch("one of " + ", ".join(str(a) for a in args))
    if origin is Union or origin is types.UnionType:  # `X | None` and friends: the first member that fits
        if value is None and type(None) in args:
            return None
        wanted = []
        for member in (a for a in args if a is not type(None)):
            try:
                return _coerce(member, value)
            except _Mismatch as bad:
                wanted.append(bad.expected)
        raise _Mismatch(" or ".join(wanted + (["null"] if type(None) in args else [])))
    if origin is tuple or origin is list:  # JSON has no tuples: they arrive as lists
        if not isinstance(value, (list, tuple)):
            raise _Mismatch("a list")
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise _Mismatch(f"a list of {len(args)} items")
            items = list(zip(args, value))
        else:
            items = [(args[0] if args else Any, v) for v in value]
        try:
            out = [_coerce(item_type, v) for item_type, v in items]
        except _Mismatch as bad:
            raise _Mismatch(f"a list whose items are {bad.expected}") from None
        return tuple(out) if origin is tuple else out
    if origin is dict:  # nested settings (a job's `config`): the nested builder checks them
        if not isinstance(value, Mapping):
            raise _Mismatch("an object of name: value")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise _Mismatch("true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _Mismatch("a whole number")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _Mismatch("a number")
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # `{"device": 0}` means "0"
            return str(value)
        raise _Mismatch("a string")
    return value  # any other type: the dataclass's own checks (if any) decide


# -- declaring settings, and reading them back for forms and --help ------------------------------------------
def setting(default: Any, help_text: str) -> Any:
    """A config field with its default and the one-line description forms and --help show."""
    return dataclasses.field(default=default, metadata={"help": help_text})


def choices_of(cls: type) -> dict[str, tuple[Any, ...]]:
    """The allowed values of each Literal config field (for select boxes in forms)."""
    hints = typing.get_type_hints(cls)
    return {name: tuple(typing.get_args(t)) for name, t in hints.items() if typing.get_origin(t) is Literal}


def help_of(cls: type) -> dict[str, str]:
    """One-line description of each config field (from `setting(...)`'s metadata), for forms and --help."""
    return {f.name: str(f.metadata.get("help", "")) for f in dataclasses.fields(cls)}
