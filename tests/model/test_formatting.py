"""Formatting: token ids and response spans from token boundaries, checked against independent renderings."""

from __future__ import annotations

import pytest

from curation.errors import CurationError
from curation.model.formatting import (
    ALPACA_PREAMBLE,
    ALPACA_PREAMBLE_INPUT,
    EMPTY,
    OK,
    TRUNCATED,
    Formatter,
)
from curation.records import Message, Record, single_turn
from tests.model.helpers import short_records
from tests.shared_data import dolly_records

END = "<|im_end|>"


def _decode(tok, ids):
    return tok.decode(list(ids), skip_special_tokens=False)


def test_chat_response_span_is_exactly_the_response_and_end_of_turn(tokenizer):
    fmt = Formatter(tokenizer, "chat", 4096)
    records = short_records()
    for record, f in zip(records, fmt.format(records)):
        assert f.status == OK and not f.truncated
        a, b = f.response
        # the response tokens are the tokenisation of the response text plus the end-of-turn token
        expected = tokenizer(record.response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        assert list(f.input_ids[a:b]) == expected
        assert _decode(tokenizer, f.input_ids[a:b]) == record.response + END
        # everything before the span is the template's prompt with the generation header
        prompt = tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in record.messages[:-1]],
                                               tokenize=False, add_generation_prompt=True)
        assert _decode(tokenizer, f.input_ids[:a]) == prompt
        # and the whole sequence decodes to the template's rendering of the conversation
        full = tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in record.messages],
                                             tokenize=False)
        assert _decode(tokenizer, f.input_ids) == full


def test_response_inside_the_prompt_and_padded_with_spaces_is_still_found(tokenizer):
    # rfind-based spans (the reference code) land in the wrong place or at -1 for these two
    records = [single_turn("Paris Paris Paris. Answer with: Paris", "Paris"), single_turn("Hi", "  hello  \n")]
    for template in ("chat", "alpaca"):
        for record, f in zip(records, Formatter(tokenizer, template, 4096).format(records)):
            a, b = f.response
            text = _decode(tokenizer, f.input_ids[a:b])
            assert text == record.response + (END if template == "chat" else tokenizer.eos_token)


def test_multi_turn_labels_cover_every_assistant_turn_and_nothing_else(tokenizer):
    record = short_records()[4]
    f = Formatter(tokenizer, "chat", 4096).format([record])[0]
    assert len(f.labels) == 2 and f.labels[-1] == f.response
    answers = [m.content for m in record.messages if m.role == "assistant"]
    assert [_decode(tokenizer, f.input_ids[a:b]) for a, b in f.labels] == [x + END for x in answers]
    labelled = {i for a, b in f.labels for i in range(a, b)}
    context = _decode(tokenizer, [t for i, t in enumerate(f.input_ids) if i not in labelled])
    assert "What is 2+2?" in context and "And times 3?" in context and "Be brief." in context
    assert "12, since" not in context


def test_alpaca_template_renders_the_stanford_prompt(tokenizer):
    fmt = Formatter(tokenizer, "alpaca", 4096)
    with_input = single_turn("Translate to French", "Bonjour.", input_text="Hello.")
    without = single_turn("Name a colour.", "Red.")
    f1, f2 = fmt.format([with_input, without])
    eos = tokenizer.eos_token
    assert _decode(tokenizer, f1.input_ids) == (ALPACA_PREAMBLE_INPUT + "\n\n### Instruction:\nTranslate to French\n\n"
                                               "### Input:\nHello.\n\n### Response:\n" + "Bonjour." + eos)
    assert _decode(tokenizer, f2.input_ids) == (ALPACA_PREAMBLE + "\n\n### Instruction:\nName a colour.\n\n"
                                               "### Response:\nRed." + eos)
    assert _decode(tokenizer, f1.input_ids[f1.response[0]:f1.response[1]]) == "Bonjour." + eos


def test_direct_form_scores_identical_response_tokens(tokenizer):
    records = dolly_records(60) + short_records()
    for template in ("chat", "alpaca"):
        fmt = Formatter(tokenizer, template, 10**6)
        cond, direct = fmt.format(records), fmt.format(records, direct=True)
        for c, d in zip(cond, direct):
            assert c.input_ids[c.response[0]:c.response[1]] == d.input_ids[d.response[0]:d.response[1]]
            assert d.response[1] == len(d.input_ids) or template == "chat"
        # the direct context is the same for every sample (IFD needs identical templates)
        assert len({d.input_ids[: d.response[0]] for d in direct}) == 1


def test_truncation_marks_unscorable_and_never_drops(tokenizer):
    long_prompt = single_turn("Summarise: " + "lorem ipsum " * 300, "Short summary.")
    long_answer = single_turn("Write.", "word " * 400)
    fine = single_turn("Hi", "Hello")
    blank = single_turn("Say nothing", "   ")
    out = Formatter(tokenizer, "chat", 128).format([long_prompt, long_answer, fine, blank])
    assert len(out) == 4
    assert out[0].status == TRUNCATED and out[0].n_response == 0 and out[0].labels == ()
    assert out[1].status == OK and out[1].truncated and out[1].response[1] == 128 == len(out[1].input_ids)
    assert out[1].response_tokens_full > out[1].n_response > 0
    assert out[2].status == OK and not out[2].truncated
    assert out[3].status == EMPTY
    assert all(len(f.input_ids) <= 128 for f in out)


def test_first_turn_system_prompt_and_dolly_rows_roundtrip(tokenizer):
    record = Record(messages=(Message("system", "You answer in French."), Message("user", "Hello"),
                              Message("assistant", "Bonjour")))
    f = Formatter(tokenizer, "chat", 512).format([record])[0]
    assert "You answer in French." in _decode(tokenizer, f.input_ids[: f.response[0]])
    assert "SmolLM" not in _decode(tokenizer, f.input_ids)  # the template's default system prompt is replaced


def test_bad_arguments_are_user_errors(tokenizer):
    with pytest.raises(CurationError):
        Formatter(tokenizer, "vicuna", 512)
    with pytest.raises(CurationError):
        Formatter(tokenizer, "chat", 1)


def test_direct_chat_form_is_an_empty_user_turn_as_documented(tokenizer):
    """SmolLM2's template indexes messages[0], so it cannot render the empty prefix of an assistant-only
    conversation: the response-alone pass always follows an empty user turn (and the default system prompt)."""
    from curation.model.formatting import direct_chat_segments
    from tests.shared_data import ROOT

    (context, is_assistant), (turn, labelled) = direct_chat_segments(tokenizer, "Red.")
    expected = tokenizer.apply_chat_template([{"role": "user", "content": ""}], tokenize=False,
                                             add_generation_prompt=True)
    assert context == expected and not is_assistant and labelled and turn.startswith("Red." + END)
    assert "<|im_start|>user\n<|im_end|>" in context
    doc = " ".join((ROOT / "docs" / "model.md").read_text(encoding="utf-8").split())
    assert "after an empty user turn" in doc and "assistant-only conversation" not in doc
