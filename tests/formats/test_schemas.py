"""Schemas: detection, rows -> Record with the right problem kinds, Record -> row -> Record round trips."""

from __future__ import annotations

import datetime as dt
import json
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from curation.errors import CurationError, InputError
from curation.formats.loaders import PROBLEM_KINDS
from curation.formats.schemas import (
    FIELDS,
    SCHEMAS,
    TURN_FIELDS,
    detect_schema,
    from_record,
    resolve_schema,
    to_record,
)
from curation.records import Message, Record, single_turn
from tests.formats.helpers import FILE_FORMATS, assert_same_record, load, write_rows
from tests.shared_data import DOLLY, SELF_INSTRUCT, alpaca_path

U, A, S = "user", "assistant", "system"


def _messages(*pairs: tuple[str, str]) -> tuple[Message, ...]:
    return tuple(Message(role, text) for role, text in pairs)


# -- detection --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("row", "schema"), [
    ({"instruction": "a", "input": "", "output": "b"}, "alpaca"),
    ({"instruction": "a", "context": "", "response": "b", "category": "qa"}, "dolly"),
    ({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}, "sharegpt"),
    ({"messages": [{"role": "user", "content": "a"}], "prompt": "a", "prompt_id": "x"}, "messages"),
    ({"prompt": "a", "completion": "b"}, "prompt_completion"),
])
def test_detect_schema_by_fields(row, schema):
    assert detect_schema([row]) == schema


def test_detect_schema_takes_the_majority_of_the_sample():
    rows = [{"instruction": "a", "output": "b"}] * 3 + [{"prompt": "a", "completion": "b"}] * 2
    rows += [{"x": 1}] * 9  # rows that fit no schema do not vote
    assert detect_schema(rows) == "alpaca"


def test_unknown_schema_lists_the_fields_seen_and_the_known_schemas():
    with pytest.raises(InputError) as info:
        detect_schema([{"question": "q", "answer": "a"}, {"question": "q2", "answer": "a2", "topic": "t"}],
                      source="qa.jsonl")
    message = str(info.value)
    assert info.value.kind == "unknown_schema" and message.startswith("qa.jsonl: ")
    assert "question, answer, topic" in message
    assert all(schema in message for schema in SCHEMAS)
    with pytest.raises(InputError, match="chosen/rejected"):
        detect_schema([{"prompt": "p", "chosen": "c", "rejected": "r"}])


@pytest.mark.parametrize("path", [DOLLY, alpaca_path(), SELF_INSTRUCT],
                         ids=["dolly", "alpaca", "self-instruct"])
def test_detect_schema_on_the_real_files(path):
    # all three are stored as instruction/input/output (the Dolly copy too: see its README)
    rows = [json.loads(line) for line, _ in zip(open(path, encoding="utf-8"), range(100), strict=False)]
    assert detect_schema(rows, source=str(path)) == "alpaca"


def test_schema_names_and_aliases():
    assert resolve_schema("OpenAI") == "messages" and resolve_schema("vicuna") == "sharegpt"
    with pytest.raises(InputError, match="unknown schema 'llama'") as info:
        to_record({"instruction": "a", "output": "b"}, "llama")
    assert info.value.kind == "unknown_schema"


# -- rows to records --------------------------------------------------------------------------------------
def test_alpaca_row_keeps_the_split_and_extra_fields():
    row = {"instruction": "Translate.", "input": "Hallo", "output": "Hello", "id": "x1"}
    record = to_record(row, "alpaca")
    assert record.messages == _messages((U, "Translate.\n\nHallo"), (A, "Hello"))
    assert record.parts == {"instruction": "Translate.", "input": "Hallo"}
    assert record.extra == {"id": "x1"} and record.schema == "alpaca"


