"""Chat turns: rows' {role, content} / {from, value} dicts to validated `Message`s, and back.

A conversation is an optional leading system prompt, then user/assistant turns in alternation ending
with the assistant. Tool and function-call turns are refused (`tool_turns`): a `Record` has no place
for them, and dropping them silently would change what the model is trained on. Fields of a turn
other than its role and content (OpenAI's `name`, a `weight`) are kept in `extra[TURN_FIELDS]`, one
dict per message, and written back into the turns on export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curation.errors import InputError
from curation.records import Message, Record

TURN_FIELDS = "_turn_fields"
# Role spellings of OpenAI, TRL, ShareGPT and Gemini-style data, as Record roles.
ROLE_NAMES = {"system": "system", "developer": "system", "user": "user", "human": "user",
              "assistant": "assistant", "gpt": "assistant", "model": "assistant"}
TOOL_ROLES = {"tool", "tools", "function", "function_call", "observation", "ipython", "tool_call",
              "tool_response"}


def parse_turn(turn: Any, number: int) -> tuple[Message, dict[str, Any]]:
    """One turn, as {role, content} (OpenAI) or {from, value} (ShareGPT); returns its other fields too."""
    if not isinstance(turn, dict):
        raise InputError(f"turn {number} is {type_name(turn)}, not an object", kind="wrong_type")
    role_key = "role" if "role" in turn else "from"
    content_key = "content" if "content" in turn else "value"
    raw_role = turn.get(role_key)
    if raw_role is None:
        raise InputError(f"turn {number} has no 'role' (or 'from')", kind="missing_field")
    if not isinstance(raw_role, str):
        raise InputError(f"the role of turn {number} is {type_name(raw_role)}", kind="wrong_type")
    role = ROLE_NAMES.get(raw_role.strip().lower())
    if raw_role.strip().lower() in TOOL_ROLES or turn.get("tool_calls") or turn.get("function_call"):
        raise InputError(f"turn {number} is a tool or function call ({raw_role!r}); records hold "
                         "system/user/assistant text only", kind="tool_turns")
    if role is None:
        raise InputError(f"turn {number} has the unknown role {raw_role!r}", kind="bad_turns")
    content = turn.get(content_key)
    if content is None:
        raise InputError(f"turn {number} has no 'content' (or 'value')", kind="missing_field")
    if isinstance(content, list):  # OpenAI content parts: text only
        if not all(isinstance(p, dict) and p.get("type") == "text" and "text" in p for p in content):
            raise InputError(f"turn {number} has non-text content parts", kind="wrong_type")
        content = "\n".join(checked_text(p["text"], f"turn {number}") for p in content)
    fields = {k: v for k, v in turn.items() if k not in (role_key, content_key) and v is not None}
    return Message(role, checked_text(content, f"turn {number}")), fields


def conversation(turns: list[tuple[Message, dict[str, Any]]], extra: dict[str, Any], schema: str) -> Record:
    """A record from parsed turns: blank system prompts dropped, order checked, turn fields kept."""
    turns = [(m, f) for m, f in turns if m.role != "system" or m.content.strip()]  # a blank system: none
    messages = [m for m, _ in turns]
    check_order(messages)
    if any(fields for _, fields in turns):
        extra = {**extra, TURN_FIELDS: [fields for _, fields in turns]}
    return Record(tuple(messages), extra=extra, schema=schema)


def check_order(messages: list[Message]) -> None:
    """Raise bad_turns / empty_prompt / empty_response unless [system], user, assistant, ... assistant."""
    offset = 1 if messages and messages[0].role == "system" else 0
    if len(messages) == offset:
        raise InputError("the conversation has no user/assistant turns", kind="bad_turns")
    for i, message in enumerate(messages[offset:]):
        expected = ("user", "assistant")[i % 2]
        if message.role == "system":
            raise InputError(f"turn {i + offset + 1} is a system message; only a leading system prompt is "
                             "supported", kind="bad_turns")
        if message.role != expected:
            raise InputError(f"turn {i + offset + 1} is a {message.role} turn where a {expected} turn "
                             "should be (turns must alternate, starting with the user)", kind="bad_turns")
    if messages[-1].role != "assistant":
        raise InputError("the conversation ends with a user turn, not the assistant's answer",
                         kind="bad_turns")
    for i, message in enumerate(messages[offset:], offset + 1):
        if not message.content.strip():
            kind = "empty_prompt" if message.role == "user" else "empty_response"
            raise InputError(f"turn {i} ({message.role}) is empty", kind=kind)


def aligned_turn_fields(record: Record) -> list[dict[str, Any]] | None:
    """The record's per-turn fields, if they still line up one-to-one with its messages."""
    fields = record.extra.get(TURN_FIELDS)
    if isinstance(fields, list) and len(fields) == len(record.messages):
        return fields if all(isinstance(f, dict) for f in fields) else None
    return None


def turn_dicts(messages: Sequence[Message], fields: Sequence[dict[str, Any]] | None, role_key: str,
               content_key: str, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Messages as row turns ({role_key: ..., content_key: ...} plus their kept fields)."""
    fields = fields or [{}] * len(messages)
    return [{role_key: (names or {}).get(m.role, m.role), content_key: m.content,
             **{k: v for k, v in f.items() if k not in (role_key, content_key)}}
            for m, f in zip(messages, fields)]


def checked_text(value: Any, what: str) -> str:
    """`value` if it is text UTF-8 can hold; otherwise wrong_type or invalid_utf8 naming `what`."""
    if not isinstance(value, str):
        raise InputError(f"{what} is {type_name(value)}, not text", kind="wrong_type")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # json.loads accepts "\ud800"; no UTF-8 text can hold it
        raise InputError(f"{what} holds a lone surrogate escape (such as \\ud800)",
                         kind="invalid_utf8") from None
    return value


def type_name(value: Any) -> str:
    """A JSON value's type in words, for messages."""
    names = {list: "a list", tuple: "a list", dict: "an object", bool: "true/false", str: "text",
             type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)
