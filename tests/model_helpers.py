"""Fixtures for the model engine's tests: tiny randomly initialised causal LMs saved to disk, real records.

The tiny models use the real SmolLM2 tokenizer (taken from the converted default model, cached per machine), so
formatting is exercised with a real BPE tokenizer and chat template. Each is saved once per test session and
loaded by path, as a user's model would be. Variants: Llama with the chat template ("chat"), the same weights
with no template ("plain": Alpaca formatting), and a GPT-2 architecture ("gpt2").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.records import Message, Record, single_turn

ROOT = Path(__file__).resolve().parents[1]
DOLLY = ROOT.parent / "shared" / "data" / "dolly-15k" / "dolly-15k.jsonl"


def dolly_records(n: int, *, skip: int = 0) -> list[Record]:
    out = []
    with open(DOLLY, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            row = json.loads(line)
            out.append(single_turn(row["instruction"], row["output"], input_text=row["input"]))
            if len(out) >= n:
                break
    return out


def short_records() -> list[Record]:
    """Hand-made records: single- and multi-turn, a system prompt, whitespace the reference code trips on."""
    return [
        single_turn("Name a primary colour.", "Red."),
        single_turn("Translate to French", "Bonjour, le monde.", input_text="Hello, world."),
        single_turn("Repeat the word Paris.", "Paris"),
        single_turn("Say hi with spaces around it.", "  hi there  "),
        Record(messages=(Message("system", "Be brief."), Message("user", "What is 2+2?"), Message("assistant", "4"),
                         Message("user", "And times 3?"), Message("assistant", "12, since 4 x 3 = 12."))),
        single_turn("Write a long answer.", " ".join(["word"] * 40)),
    ]


def _tokenizer():
    from transformers import AutoTokenizer

    from curation.model.loading import default_model_dir

    return AutoTokenizer.from_pretrained(str(default_model_dir()))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("tiny-models")
    tok = _tokenizer()
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=2048, tie_word_embeddings=True, **ids))
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=128, n_layer=2, n_head=4, n_positions=2048,
                                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **ids))
    paths = {}
    chat_template = tok.chat_template
    for name, model, template in (("chat", llama, True), ("plain", llama, False), ("gpt2", gpt2, True)):
        folder = root / name
        model.save_pretrained(folder)
        tok.chat_template = chat_template if template else None
        tok.save_pretrained(folder)
        for leftover in ([] if template else list(folder.glob("chat_template*"))):
            leftover.unlink()
        paths[name] = folder
    return paths


@pytest.fixture
def tiny_chat(tiny_models):
    from curation.model import load_model

    return load_model(str(tiny_models["chat"]), device="cpu")


@pytest.fixture
def tiny_plain(tiny_models):
    from curation.model import load_model

    return load_model(str(tiny_models["plain"]), device="cpu")


@pytest.fixture(scope="session")
def tokenizer():
    return _tokenizer()
