"""Scoring and LM embedding with the backbone in ONNX Runtime: the option bench/bench_cpu_speed.py measures.

Not adopted (bench/README.md, "CPU speed"): on a 2-core CPU its fp32 kernels ran SmolLM2-135M no faster than
torch's fp32 path, below the 1.3x bar, so it lives with the benchmark, not in `curation`. Only the backbone
goes to ONNX: the output layer stays torch's fp32 head at the response positions (`forward.hidden_and_head`),
so the comparison keeps scoring's fast-head path and fp32 logits.

The export (about 15 s for SmolLM2-135M on 2 cores) is cached on disk per `model_key`, so a model's weights
are exported once; a fine-tuned round has a new key and so a new export. `onnxruntime` and `onnx` are optional
packages: `available()` says whether they are installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from curation.errors import CurationError
from curation.model.forward import hf_model
from curation.model.loading import LoadedModel, cache_root

OPSET = 17
INSTALL = "pip install onnxruntime onnx"


def available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def export_path(lm: LoadedModel) -> Path:
    digest = hashlib.sha256(lm.model_key.encode("utf-8")).hexdigest()[:24]
    return cache_root() / "onnx" / digest / "backbone.onnx"


class _HiddenStates(torch.nn.Module):
    """The backbone as a function of (ids, mask) -> last hidden states: the one thing the export traces."""

    def __init__(self, backbone: Any):
        super().__init__()
        self.backbone = backbone

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def export_backbone(lm: LoadedModel, path: Path | None = None) -> Path:
    """Export the model's backbone (LoRA adapters included, as traced ops) to ONNX, atomically; cached by key."""
    if not available():
        raise CurationError(f"ONNX Runtime is not installed; run `{INSTALL}`")
    path = path or export_path(lm)
    if path.exists():
        return path
    backbone = hf_model(lm).base_model
    if backbone is hf_model(lm):
        raise CurationError(f"{lm.base}: no separate backbone to export (the model has no base_model)")
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.randint(0, 100, (2, 9), device=lm.device)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # a padded row, so the traced mask handling is the general one
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
            "hidden": {0: "batch", 1: "length"}}
    was_training = lm.model.training
    lm.model.eval()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python-side shape checks
            torch.onnx.export(_HiddenStates(backbone), (ids, mask), tmp, input_names=["input_ids", "attention_mask"],
                              output_names=["hidden"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        os.replace(tmp, path)  # another process exporting the same key writes the same graph
    finally:
        lm.model.train(was_training)
        Path(tmp).unlink(missing_ok=True)
    return path


class OnnxBackbone(torch.nn.Module):
    """Stands in for a transformers backbone: called the same way, returns `.last_hidden_state` from ONNX Runtime."""

    def __init__(self, path: Path, threads: int | None = None):
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> Any:
        from transformers.modeling_outputs import BaseModelOutput

        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        hidden = self.session.run(None, {"input_ids": input_ids.cpu().numpy(), "attention_mask": mask.cpu().numpy()})
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden[0]))


class _OnnxCausalLM(torch.nn.Module):
    """What `forward.hidden_and_head` needs of a causal LM: a backbone, the output layer, the config."""

    def __init__(self, source: Any, backbone: OnnxBackbone):
        super().__init__()
        self.config = source.config
        self.base_model_onnx = backbone
        self.lm_head = source.get_output_embeddings()  # shared with the torch model, not copied
        self.embed_tokens = source.get_input_embeddings()

    @property
    def base_model(self) -> OnnxBackbone:
        return self.base_model_onnx

    def get_output_embeddings(self) -> Any:
        return self.lm_head

    def get_input_embeddings(self) -> Any:
        return self.embed_tokens

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_hidden_states: bool = False, **_: Any) -> Any:
        from transformers.modeling_outputs import CausalLMOutput

        hidden = self.base_model_onnx(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return CausalLMOutput(logits=self.lm_head(hidden), hidden_states=(hidden,) if output_hidden_states else None)


def onnx_model(lm: LoadedModel, *, threads: int | None = None) -> LoadedModel:
    """A scoring-only view of `lm` whose backbone runs in ONNX Runtime (same weights, same key, same tokenizer)."""
    if lm.device.type != "cpu":
        raise CurationError("ONNX Runtime scoring is for the CPU; on a GPU torch is the fast path")
    shell = _OnnxCausalLM(hf_model(lm), OnnxBackbone(export_backbone(lm), threads))
    return replace(lm, model=shell, extra={})