def test_alpaca_history_and_system_become_a_conversation():
    row = {"instruction": "And 3+3?", "input": "", "output": "6", "system": "Be brief.",
           "history": [["1+1?", "2"], ["2+2?", "4"]]}
    record = to_record(row, "alpaca")
    assert record.messages == _messages((S, "Be brief."), (U, "1+1?"), (A, "2"), (U, "2+2?"), (A, "4"),
                                        (U, "And 3+3?"), (A, "6"))
    assert record.n_turns == 3 and record.parts == {"instruction": "And 3+3?", "input": ""}
    assert from_record(record, "alpaca") == row


def test_dolly_row():
    record = to_record({"instruction": "Sum up.", "context": "Long text.", "response": "Short.",
                        "category": "summarization"}, "dolly")
    assert record.messages == _messages((U, "Sum up.\n\nLong text."), (A, "Short."))
    assert record.extra == {"category": "summarization"}
    assert from_record(record, "alpaca") == {"instruction": "Sum up.", "input": "Long text.",
                                             "output": "Short.", "category": "summarization"}


def test_sharegpt_row_with_a_top_level_system_prompt():
    row = {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"},
                             {"from": "human", "value": "Bye"}, {"from": "gpt", "value": "Bye!"}],
           "system": "You are kind.", "id": 7}
    record = to_record(row, "sharegpt")
    assert record.messages == _messages((S, "You are kind."), (U, "Hi"), (A, "Hello"), (U, "Bye"),
                                        (A, "Bye!"))
    assert record.extra == {"id": 7}
    assert from_record(record, "sharegpt") == row
    assert from_record(record, "messages")["messages"][0] == {"role": "system", "content": "You are kind."}


