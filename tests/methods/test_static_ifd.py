"""static_ifd: Superfiltering's plain prompt ("{instruction}\\n{input}\\n" + response, no chat template) against an
independent tokenisation, and its IFD against a hand computation from the tiny model's full logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curation.methods import registry, runner
from curation.model import load_model
from curation.model.formatting import Formatter
from curation.records import single_turn
from curation.workspace import runs, samples


def test_superfiltering_prompt_token_ids(tokenizer):
    with_input = single_turn("Translate to French", "Bonjour, le monde.", input_text="Hello, world.")
    no_input = single_turn("Name a primary colour.", " Red, of course.")
    formatter = Formatter(tokenizer, "plain", 1024)
    cases = ((with_input, "Translate to French\nHello, world.\n"), (no_input, "Name a primary colour.\n"))
    for record, prompt in cases:
        response = tokenizer(record.response, add_special_tokens=False)["input_ids"]
        expected = tokenizer(prompt)["input_ids"] + response  # Superfiltering's PROMPT_DICT_NONE, no end token
        cond, direct = formatter.format([record])[0], formatter.format([record], direct=True)[0]
        assert list(cond.input_ids) == expected
        assert cond.response == (len(expected) - len(response), len(expected)) and cond.status == "ok"
        # the response alone: the same tokens, after one start token to predict the first of them from
        assert list(direct.input_ids[1:]) == response and direct.response == (1, 1 + len(response))
        assert "<|im_start|>" not in tokenizer.decode(cond.input_ids)


def test_static_ifd_defaults_to_superfiltering():
    config = registry.make_config("static_ifd", {})
    assert config.prompt == "superfiltering"
    assert registry.make_config("static_ifd", {"prompt": "chat_template"}).prompt == "chat_template"


def _nll(model, ids: list[int], start: int, end: int) -> float:
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    return -sum(float(logp[t - 1, ids[t]]) for t in range(start, end)) / (end - start)


def test_static_ifd_superfiltering_equals_hand_computed_ifd(dolly_workspace, tiny_models, tokenizer, monkeypatch):
    monkeypatch.setattr("curation.model.forward.native_bf16", lambda device: False)  # exact fp32 compute
    ws = dolly_workspace(10)
    path = str(tiny_models["chat"])
    models = {"target": str(tiny_models["gpt2"]), "scorer": path, "device": "cpu"}
    run_id = runner.start_run(ws, "static_ifd", budget=4, models=models, config={"max_length": 256})
    runner.run_selection(ws, run_id)
    frame = runs.scores(ws, runs.iteration(ws, run_id)).set_index("sample_id")
    model = load_model(path, device="cpu").model
    checked = 0
    for sid, record in samples.get_many(ws, samples.ids(ws)).items():
        prompt = record.instruction + "\n" + (record.input + "\n" if record.input.strip() else "")
        p_ids = tokenizer(prompt)["input_ids"]
        r_ids = tokenizer(record.response, add_special_tokens=False)["input_ids"]
        if len(p_ids) >= 256:  # the response is cut away entirely: unscorable, no IFD
            assert frame.loc[sid, "status"] == "truncated" and np.isnan(frame.loc[sid, "complexity"])
            continue
        if len(p_ids) + len(r_ids) > 256:
            r_ids = r_ids[: 256 - len(p_ids)]  # truncation keeps the prompt, cuts the response's tail
        cond = _nll(model, p_ids + r_ids, len(p_ids), len(p_ids) + len(r_ids))
        direct = _nll(model, [tokenizer.eos_token_id] + r_ids, 1, 1 + len(r_ids))
        assert frame.loc[sid, "complexity"] == pytest.approx(np.exp(cond - direct), rel=1e-4), sid
        checked += 1
    assert checked >= 8
