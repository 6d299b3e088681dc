"""Scoring: NLL, PPL, IFD, pooling and uncertainty equal values computed by hand from full logits, over token ids
the test builds itself (the tokenizer's chat template or the Stanford Alpaca prompt, never the project's
formatter)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from curation.errors import Cancelled
from curation.model import ScoreConfig, embed_records, load_model, score_records
from curation.records import single_turn
from tests.model.helpers import short_records
from tests.shared_data import dolly_records

EXACT = dict(autocast="off")


STANFORD = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
            "request.\n\n")
STANFORD_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further "
                  "context. Write a response that appropriately completes the request.\n\n")


def _pieces(tok, record, template, direct):
    """The sample as (text or ids, is_final_response) pieces, from the tokenizer's chat template or the Stanford
    Alpaca prompt, without the project's formatter: each piece is tokenised alone and the ids concatenated."""
    eos = [tok.eos_token_id]
    if template == "chat":
        messages = ([{"role": "user", "content": ""}] if direct else
                    [{"role": m.role, "content": m.content} for m in record.messages[:-1]])
        prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(messages + [{"role": "assistant", "content": record.response}],
                                       tokenize=False)
        assert full.startswith(prompt + record.response + tok.eos_token)
        return [(prompt, False), (record.response, True), (eos, True),
                (full[len(prompt + record.response + tok.eos_token):], False)]
    if direct:
        return [("### Response:\n", False), (record.response, True), (eos, True)]
    if record.n_turns == 1:
        head = STANFORD_INPUT if record.input else STANFORD
        body = f"### Instruction:\n{record.instruction}\n\n"
        body += f"### Input:\n{record.input}\n\n" if record.input else ""
        return [(head + body + "### Response:\n", False), (record.response, True), (eos, True)]
    pieces, context = [], (record.system or STANFORD.strip()) + "\n\n"
    turns = record.turns
    for i, m in enumerate(turns):
        if m.role == "user":
            context += f"### Instruction:\n{m.content}\n\n### Response:\n"
        else:
            last = i == len(turns) - 1
            pieces += [(context, False), (m.content, last), (eos, last)]
            context = "\n\n"
    return pieces


def _independent_ids(tok, record, template, direct):
    """(token ids, [start, end) of the final response and its end token), known by construction."""
    ids, span = [], []
    for piece, is_response in _pieces(tok, record, template, direct):
        piece_ids = list(piece) if isinstance(piece, list) else tok(piece, add_special_tokens=False)["input_ids"]
        if is_response:
            span = [span[0] if span else len(ids), len(ids) + len(piece_ids)]
        ids += piece_ids
    return ids, tuple(span)


