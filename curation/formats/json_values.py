"""Parse one JSON value from untrusted text: every failure is a (kind, message) the loaders report as a row.

`json.loads` fails in three ways a user's file can trigger: a syntax error (`JSONDecodeError`), an integer of
more than 4,300 digits (a `ValueError` from Python's int-conversion limit) and deep nesting (`RecursionError`).
A value that parses but nests deeper than MAX_DEPTH is refused too: later steps (schema conversion, the
workspace's JSON) recurse over it and would fail where no line is known.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100  # arrays/objects inside each other; real SFT rows nest 4 or 5 deep


class ValueProblem(ValueError):
    """Text that cannot be one usable JSON value; `kind` is a loaders.PROBLEM_KINDS key."""

    def __init__(self, kind: str, message: str, pos: int | None = None):
        self.kind = kind
        self.pos = pos  # offset of a syntax error in the text, when known
        super().__init__(message)


def parse(text: str) -> Any:
    """`json.loads(text)`, raising ValueProblem (malformed_json, number_too_long, too_deep) on failure."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # some messages end in "at" ("Invalid control character at"); the caller adds the column
        raise ValueProblem("malformed_json", exc.msg.removesuffix(" at"), exc.pos) from None
    except RecursionError:
        raise ValueProblem("too_deep", too_deep_message()) from None
    except ValueError as exc:
        raise ValueProblem("number_too_long", number_message(exc)) from None
    check_depth(value, text.count("[") + text.count("{"))
    return value


def check_depth(value: Any, brackets: int | None = None) -> None:
    """Raise ValueProblem(too_deep) when `value` nests deeper than MAX_DEPTH. `brackets`, the count of '[' and
    '{' in its text, is a cheap pre-check: with no more brackets than MAX_DEPTH, no walk is needed."""
    if brackets is not None and brackets <= MAX_DEPTH:
        return
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:  # iterative: the point is to never recurse as deep as the value
        item, depth = level.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            raise ValueProblem("too_deep", too_deep_message())
        level.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def too_deep_message() -> str:
    return f"arrays or objects nested more than {MAX_DEPTH} deep"


def number_message(exc: ValueError) -> str:
    """Python's int-conversion limit as a sentence (its own message mentions sys.set_int_max_str_digits)."""
    return "an integer with more than 4,300 digits" if "digits" in str(exc) else str(exc)
