"""The canonical sample: one conversation, whatever schema it was imported from.

Every loader turns a row into a `Record`; every exporter turns a `Record` back into a row. The record's
identity (`Record.id`) is a hash of its *normalised* conversation, so re-importing a file is idempotent,
exact duplicates collapse, and a record exported in any schema and imported again keeps its id.

Single-turn Alpaca/Dolly rows keep their `instruction` / `input` split in `Record.parts` so that an Alpaca
export gives back exactly the columns that came in; the conversation itself joins them as
``instruction + "\\n\\n" + input`` (the convention of the Alpaca training template).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: str  # one of ROLES
    content: str


@dataclass(frozen=True)
class Record:
    """A conversation: optional system prompt, then user/assistant turns ending with an assistant turn."""

    messages: tuple[Message, ...]
    # Fields of the source row that are not part of the conversation (Dolly's category, ids, ...): kept for export.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Original single-turn split: {"instruction": ..., "input": ...} when the source had one.
    parts: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    schema: str = field(default="", compare=False, hash=False)  # schema it was read from

    def __post_init__(self) -> None:
        turns = [m for m in self.messages if m.role != "system"]
        if not turns:
            raise ValueError("a record needs at least one user and one assistant turn")
        if turns[-1].role != "assistant":
            raise ValueError("a record must end with an assistant turn")
        for m in self.messages:
            if m.role not in ROLES:
                raise ValueError(f"unknown role {m.role!r}")

    # -- identity ---------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return content_id(self.messages)

    # -- convenient views -------------------------------------------------------------------------
    @property
    def system(self) -> str:
        return "\n".join(m.content for m in self.messages if m.role == "system")

    @property
    def turns(self) -> tuple[Message, ...]:
        """User/assistant turns, system prompt excluded."""
        return tuple(m for m in self.messages if m.role != "system")

    @property
    def prompt(self) -> str:
        """The last user turn (instruction plus input for single-turn data)."""
        return next(m.content for m in reversed(self.messages) if m.role == "user")

    @property
    def response(self) -> str:
        """The final assistant turn: what the model is trained to produce."""
        return self.messages[-1].content

    @property
    def instruction(self) -> str:
        return self.parts.get("instruction", self.prompt)

    @property
    def input(self) -> str:
        return self.parts.get("input", "")

    @property
    def n_turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "assistant")

    def text(self) -> str:
        """Plain text of the whole conversation, for embedding and search."""
        return "\n".join(m.content for m in self.messages)


_UNICODE_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False) builds one per call
# (a third of an import's JSON encoding time); same output


def normalise(text: str) -> str:
    """The form under which two texts count as exact duplicates: NFC, whitespace runs folded, trimmed."""
    # str.split() splits on exactly the characters regex \s matches (str.isspace), and strips: the same as
    # re.sub(r"\s+", " ", t).strip() (tests compare both over every code point), at a fifth of the cost
    return " ".join(unicodedata.normalize("NFC", text).split())


def content_id(messages: tuple[Message, ...] | list[Message]) -> str:
    """Stable 16-hex-digit id of a conversation's normalised content (64 bits: collisions negligible)."""
    payload = _UNICODE_JSON.encode([[m.role, normalise(m.content)] for m in messages])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def join_prompt(instruction: str, input_text: str) -> str:
    """User turn of a single-turn Alpaca-style row."""
    return f"{instruction}\n\n{input_text}" if input_text.strip() else instruction


def single_turn(
    instruction: str,
    response: str,
    input_text: str = "",
    system: str = "",
    extra: dict[str, Any] | None = None,
    schema: str = "",
) -> Record:
    """Build a single-turn record, remembering the instruction/input split."""
    messages = [Message("system", system)] if system.strip() else []
    messages += [Message("user", join_prompt(instruction, input_text)), Message("assistant", response)]
    return Record(
        messages=tuple(messages),
        extra=dict(extra or {}),
        parts={"instruction": instruction, "input": input_text},
        schema=schema,
    )


def record_to_json(record: Record) -> dict[str, Any]:
    """Storage form (what the workspace keeps per sample)."""
    return {
        "messages": [[m.role, m.content] for m in record.messages],
        "extra": record.extra,
        "parts": record.parts,
        "schema": record.schema,
    }


def record_from_json(data: dict[str, Any]) -> Record:
    return Record(
        messages=tuple(Message(role, content) for role, content in data["messages"]),
        extra=data.get("extra") or {},
        parts=data.get("parts") or {},
        schema=data.get("schema", ""),
    )