def _reference(lm, record, template):
    """Unbatched full forward in float64 over token ids built without the project's formatter: NLL over the
    final response's tokens (its end-of-turn token included), uncertainty and pooled states."""
    tok = lm.tokenizer
    out = {}
    for kind in ("cond", "direct"):
        ids, (start, end) = _independent_ids(tok, record, template, kind == "direct")
        response = tok(record.response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert ids[start:end] == response
        with torch.no_grad():
            logits = lm.model(torch.tensor([ids])).logits[0].double()
            hidden = lm.model(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0].double()
        logp = torch.log_softmax(logits, -1)
        positions = range(start, start + len(response))
        nll = -sum(float(logp[t - 1, ids[t]]) for t in positions) / len(response)
        out[kind] = nll
        if kind == "cond":
            rows = logits[start - 1:start + len(response) - 1]
            top = rows.topk(2, -1).values
            p = torch.softmax(rows, -1)
            out["uncertainty"] = (float(top[:, 0].mean()), float((top[:, 0] - top[:, 1]).mean()),
                                  float(-(p * p.log()).sum(-1).mean()))
            out["mean"] = hidden.mean(0).numpy()
            out["response"] = hidden[start:start + len(response)].mean(0).numpy()
            out["last"] = hidden[-1].numpy()
            out["n"] = len(response)
    return out


@pytest.mark.parametrize("variant", ["chat", "plain", "gpt2"])
def test_nll_ppl_ifd_pooling_equal_hand_computed_values(tiny_models, variant):
    lm = load_model(str(tiny_models[variant]), device="cpu")
    records = short_records()
    result = score_records(lm, records, config=ScoreConfig(pooling=("mean", "response", "last"), uncertainty=True,
                                                           **EXACT))
    assert result.ok.all()
    for i, record in enumerate(records):
        ref = _reference(lm, record, lm.template)
        assert result.n_tokens[i] == result.n_tokens_direct[i] == ref["n"]
        assert result.nll[i] == pytest.approx(ref["cond"], abs=2e-5)
        assert result.nll_direct[i] == pytest.approx(ref["direct"], abs=2e-5)
        assert result.ppl[i] == pytest.approx(math.exp(ref["cond"]), rel=5e-5)
        assert result.ifd[i] == pytest.approx(math.exp(ref["cond"]) / math.exp(ref["direct"]), rel=5e-5)
        for name, value in zip(("mean_max_logit", "margin", "entropy"), ref["uncertainty"]):
            assert result.uncertainty[name][i] == pytest.approx(value, abs=5e-5)
        for pooling in ("mean", "response", "last"):
            np.testing.assert_allclose(result.embeddings[pooling][i], ref[pooling], atol=2e-5)
    for array in (result.nll, result.ifd, result.embeddings["mean"]):
        assert array.dtype == np.float32


def test_padding_never_changes_a_score(tiny_chat):
    records = dolly_records(24)
    batched = score_records(tiny_chat, records, config=ScoreConfig(max_length=256, **EXACT))
    alone = score_records(tiny_chat, records, config=ScoreConfig(max_length=256, max_batch=1, **EXACT))
    padded = score_records(tiny_chat, records, config=ScoreConfig(max_length=256, batching="padded", **EXACT))
    tiny_chat.tokenizer.pad_token_id = 17  # an ordinary token as padding: masked positions must not matter
    other_pad = score_records(tiny_chat, records, config=ScoreConfig(max_length=256, **EXACT))
    for other in (alone, padded, other_pad):
        np.testing.assert_array_equal(batched.status, other.status)
        np.testing.assert_allclose(batched.nll, other.nll, atol=2e-5)
        np.testing.assert_allclose(batched.nll_direct, other.nll_direct, atol=2e-5)


def test_instruction_tokens_are_not_scored(tiny_chat):
    # the same response after two different instructions: same token count, and the count is the response's
    a = single_turn("Please answer the question below in full detail, thank you very much.", "Blue.")
    b = single_turn("Colour?", "Blue.")
    result = score_records(tiny_chat, [a, b], config=ScoreConfig(**EXACT))
    n = len(tiny_chat.tokenizer("Blue.", add_special_tokens=False)["input_ids"]) + 1
    assert result.n_tokens.tolist() == [n, n]
    assert result.nll[0] != result.nll[1]  # the instruction conditions the response ...
    assert result.nll_direct[0] == pytest.approx(result.nll_direct[1], abs=1e-6)  # ... and is absent from IFD's base


def test_truncated_sample_is_reported_unscorable(tiny_chat):
    records = [single_turn("Summarise: " + "lorem ipsum " * 200, "Short."), single_turn("Hi", "Hello there.")]
    result = score_records(tiny_chat, records, config=ScoreConfig(max_length=64, pooling=("mean", "response")))
    assert result.status.tolist() == ["truncated", "ok"]
    assert result.unscorable() == {records[0].id: "truncated"}
    assert "truncated 1" in result.summary()
    assert np.isnan(result.nll[0]) and np.isnan(result.ifd[0]) and result.n_tokens[0] == 0
    assert np.isfinite(result.nll[1]) and np.isfinite(result.ifd[1])
    assert np.isfinite(result.embeddings["mean"]).all()  # DiverseEvol can still place it in the embedding space
    assert np.isnan(result.embeddings["response"][0]).all() and np.isfinite(result.embeddings["response"][1]).all()


def test_embed_records_matches_score_records(tiny_chat):
    records = dolly_records(10)
    X = embed_records(tiny_chat, records, pooling="mean", max_length=128)
    full = score_records(tiny_chat, records, config=ScoreConfig(max_length=128, pooling=("mean",)))
    assert X.shape == (10, 128) and X.dtype == np.float32
    np.testing.assert_allclose(X, full.embeddings["mean"], atol=1e-2)  # bf16 autocast: batches differ


def test_cancel_and_progress(tiny_chat):
    records = dolly_records(20)
    seen = []
    score_records(tiny_chat, records, config=ScoreConfig(max_length=128, max_batch=4),
                  progress=lambda d, t, m: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] and len(seen) > 2
    with pytest.raises(Cancelled):
        score_records(tiny_chat, records, config=ScoreConfig(max_length=128), should_stop=lambda: True)


def test_alpaca_and_chat_give_different_setups(tiny_chat, tiny_plain):
    from curation.model import setup_key

    assert tiny_chat.template == "chat" and tiny_plain.template == "alpaca"
    assert setup_key(tiny_chat, ScoreConfig()) != setup_key(tiny_plain, ScoreConfig())
    assert setup_key(tiny_chat, ScoreConfig()) != setup_key(tiny_chat, ScoreConfig(max_length=256))
    assert setup_key(tiny_chat, ScoreConfig()) == setup_key(tiny_chat, ScoreConfig(batch_tokens=8192))