def test_messages_row_with_per_turn_fields_and_text_parts():
    row = {"messages": [{"role": "system", "content": "Sys"},
                        {"role": "user", "name": "ann",
                         "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                        {"role": "assistant", "content": "c", "weight": 0}]}
    record = to_record(row, "messages")
    assert record.messages == _messages((S, "Sys"), (U, "a\nb"), (A, "c"))
    assert record.extra == {TURN_FIELDS: [{}, {"name": "ann"}, {"weight": 0}]}
    assert from_record(record, "messages") == {"messages": [
        {"role": "system", "content": "Sys"}, {"role": "user", "content": "a\nb", "name": "ann"},
        {"role": "assistant", "content": "c", "weight": 0}]}


def test_prompt_completion_strings_and_trl_conversational_lists():
    plain = to_record({"prompt": "2+2=", "completion": "4", "source": "math"}, "prompt_completion")
    assert plain.messages == _messages((U, "2+2="), (A, "4")) and plain.extra == {"source": "math"}
    chat = to_record({"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
                      "completion": [{"role": "assistant", "content": "R"}]}, "prompt_completion")
    assert chat.messages == _messages((S, "S"), (U, "Q"), (A, "R"))
    assert from_record(chat, "prompt_completion")["completion"] == [{"role": "assistant", "content": "R"}]
    assert from_record(plain, "prompt_completion") == {"prompt": "2+2=", "completion": "4", "source": "math"}
    looks_like_json = to_record({"prompt": '[{"role": "user"}] is a list', "completion": "yes"},
                                "prompt_completion")
    assert looks_like_json.prompt == '[{"role": "user"}] is a list'


def test_a_blank_system_prompt_is_no_system_prompt():
    row = {"messages": [{"role": "system", "content": "  "}, {"role": "user", "content": "q"},
                        {"role": "assistant", "content": "a"}]}
    assert to_record(row, "messages").messages == _messages((U, "q"), (A, "a"))
    assert to_record({"instruction": "q", "output": "a", "system": ""}, "alpaca").messages == \
        _messages((U, "q"), (A, "a"))


def _chat(*turns):
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


@pytest.mark.parametrize(("row", "schema", "kind", "words"), [
    ({"output": "a"}, "alpaca", "missing_field", "'instruction'"),
    ({"instruction": "q", "output": None}, "alpaca", "missing_field", "'output'"),
    ({"instruction": "q", "output": 5}, "alpaca", "wrong_type", "a number"),
    ({"instruction": ["q"], "output": "a"}, "alpaca", "wrong_type", "a list"),
    ({"instruction": "q", "input": {"x": 1}, "output": "a"}, "alpaca", "wrong_type", "'input'"),
    ({"instruction": "q", "output": "\n "}, "alpaca", "empty_response", "'output'"),
    ({"instruction": " ", "input": "", "output": "a"}, "alpaca", "empty_prompt", "instruction"),
    ({"instruction": "q", "output": "a", "history": [["one"]]}, "alpaca", "wrong_type", "history entry 1"),
    ({"instruction": "q", "output": "a", "history": [["u", ""]]}, "alpaca", "empty_response", "entry 1"),
    ({"instruction": "q", "output": "a", "history": "not json"}, "alpaca", "wrong_type", "'history'"),
    ({"instruction": "q", "context": "c"}, "dolly", "missing_field", "'response'"),
    ({"instruction": "q", "response": " "}, "dolly", "empty_response", "'response'"),
    ({"instruction": "\ud83d", "output": "a"}, "alpaca", "invalid_utf8", "surrogate"),
    ({"instruction": "q", "output": "a", "note": ["x", "\udc80"]}, "alpaca", "invalid_utf8", "'note'"),
    ({"messages": "hello"}, "messages", "wrong_type", "'messages'"),
    ({"conversation": []}, "messages", "missing_field", "'messages'"),
    (_chat(), "messages", "bad_turns", "no user/assistant"),
    (_chat((S, "s")), "messages", "bad_turns", "no user/assistant"),
    (_chat((U, "q")), "messages", "bad_turns", "ends with a user turn"),
    (_chat((U, "q"), (A, "a"), (U, "q2")), "messages", "bad_turns", "ends with a user turn"),
    (_chat((A, "hello"), (U, "q"), (A, "a")), "messages", "bad_turns", "turn 1"),
    (_chat((U, "q"), (U, "q"), (A, "a")), "messages", "bad_turns", "turn 2"),
    (_chat((U, "q"), (S, "s"), (A, "a")), "messages", "bad_turns", "system"),
    (_chat((U, "q"), ("narrator", "x"), (A, "a")), "messages", "bad_turns", "'narrator'"),
    (_chat((U, " "), (A, "a")), "messages", "empty_prompt", "turn 1"),
    (_chat((S, "s"), (U, "q"), (A, "")), "messages", "empty_response", "turn 3"),
    (_chat((U, "q"), ("tool", "{}"), (A, "a")), "messages", "tool_turns", "tool"),
    ({"messages": [{"role": "user", "content": "q"},
                   {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}]},
     "messages", "tool_turns", "turn 2"),
    ({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}, "messages",
     "wrong_type", "turn 1"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]},
                   {"role": "assistant", "content": "a"}]}, "messages", "wrong_type", "non-text"),
    ({"messages": [{"content": "q"}]}, "messages", "missing_field", "'role'"),
    ({"messages": [{"role": "user"}]}, "messages", "missing_field", "'content'"),
    ({"messages": ["user: hi"]}, "messages", "wrong_type", "turn 1"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "{}"}]},
     "sharegpt", "tool_turns", "function_call"),
    ({"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q"},
                        {"from": "gpt", "value": "a"}], "system": "s2"}, "sharegpt", "bad_turns", "twice"),
    ({"prompt": "q"}, "prompt_completion", "missing_field", "'completion'"),
    ({"prompt": 1, "completion": "a"}, "prompt_completion", "wrong_type", "'prompt'"),
    ({"prompt": "q", "completion": "   "}, "prompt_completion", "empty_response", "turn 2"),
    ({"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "user", "content": "a"}]},
     "prompt_completion", "bad_turns", "completion"),
])
def test_bad_rows_raise_the_right_kind(row, schema, kind, words):
    with pytest.raises(InputError) as info:
        to_record(row, schema)
    assert info.value.kind == kind and kind in PROBLEM_KINDS
    assert words in str(info.value)
    assert info.value.source == "" and info.value.line is None  # the importer adds the location


