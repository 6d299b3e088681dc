"""The suite's shared fixtures, in one place: workspaces (empty or holding real Dolly rows) and tiny models.

Real data comes from ../shared/data (tests/shared_data.py). The tiny models use the real SmolLM2 tokenizer
(taken from the converted default model, cached per machine), so formatting is exercised with a real BPE
tokenizer and chat template. Each is saved once per session and loaded by path, as a user's model would be.
Variants: Llama with the chat template ("chat"), the same weights with no template ("plain": Alpaca
formatting), and a GPT-2 architecture ("gpt2").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# estimates use the fallback constants and never measure this machine (tests/model/test_calibration.py does)
os.environ.setdefault("CURATION_CALIBRATION", "off")
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    # Parallel workers share the cores: each gets its share of torch/BLAS threads (set before torch is first
    # imported; subprocesses inherit it), or every torch job's threads fight the other workers' for them.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


@pytest.fixture
def ws(tmp_path):
    from curation.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def dolly_workspace(tmp_path_factory) -> Iterator[Callable[[int], object]]:
    """A factory: `dolly_workspace(n)` is a new workspace holding the first n Dolly rows (closed at the end)."""
    from curation.formats import importer
    from curation.workspace import Workspace
    from tests.shared_data import DOLLY, write_jsonl_head

    opened = []

    def make(n: int):
        root = tmp_path_factory.mktemp(f"dolly{n}")
        workspace = Workspace(root / "ws")
        importer.import_source(workspace, str(write_jsonl_head(DOLLY, root / "dolly.jsonl", n)))
        opened.append(workspace)
        return workspace

    yield make
    for workspace in opened:
        workspace.close()


def _tokenizer():
    from transformers import AutoTokenizer

    from curation.model.loading import default_model_dir

    return AutoTokenizer.from_pretrained(str(default_model_dir()))


@pytest.fixture(scope="session")
def tokenizer():
    return _tokenizer()


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
