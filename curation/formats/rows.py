"""What the loaders yield: a `Row` with where it came from, or a `Problem` (a row that cannot be read), and the
problem kinds the loaders and schemas report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Every problem kind the loaders and schemas report (the importer counts problems by these names).
PROBLEM_KINDS: dict[str, str] = {
    "malformed_json": "the line (or array element) is not valid JSON",
    "number_too_long": "an integer with more than 4,300 digits (Python refuses to convert it)",
    "too_deep": "arrays or objects nested more than 100 deep",
    "line_too_long": "a line, JSON array element or CSV field over the size limit (64 MiB unless changed)",
    "not_an_object": "valid JSON, but not an object ({...}) that could hold a row",
    "invalid_utf8": "bytes that are not UTF-8 text (or a \\ud800-style lone surrogate escape)",
    "malformed_csv": "a CSV/TSV row with broken quoting or a field count that differs from the header",
    "missing_field": "a field the schema needs is absent or null",
    "wrong_type": "a field has the wrong type (a number where text is expected, ...)",
    "empty_prompt": "the instruction / user turn is empty or whitespace only",
    "empty_response": "the response / assistant turn is empty or whitespace only",
    "bad_turns": "a conversation out of order: not ending with the assistant, two user turns in a row, ...",
    "tool_turns": "a conversation with tool or function-call turns, which records cannot hold",
    "unknown_schema": "no known schema fits the rows (or an unknown schema name was given)",
}


@dataclass(frozen=True)
class Row:
    source: str
    line: int  # text formats: physical line where the row starts; others: 1-based row number
    data: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    source: str
    line: int
    kind: str  # a key of PROBLEM_KINDS
    message: str
