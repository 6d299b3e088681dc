"""A method's settings form, as data: which widget each field of its config dataclass gets, with its label,
default, choices, help and step. The Select page draws these; `registry.make_config` checks what comes back."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

from curation.configs import choices_of, help_of

Widget = Literal["choice", "bool", "int", "float", "text"]


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    widget: Widget
    default: Any
    options: tuple[Any, ...] = ()  # "choice" only
    help: str | None = None
    step: float = 1.0  # "int" and "float"


def form_fields(config_cls: type) -> list[FormField]:
    """One field per config setting, in declaration order."""
    hints, choices, helps = typing.get_type_hints(config_cls), choices_of(config_cls), help_of(config_cls)
    out: list[FormField] = []
    for f in dataclasses.fields(config_cls):
        hint, default = hints[f.name], typing.cast(Any, f.default)  # method configs default every field
        widget: Widget = ("choice" if f.name in choices else "bool" if hint is bool else "int" if hint is int
                          else "float" if hint is float else "text")
        out.append(FormField(name=f.name, label=f.name.replace("_", " "), widget=widget, default=default,
                             options=tuple(choices.get(f.name, ())), help=helps.get(f.name) or None,
                             step=float_step(default) if widget == "float" else 1.0))
    return out


def float_step(default: float) -> float:
    """A tenth of the default's order of magnitude (0.05 -> 0.001, 2e-5 -> 1e-6), so +/- nudges it gently."""
    return 10.0 ** math.floor(math.log10(abs(default))) / 10 if default else 0.01
