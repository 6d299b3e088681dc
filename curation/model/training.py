"""Short fine-tuning rounds: AdamW, cosine schedule with warmup, gradient accumulation, response-only loss.

The loop is deliberately plain (one `for` over optimizer steps). The loss of an optimizer step is the mean NLL
over every labelled token of all its micro-batches (sum / token count of the whole step), so gradient
accumulation gives the same gradient as one big batch. Labels are the assistant turns only: instruction,
template and padding positions never reach the output layer, so they cannot enter the loss.

Determinism: the seed fixes LoRA's initial weights, dropout and the data order (one generator per epoch,
seeded from (seed, epoch)). Multi-GPU: run the same program under `accelerate launch`; each process takes every
world-size-th micro-batch and gradients are summed across processes before each step (see distributed.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from curation.errors import Cancelled, CurationError
from curation.model import distributed, forward
from curation.model.formatting import OK, Formatted, Formatter
from curation.model.loading import DType, LoadedModel, decide_precision, torch_dtype
from curation.records import Record

Progress = Callable[[int, int, str], None]
EpochCallback = Callable[[int, LoadedModel], None]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    max_steps: int | None = None  # stop after this many optimizer steps (the schedule spans them)
    learning_rate: float | None = None  # None: 2e-4 with LoRA, 2e-5 for full fine-tuning (the papers' value)
    warmup_ratio: float = 0.03  # all three papers
    weight_decay: float = 0.0
    batch_size: int = 8  # sequences per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    max_length: int = 256  # tokens; 256 keeps a 64-128-sample round to minutes on 2 CPU cores
    max_grad_norm: float = 1.0
    lora: bool = True  # train a LoRA adapter (peft) instead of every weight
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ()  # () = every linear layer except the output layer
    gradient_checkpointing: bool = False  # trade ~30% speed for activation memory
    autocast: forward.Autocast = "auto"  # bf16 autocast where the hardware has native bf16 (decide_precision)
    # trainable weights: "auto"/"fp32" keep fp32 masters (a bf16-loaded model is upcast); "bf16" trains pure
    # bf16 (half the memory, but AdamW then drops every update below half a bf16 ulp: lr 2e-5 moves nothing)
    dtype: DType = "auto"
    group_by_length: bool = True  # batch similar lengths together (less padding), order still random
    train_on: str = "all_assistant"  # or "last": only the final assistant turn is labelled
    # >0: keep the schedule (warmup, cosine) of all `epochs` but stop after this many (LP1_app as released)
    stop_after_epochs: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.grad_accum < 1:
            raise CurationError("epochs, batch_size and grad_accum must be at least 1")
        if self.stop_after_epochs < 0:
            raise CurationError("stop_after_epochs must be 0 (train every epoch) or more")
        if self.train_on not in ("all_assistant", "last"):
            raise CurationError("train_on must be 'all_assistant' or 'last'")
        decide_precision("cpu", False, self.dtype, self.autocast)  # names a bad dtype or autocast setting

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else (2e-4 if self.lora else 2e-5)


@dataclass(frozen=True)
class TrainResult:
    steps: int
    epochs: int
    losses: list[float]  # mean response-token NLL of each optimizer step, before its update
    learning_rates: list[float]
    tokens: int  # tokens forwarded (padding excluded), by every process together
    label_tokens: int
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)  # sample id -> why it was not trained on
    trained_samples: int = 0  # samples epoch 0 trained on (the rest are in `skipped`)
    trained_tokens: int = 0  # tokens that carried loss in one pass over them (train_on decides which)
    model_key: str = ""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def prepare(lm: LoadedModel, config: TrainConfig, seed: int) -> None:
    """Wrap the model with a fresh LoRA adapter (or merge an existing one for full fine-tuning)."""
    torch.manual_seed(seed)
    if config.lora and not lm.is_lora:
        from peft import LoraConfig, get_peft_model

        targets = list(config.lora_targets) or "all-linear"
        with warnings.catch_warnings():  # peft calls a transformers property deprecated in v5
            warnings.simplefilter("ignore", FutureWarning)
            lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                              target_modules=targets, task_type="CAUSAL_LM")
            lm.model = get_peft_model(lm.model, lora)
    elif not config.lora and lm.is_lora:
        lm.model = lm.model.merge_and_unload()
    _master_weights(lm, config)
    lm.extra.pop("fast_head", None)


def _master_weights(lm: LoadedModel, config: TrainConfig) -> None:
    """Trainable weights in the dtype decide_precision gives for `config.dtype` (fp32 unless asked for bf16)."""
    wanted = torch_dtype(decide_precision(lm.device.type, False, config.dtype).weights)
    if not config.lora:  # every weight trains: the whole model (buffers included) moves to the master dtype
        if lm.dtype != wanted:
            lm.model.to(wanted)
            lm.dtype = wanted
        return
    for p in lm.model.parameters():  # LoRA: a frozen bf16 base is fine; only the adapters need the dtype
        if p.requires_grad and p.dtype != wanted:
            p.data = p.data.to(wanted)


def train(
    lm: LoadedModel,
    records: Sequence[Record] | Callable[[int], Sequence[Record]],
    *,
    config: TrainConfig = TrainConfig(),
    seed: int = 42,
    on_epoch_end: EpochCallback | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Fine-tune `lm` in place on `records` and return the loss curve.

    Continue from a checkpoint by passing a model from `load_checkpoint`; start from the base model by passing
    a fresh `load_model`. `records` may be a function of the epoch (IterIT changes the data every epoch while
    the optimizer and schedule carry on; the schedule is sized from epoch 0's data). `on_epoch_end(epoch, lm)`
    runs after each epoch with the model in eval mode (learning percentage scores the pool there).
    """
    started = time.time()
    prepare(lm, config, seed)
    world = distributed.World.current()
    data_for = records if callable(records) else (lambda _epoch: records)
    first = _formatted(lm, config, data_for(0))
    per_epoch = math.ceil(len(first[0]) / (config.batch_size * config.grad_accum * world.size))
    total = min(per_epoch * config.epochs, config.max_steps or 10**12)
    if total < 1:
        raise CurationError("nothing to train on: no sample has a response inside max_length")
    params = [p for p in lm.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warmup = math.ceil(config.warmup_ratio * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _cosine(s, warmup, total))
    if config.gradient_checkpointing:
        forward.hf_model(lm).gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    train_key = _train_key(lm.model_key, config, seed, first[1])
    losses: list[float] = []
    rates: list[float] = []
    skipped = dict(first[2])
    tokens = label_tokens = step = 0
    try:
        for epoch in range(config.epochs):
            formatted, ids, bad = first if epoch == 0 else _formatted(lm, config, data_for(epoch))
            skipped.update(bad)
            rng = np.random.default_rng([seed, epoch])
            steps = _step_batches(formatted, config, rng, world.size)
            lm.model.train()
            for micro_batches in steps:
                if step >= total:
                    break
                if should_stop is not None and should_stop():
                    raise Cancelled(f"training cancelled at step {step} of {total}")
                mine = micro_batches[world.rank::world.size]
                n_labels = sum(_n_labels(formatted[i], config) for mb in micro_batches for i in mb)  # all ranks
                loss_sum = 0.0
                for mb in mine:
                    loss, n_tok = _micro_step(lm, [formatted[i] for i in mb], config, n_labels)
                    loss_sum += loss
                    tokens += n_tok
                world.all_reduce_grads(params)
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                rates.append(float(schedule.get_last_lr()[0]))
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(world.sum(loss_sum) / max(n_labels, 1))
                label_tokens += n_labels
                step += 1
                lm.model_key = f"{train_key}@step{step}"
                if progress:
                    progress(step, total, f"epoch {epoch + 1}/{config.epochs} loss {losses[-1]:.4f}")
            lm.model.eval()
            if on_epoch_end is not None:
                on_epoch_end(epoch, lm)
            if step >= total or (config.stop_after_epochs and epoch + 1 >= config.stop_after_epochs):
                break
    finally:
        lm.model.eval()
        if config.gradient_checkpointing:
            forward.hf_model(lm).gradient_checkpointing_disable()
        optimizer.zero_grad(set_to_none=True)
    tokens = int(world.sum(tokens))  # each process forwarded its own micro-batches: the world's count
    return TrainResult(steps=step, epochs=epoch + 1, losses=losses, learning_rates=rates, tokens=tokens,
                       label_tokens=label_tokens, seconds=time.time() - started, skipped=skipped,
                       trained_samples=len(first[0]), trained_tokens=sum(_n_labels(f, config) for f in first[0]),
                       model_key=lm.model_key)


def response_loss(lm: LoadedModel, batch: Sequence[Formatted],
                  config: TrainConfig) -> tuple[torch.Tensor, int, int]:
    """(sum of NLL over labelled tokens, label count, tokens): the only loss the trainer uses."""
    ids, mask = forward.pad_batch([f.input_ids for f in batch], forward.pad_id(lm), lm.device)
    rows: list[int] = []
    cols: list[int] = []
    for r, f in enumerate(batch):
        for a, b in _label_spans(f, config):
            rows += [r] * (b - a)
            cols += range(a - 1, b - 1)  # logits at t-1 predict token t
    positions = (torch.tensor(rows, device=lm.device), torch.tensor(cols, device=lm.device))
    with forward.autocast(lm, config.autocast):
        _, logits = forward.hidden_and_head(lm, ids, mask, positions=positions, need_hidden=False)
    targets = ids[positions[0], positions[1] + 1]
    nll = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
    return nll, len(rows), int(mask.sum())


def _micro_step(lm: LoadedModel, batch: list[Formatted], config: TrainConfig, n_labels: int) -> tuple[float, int]:
    nll, _, n_tokens = response_loss(lm, batch, config)
    (nll / max(n_labels, 1)).backward()
    return float(nll.detach()), n_tokens


def _label_spans(f: Formatted, config: TrainConfig) -> tuple[tuple[int, int], ...]:
    """The spans that carry loss: every assistant turn, or (train_on="last") the final one only."""
    return f.labels if config.train_on == "all_assistant" else f.labels[-1:]


def _n_labels(f: Formatted, config: TrainConfig) -> int:
    # the step's loss is divided by this count: it must count the same spans response_loss sums over
    return sum(b - a for a, b in _label_spans(f, config))


def _formatted(lm: LoadedModel, config: TrainConfig,
               records: Sequence[Record]) -> tuple[list[Formatted], list[str], dict[str, str]]:
    """(trainable formatted samples, their ids, skipped id -> reason)."""
    formatted = Formatter(lm.tokenizer, lm.template, config.max_length).format(records)
    keep: list[Formatted] = []
    ids: list[str] = []
    skipped: dict[str, str] = {}
    for record, f in zip(records, formatted):
        if f.status == OK and _n_labels(f, config) > 0:
            keep.append(f)
            ids.append(record.id)
        else:
            skipped[record.id] = f.status
    return keep, ids, skipped


def _step_batches(formatted: list[Formatted], config: TrainConfig, rng: np.random.Generator,
                  world_size: int) -> list[list[list[int]]]:
    """Micro-batches grouped per optimizer step, in a seeded random order."""
    order = rng.permutation(len(formatted))
    size = config.batch_size
    if config.group_by_length:  # sort within windows of 32 batches, then shuffle the batches
        window = size * 32
        order = np.concatenate([sorted(order[s:s + window], key=lambda i: -len(formatted[i].input_ids))
                                for s in range(0, len(order), window)]) if len(order) else order
    batches = [list(map(int, order[s:s + size])) for s in range(0, len(order), size)]
    if config.group_by_length:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    per_step = config.grad_accum * world_size
    return [batches[s:s + per_step] for s in range(0, len(batches), per_step)]


def _cosine(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _train_key(parent: str, config: TrainConfig, seed: int, ids: list[str]) -> str:
    """Deterministic identity of the weights a round produces (same seed + data + config = same weights)."""
    # stop_after_epochs is left out: stopping early changes no weight up to the stop (same key, same weights)
    # dtype "auto" is left out too, so the keys of rounds trained before the setting existed stay valid
    settings = {k: v for k, v in asdict(config).items()
                if k != "stop_after_epochs" and not (k == "dtype" and v == "auto")}
    payload = json.dumps({"config": settings, "seed": seed, "ids": ids}, sort_keys=True)
    return f"{parent}+train-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"
