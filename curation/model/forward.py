"""Forward-pass pieces shared by scoring and training: padding, autocast, and the LM head at chosen positions.

Scoring and training both need logits only where a response token is predicted. Running the backbone and then
the output layer on those positions alone skips most of the vocabulary projection (49k x 576 per token for
SmolLM2) and never materialises a batch x length x vocab tensor. A one-time self-check per model compares
this against the model's own logits; models that post-process logits (soft-capping, scaling) fail it and
fall back to the full forward.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

import torch

from curation.model.loading import Autocast, LoadedModel, decide_precision, dtype_name, native_bf16

HEAD_CHUNK = 1024  # positions per output-layer call: bounds the fp32 logits temporary to ~200 MB at 49k vocab


def hf_model(lm: LoadedModel) -> Any:
    """The transformers model under any peft wrapper."""
    model = lm.model
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def autocast(lm: LoadedModel, mode: Autocast) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast where `loading.decide_precision` says so (fp32 weights, native bf16 or asked for)."""
    device = lm.device.type
    if not decide_precision(device, _native(lm), dtype_name(lm.dtype), mode).autocast:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device, dtype=torch.bfloat16)


def computes_in_bf16(lm: LoadedModel, mode: Autocast) -> bool:
    """Whether a forward pass under `autocast(lm, mode)` computes in bf16 (bf16 weights, or autocast applies)."""
    weights = dtype_name(lm.dtype)
    return weights == "bf16" or decide_precision(lm.device.type, _native(lm), weights, mode).autocast


def _native(lm: LoadedModel) -> bool:
    if "native_bf16" not in lm.extra:  # a capability probe per batch would be wasted work
        lm.extra["native_bf16"] = native_bf16(lm.device)
    return bool(lm.extra["native_bf16"])


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, device: Any,
              length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and attention mask; `length` pads further (the padded-to-max benchmark baseline)."""
    width = max(len(s) for s in seqs) if length is None else length
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids.to(device), mask.to(device)


def pad_id(lm: LoadedModel) -> int:
    tok = lm.tokenizer
    for candidate in (tok.pad_token_id, tok.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def _backbone(lm: LoadedModel) -> Any:
    model = hf_model(lm)
    backbone = model.base_model
    head = model.get_output_embeddings()
    if backbone is model or head is None:
        return None, None
    return backbone, head


def fast_head_ok(lm: LoadedModel) -> bool:
    """Whether output_layer(backbone(x)) reproduces the model's logits (checked once per loaded model)."""
    if "fast_head" not in lm.extra:
        backbone, head = _backbone(lm)
        ok = False
        if backbone is not None:
            ids = torch.arange(3, 11, device=lm.device).unsqueeze(0) % max(2, hf_model(lm).config.vocab_size)
            was_training = lm.model.training
            lm.model.eval()
            with torch.inference_mode():
                full = lm.model(input_ids=ids).logits.float()
                fast = head(backbone(input_ids=ids).last_hidden_state).float()
            lm.model.train(was_training)
            ok = full.shape == fast.shape and torch.allclose(full, fast, rtol=1e-3, atol=1e-3)
        lm.extra["fast_head"] = ok
    return lm.extra["fast_head"]


def hidden_and_head(lm: LoadedModel, ids: torch.Tensor, mask: torch.Tensor, *, positions: Any = None,
                    need_hidden: bool = True) -> Any:
    """Run the model; return (last hidden states [B, L, H] or None, logits at `positions` [P, V]).

    `positions` is (rows, cols) index tensors. On the fast path logits are computed only there, and always in
    fp32, outside any autocast: bf16 logits round every logit to 8 mantissa bits, which moves the NLL by
    ~1e-2 at a trained model's logit sizes. With fp32 weights (the default) this costs no cast; bf16 weights
    cast the output matrix per call. The fallback path keeps the model's own logits (in the weights' dtype).
    """
    if fast_head_ok(lm):
        backbone, head = _backbone(lm)
        hidden = backbone(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        if positions is None:
            return hidden, None
        selected = hidden[positions[0], positions[1]]
        with torch.autocast(device_type=selected.device.type, enabled=False):
            return hidden, _fp32_head(head, selected)
    out = lm.model(input_ids=ids, attention_mask=mask, use_cache=False, output_hidden_states=need_hidden)
    hidden = out.hidden_states[-1] if need_hidden else None
    logits = None if positions is None else out.logits[positions[0], positions[1]]
    return hidden, logits


def _fp32_head(head: Any, x: torch.Tensor) -> torch.Tensor:
    weight = getattr(head, "weight", None)
    if isinstance(head, torch.nn.Linear) and weight is not None:
        bias = None if head.bias is None else head.bias.float()
        return torch.nn.functional.linear(x.float(), weight.float(), bias)
    return head(x.to(weight.dtype if weight is not None else x.dtype)).float()


def token_nll(logits: torch.Tensor, targets: torch.Tensor, *, stats: bool = False) -> Any:
    """Per-position NLL in fp32 (and max logit, top-1 minus top-2 margin, entropy when `stats`)."""
    nll, max_logit, margin, entropy = [], [], [], []
    for start in range(0, logits.shape[0], HEAD_CHUNK):
        chunk = logits[start:start + HEAD_CHUNK].float()
        lse = torch.logsumexp(chunk, dim=-1)
        nll.append(lse - chunk.gather(1, targets[start:start + HEAD_CHUNK, None]).squeeze(1))
        if stats:
            top = chunk.topk(2, dim=-1).values
            max_logit.append(top[:, 0])
            margin.append(top[:, 0] - top[:, 1])
            logp = chunk - lse[:, None]
            entropy.append(-(logp.exp() * logp).sum(-1))
    cat = lambda xs: torch.cat(xs) if xs else logits.new_zeros(0, dtype=torch.float32)  # noqa: E731
    return cat(nll), (cat(max_logit), cat(margin), cat(entropy)) if stats else None


def token_budget_batches(lengths: Sequence[int], budget: int, max_batch: int) -> list[list[int]]:
    """Indices grouped longest-first so that rows x longest row stays within `budget` padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        if current and ((len(current) + 1) * width > budget or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def fixed_batches(n: int, rows: int) -> list[list[int]]:
    return [list(range(s, min(n, s + rows))) for s in range(0, n, rows)]


def safe_exp(x: float) -> float:
    return math.exp(x) if x < 700 else math.inf