def test_extra_fields_from_columnar_files_become_json():
    record = to_record({"instruction": "q", "output": "a", "when": dt.date(2024, 1, 2), "raw": b"\x00ab",
                        "nested": {"t": (1, dt.datetime(2024, 1, 2, 3, 4))}}, "alpaca")
    assert record.extra == {"when": "2024-01-02", "raw": "\x00ab",
                            "nested": {"t": [1, "2024-01-02T03:04:00"]}}
    json.dumps(record.extra)


# -- records to rows --------------------------------------------------------------------------------------
def test_multi_turn_to_every_schema():
    record = Record(_messages((S, "Sys"), (U, "u1"), (A, "a1"), (U, "u2"), (A, "a2")), extra={"id": 3})
    assert from_record(record, "alpaca") == {"instruction": "u2", "input": "", "output": "a2",
                                             "system": "Sys", "history": [["u1", "a1"]], "id": 3}
    assert from_record(record, "dolly") == {"instruction": "u2", "context": "", "response": "a2",
                                            "system": "Sys", "history": [["u1", "a1"]], "id": 3}
    assert from_record(record, "sharegpt") == {"system": "Sys", "id": 3, "conversations": [
        {"from": "human", "value": "u1"}, {"from": "gpt", "value": "a1"},
        {"from": "human", "value": "u2"}, {"from": "gpt", "value": "a2"}]}
    assert [t["role"] for t in from_record(record, "messages")["messages"]] == [S, U, A, U, A]
    pc = from_record(record, "prompt_completion")
    assert len(pc["prompt"]) == 4 and pc["completion"] == [{"role": "assistant", "content": "a2"}]
    for schema in SCHEMAS:
        row = json.loads(json.dumps(from_record(record, schema)))
        assert to_record(row, schema).messages == record.messages


def test_records_alpaca_cannot_hold_are_refused_with_advice():
    odd = Record(_messages((U, "q"), (S, "late system"), (A, "a")))
    with pytest.raises(CurationError, match="export it as messages"):
        from_record(odd, "alpaca")
    assert from_record(odd, "messages")["messages"][1] == {"role": "system", "content": "late system"}


def test_stale_parts_are_ignored_on_export():
    record = Record(_messages((U, "edited prompt"), (A, "a")), parts={"instruction": "old", "input": ""})
    assert from_record(record, "alpaca")["instruction"] == "edited prompt"


def test_extra_fields_named_like_schema_fields_are_not_written_over_them():
    record = Record(_messages((U, "q"), (A, "a")), extra={"output": "stale", "history": "x", "topic": "t"})
    assert from_record(record, "alpaca") == {"instruction": "q", "input": "", "output": "a", "topic": "t"}


# -- property-based round trips ---------------------------------------------------------------------------
RESERVED = set().union(*FIELDS.values())
TEXT = st.text(max_size=25)  # any code point but surrogates: whitespace, controls, emoji, combining marks
CONTENT = TEXT.filter(str.strip)
KEYS = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8).filter(
    lambda k: k not in RESERVED and not k.startswith("_"))
JSON_SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)


@st.composite
def records(draw, extra_values=JSON_VALUES):
    """Records as the importer makes them: single-turn with an instruction/input split, or conversations."""
    extra = draw(st.dictionaries(KEYS, extra_values, max_size=3))
    system = draw(st.one_of(st.just(""), CONTENT))
    if draw(st.booleans()):
        instruction, input_text = draw(TEXT), draw(TEXT)
        assume(instruction.strip() or input_text.strip())
        return single_turn(instruction, draw(CONTENT), input_text, system, extra, schema="alpaca")
    messages = [Message(S, system)] if system else []
    for _ in range(draw(st.integers(1, 3))):
        messages += [Message(U, draw(CONTENT)), Message(A, draw(CONTENT))]
    return Record(tuple(messages), extra=extra, schema="messages")


@settings(max_examples=100, deadline=None)
@given(records(), st.sampled_from(SCHEMAS))
def test_record_to_row_to_record_in_memory(record, schema):
    row = json.loads(json.dumps(from_record(record, schema), ensure_ascii=False))
    assert detect_schema([row]) == schema
    back = to_record(row, schema)
    assert_same_record(back, record, parts=bool(record.parts) and schema in ("alpaca", "dolly"))


