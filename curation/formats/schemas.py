"""The common SFT schemas: tell which one a file uses, turn its rows into `Record`s, and back.

| schema            | fields                                                                  |
|-------------------|-------------------------------------------------------------------------|
| alpaca            | instruction, input, output (+ system, history: [[user, assistant], ...]) |
| dolly             | instruction, context, response (+ system, history, as alpaca)          |
| sharegpt          | conversations: [{from: human/gpt/system, value}] (+ top-level system)   |
| messages          | messages: [{role: system/user/assistant, content}] (OpenAI / TRL)       |
| prompt_completion | prompt, completion: strings, or TRL's conversational lists of messages  |

Every field a schema does not read is kept in `Record.extra` and written back on export; turns are
read and checked by `curation.formats.turns`. `to_record` raises `InputError(kind=...)` without a location:
the importer adds the file and line. docs/formats.md describes all of it for users.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import islice
from typing import Any

from curation.errors import CurationError, InputError
from curation.formats.json_values import ValueProblem, parse
from curation.formats.turns import (
    TURN_FIELDS,
    aligned_turn_fields,
    checked_text,
    conversation,
    parse_turn,
    turn_dicts,
    type_name,
)
from curation.records import Message, Record, join_prompt, single_turn

SCHEMAS = ("alpaca", "dolly", "sharegpt", "messages", "prompt_completion")
ALIASES = {"openai": "messages", "chatml": "messages", "trl": "messages", "vicuna": "sharegpt"}
# Top-level fields each schema reads; everything else in a row goes to Record.extra.
FIELDS: dict[str, tuple[str, ...]] = {
    "alpaca": ("instruction", "input", "output", "system", "history"),
    "dolly": ("instruction", "context", "response", "system", "history"),
    "sharegpt": ("conversations", "system"),
    "messages": ("messages",),
    "prompt_completion": ("prompt", "completion"),
}
# Fields that identify a schema, tried in this order (a chat row may also carry a "prompt" or "id").
_SIGNATURES = (("messages", ("messages",)), ("sharegpt", ("conversations",)),
               ("alpaca", ("instruction", "output")), ("dolly", ("instruction", "response")),
               ("prompt_completion", ("prompt", "completion")))
_DETECT_SAMPLE = 100
_SINGLE_TURN_KEYS = {"alpaca": ("input", "output"), "dolly": ("context", "response")}
_SHAREGPT_NAMES = {"system": "system", "user": "human", "assistant": "gpt"}


def resolve_schema(name: str) -> str:
    """A schema name or alias (openai, chatml, trl, vicuna) as one of SCHEMAS."""
    canonical = ALIASES.get(name.strip().lower(), name.strip().lower())
    if canonical not in SCHEMAS:
        raise InputError(f"unknown schema {name!r}: choose one of {', '.join(SCHEMAS)}",
                         kind="unknown_schema")
    return canonical


def detect_schema(rows: Sequence[dict[str, Any]], *, source: str = "") -> str:
    """The schema most of the first ~100 rows fit; InputError(kind='unknown_schema') if none fits."""
    votes: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    for row in islice(rows, _DETECT_SAMPLE):
        keys.update(row.keys())  # keys only: a dict would add its values
        found = next((name for name, needed in _SIGNATURES if all(k in row for k in needed)), None)
        if found:
            votes[found] += 1
    if votes:
        return votes.most_common(1)[0][0]
    if not keys:
        raise InputError("holds no rows to tell the schema from", source=source, kind="unknown_schema")
    seen = ", ".join(key for key, _ in keys.most_common(15))
    hint = " Preference pairs (chosen/rejected) are not supported." if "chosen" in keys else ""
    raise InputError(
        f"no known schema fits its rows (fields seen: {seen}). Known schemas: alpaca (instruction, input, "
        "output), dolly (instruction, context, response), sharegpt (conversations of from/value), messages "
        "(messages of role/content), prompt_completion (prompt, completion). Rename the fields or choose "
        f"a schema explicitly.{hint}", source=source, kind="unknown_schema")


def to_record(data: dict[str, Any], schema: str) -> Record:
    """One row as a `Record`. Raises InputError with kind missing_field, wrong_type, empty_prompt,
    empty_response, bad_turns, tool_turns or invalid_utf8 (see curation.formats.loaders.PROBLEM_KINDS)."""
    name = resolve_schema(schema)
    if name in _SINGLE_TURN_KEYS:
        return _single_turn_row(data, name)
    if name == "prompt_completion":
        return _prompt_completion_row(data)
    key = "messages" if name == "messages" else "conversations"
    turns = [parse_turn(t, i) for i, t in enumerate(_list_field(data, key), 1)]
    system = _text(data, "system", required=False) if name == "sharegpt" else ""
    if system.strip():
        if turns and turns[0][0].role == "system" and turns[0][0].content.strip():
            raise InputError("the system prompt is given twice (field and first turn)", kind="bad_turns")
        turns.insert(0, (Message("system", system), {}))
    return conversation(turns, _extra(data, name), name)


def from_record(record: Record, schema: str) -> dict[str, Any]:
    """A `Record` as a row of `schema`, extra fields included (those named like the schema's own are dropped).

    Raises CurationError when alpaca/dolly cannot hold the record (a system message after the first
    turn, or turns out of alternation): export those as messages or sharegpt.
    """
    name = resolve_schema(schema)
    if name in _SINGLE_TURN_KEYS:
        return _single_turn_export(record, name)
    turn_fields = aligned_turn_fields(record)
    extra = {k: v for k, v in record.extra.items() if not (k == TURN_FIELDS and turn_fields)}
    if name == "messages":
        row: dict[str, Any] = {"messages": turn_dicts(record.messages, turn_fields, "role", "content")}
    elif name == "sharegpt":
        messages, fields = list(record.messages), list(turn_fields or [{}] * len(record.messages))
        row = {}
        if messages[0].role == "system":
            row["system"] = messages.pop(0).content
            fields.pop(0)
        row["conversations"] = turn_dicts(messages, fields, "from", "value", _SHAREGPT_NAMES)
    elif [m.role for m in record.messages] == ["user", "assistant"] and not turn_fields:  # plain strings
        row = {"prompt": record.messages[0].content, "completion": record.messages[1].content}
    else:  # TRL's conversational prompt/completion
        turns = turn_dicts(record.messages, turn_fields, "role", "content")
        row = {"prompt": turns[:-1], "completion": turns[-1:]}
    return _with_extra(row, extra, name)


# -- reading ------------------------------------------------------------------------------------------
def _single_turn_row(data: dict[str, Any], schema: str) -> Record:
    input_key, output_key = _SINGLE_TURN_KEYS[schema]
    instruction = _text(data, "instruction")
    input_text = _text(data, input_key, required=False)
    output = _text(data, output_key)
    system = _text(data, "system", required=False)
    history = _history(data.get("history"))
    if not (instruction.strip() or input_text.strip()):
        raise InputError(f"the instruction (and {input_key!r}) is empty", kind="empty_prompt")
    if not output.strip():
        raise InputError(f"the {output_key!r} is empty", kind="empty_response")
    record = single_turn(instruction, output, input_text, system, _extra(data, schema), schema)
    if not history:
        return record
    head = [m for m in record.messages if m.role == "system"]
    earlier = [Message(role, text) for pair in history for role, text in zip(("user", "assistant"), pair)]
    messages = tuple(head + earlier) + record.messages[len(head):]
    return Record(messages, extra=record.extra, parts=record.parts, schema=schema)


def _history(value: Any) -> list[tuple[str, str]]:
    """LLaMA-Factory's `history`: earlier [user, assistant] turns, oldest first."""
    if value is None or value == "":
        return []
    pairs = []
    for i, pair in enumerate(_as_list(value, "history"), 1):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise InputError(f"history entry {i} is not a [user, assistant] pair", kind="wrong_type")
        user, assistant = (checked_text(text, f"history entry {i}") for text in pair)
        if not user.strip():
            raise InputError(f"the user turn of history entry {i} is empty", kind="empty_prompt")
        if not assistant.strip():
            raise InputError(f"the assistant turn of history entry {i} is empty", kind="empty_response")
        pairs.append((user, assistant))
    return pairs


def _prompt_completion_row(data: dict[str, Any]) -> Record:
    prompt, completion = data.get("prompt"), data.get("completion")
    for key, value in (("prompt", prompt), ("completion", completion)):
        if value is None:
            raise InputError(f"missing field {key!r}", kind="missing_field")
        if not isinstance(value, str | list | tuple):
            raise InputError(f"field {key!r} is {type_name(value)}, not text or a list of messages",
                             kind="wrong_type")
    if isinstance(prompt, str) and isinstance(completion, str):
        # TRL's conversational form written to CSV: both cells are JSON lists of messages (text that
        # merely looks like JSON, common in instructions, stays text unless both cells parse as messages)
        prompt, completion = _json_messages(prompt), _json_messages(completion)
        if isinstance(prompt, str) or isinstance(completion, str):
            prompt, completion = data["prompt"], data["completion"]
    parts = [[{"role": role, "content": value}] if isinstance(value, str) else list(value or ())
             for value, role in ((prompt, "user"), (completion, "assistant"))]
    turns = [parse_turn(t, i) for i, t in enumerate(parts[0] + parts[1], 1)]
    if not parts[1] or any(message.role != "assistant" for message, _ in turns[len(parts[0]):]):
        raise InputError("the completion must be the assistant's turn", kind="bad_turns")
    return conversation(turns, _extra(data, "prompt_completion"), "prompt_completion")


def _json_messages(text: str) -> str | list[Any]:
    if not text.lstrip().startswith("["):
        return text
    try:
        parsed = parse(text)
    except ValueProblem:
        return text
    if isinstance(parsed, list) and parsed and all(isinstance(t, dict) and "role" in t for t in parsed):
        return parsed
    return text


def _text(data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise InputError(f"missing field {key!r}", kind="missing_field")
        return ""
    return checked_text(value, f"field {key!r}")


def _list_field(data: dict[str, Any], key: str) -> list[Any]:
    if data.get(key) is None:
        raise InputError(f"missing field {key!r}", kind="missing_field")
    return _as_list(data[key], key)


def _as_list(value: Any, key: str) -> list[Any]:
    """A list field; CSV cells hold lists as JSON text."""
    if isinstance(value, str):
        try:
            value = parse(value)
        except ValueProblem as exc:
            if exc.kind != "malformed_json":  # JSON text, but too deep or with a huge number
                raise InputError(f"field {key!r}: {exc}", kind=exc.kind) from None
            raise InputError(f"field {key!r} is text, not a list", kind="wrong_type") from None
    if not isinstance(value, list | tuple):
        raise InputError(f"field {key!r} is {type_name(value)}, not a list", kind="wrong_type")
    return list(value)


def _extra(data: dict[str, Any], schema: str) -> dict[str, Any]:
    return {checked_text(str(key), "a field name"): _json_safe(value, f"field {key!r}")
            for key, value in data.items() if key not in FIELDS[schema]}


def _json_safe(value: Any, what: str) -> Any:
    """Parquet and `datasets` can hold dates and bytes; the workspace stores extra fields as UTF-8 JSON."""
    if isinstance(value, str):
        return checked_text(value, what)
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, dict):
        return {checked_text(str(k), what): _json_safe(v, what) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, what) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# -- writing ------------------------------------------------------------------------------------------
def _single_turn_export(record: Record, schema: str) -> dict[str, Any]:
    messages = list(record.messages)
    system = messages.pop(0).content if messages[0].role == "system" else ""
    if [m.role for m in messages] != ["user", "assistant"] * (len(messages) // 2):
        raise CurationError(f"record {record.id} cannot be written as {schema}: it needs alternating "
                            "user/assistant turns after one leading system prompt; export it as messages")
    prompt, response = messages[-2].content, messages[-1].content
    instruction, input_text = record.parts.get("instruction"), record.parts.get("input", "")
    if not (isinstance(instruction, str) and isinstance(input_text, str)
            and join_prompt(instruction, input_text) == prompt):
        instruction, input_text = prompt, ""  # no split known (or it no longer matches the prompt)
    input_key, output_key = _SINGLE_TURN_KEYS[schema]
    row: dict[str, Any] = {"instruction": instruction, input_key: input_text, output_key: response}
    if system:
        row["system"] = system
    if len(messages) > 2:
        row["history"] = [[messages[i].content, messages[i + 1].content]
                          for i in range(0, len(messages) - 2, 2)]
    return _with_extra(row, record.extra, schema)


def _with_extra(row: dict[str, Any], extra: dict[str, Any], schema: str) -> dict[str, Any]:
    reserved = set(FIELDS[schema])
    row.update((key, value) for key, value in extra.items() if key not in reserved and key not in row)
    return row