@settings(max_examples=60, deadline=None)
@given(records(extra_values=TEXT), st.sampled_from(SCHEMAS), st.sampled_from(FILE_FORMATS))
def test_record_to_file_to_record(tmp_path_factory, record, schema, fmt):
    # CSV has no types, so these records carry text extras (a CSV cell comes back as text)
    path = write_rows(tmp_path_factory.mktemp("rt") / f"one.{fmt}", [from_record(record, schema)], fmt)
    records_back, problems = load(path)
    assert problems == []
    [(line, back)] = records_back
    assert line == (2 if fmt in ("json", "csv", "tsv") else 1)
    assert_same_record(back, record, parts=bool(record.parts) and schema in ("alpaca", "dolly"))


@settings(max_examples=30, deadline=None)
@given(st.lists(records(), min_size=1, max_size=6), st.sampled_from(("alpaca", "messages", "sharegpt")),
       st.sampled_from(("jsonl", "json")))
def test_many_records_in_one_file_keep_their_order_and_lines(tmp_path_factory, originals, schema, fmt):
    path = write_rows(tmp_path_factory.mktemp("many") / f"rows.{fmt}",
                      [from_record(r, schema) for r in originals], fmt)
    back, problems = load(path, schema=schema)
    assert problems == [] and len(back) == len(originals)
    if fmt == "jsonl":
        assert [line for line, _ in back] == list(range(1, len(originals) + 1))
    for (_, got), original in zip(back, originals, strict=True):
        assert_same_record(got, original, parts=bool(original.parts) and schema == "alpaca")


NASTY = 'a\r\nb\rc\x00d\u2028e\x85f\ufeffg "q", \'s\'\t|\\n'


# a Parquet column cannot mix plain-text and conversational prompts (docs/formats.md): no such pair here
@pytest.mark.parametrize(("schema", "fmt"), [(s, f) for s in SCHEMAS for f in FILE_FORMATS
                                             if (s, f) != ("prompt_completion", "parquet")])
def test_line_breaks_nuls_and_quotes_survive_every_file_format(tmp_path, schema, fmt):
    multi = Record(_messages((S, NASTY), (U, NASTY + "1"), (A, NASTY), (U, "\ufeff" + NASTY), (A, " x ")),
                   extra={"note": NASTY})
    single = single_turn(NASTY, NASTY + "!", input_text="\n" + NASTY, extra={"note": ""})
    path = write_rows(tmp_path / f"nasty.{fmt}", [from_record(r, schema) for r in (multi, single)], fmt)
    back, problems = load(path, schema=schema)
    assert problems == [] and len(back) == 2
    assert_same_record(back[0][1], multi, parts=False)
    assert_same_record(back[1][1], single, parts=schema in ("alpaca", "dolly"))


# -- real data --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [DOLLY, alpaca_path()], ids=["dolly", "alpaca"])
@pytest.mark.parametrize("schema", ["alpaca", "messages", "sharegpt", "dolly", "prompt_completion"])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_real_data_round_trips(tmp_path, path, schema, fmt):
    head = tmp_path / "head.jsonl"
    with open(path, encoding="utf-8") as src:
        head.write_text("".join(line for line, _ in zip(src, range(500), strict=False)), encoding="utf-8")
    originals, problems = load(head)
    assert len(originals) + len(problems) == 500
    assert all(kind == "empty_response" for _, kind in problems)  # Alpaca's known empty outputs
    exported = write_rows(tmp_path / f"out.{fmt}", [from_record(r, schema) for _, r in originals], fmt)
    back, problems = load(exported)
    assert problems == [] and len(back) == len(originals)
    for (_, got), (_, original) in zip(back, originals, strict=True):
        assert_same_record(got, original, parts=schema in ("alpaca", "dolly"))
        assert original.extra.keys() == {"id"}
