"""Per-sample scores from one model state: response NLL, perplexity, IFD, pooled hidden states, uncertainty.

    NLL(y|x)  = -(1/T) sum_t log p(y_t | x, y_<t)      mean over the final response's tokens (end-of-turn included)
    PPL(y|x)  = exp(NLL(y|x))
    IFD       = PPL(y|x) / PPL(y)                       Cherry-LLM / Superfiltering / IterIT (methods.md 1)

IFD is the ratio of *perplexities*, as both reference code bases compute it (not the paper's loss ratio); the
direct pass scores exactly the same response tokens as the conditional one, under the same template.

Speed (perf.md 6): work items (conditional and direct passes together) are sorted by length and cut into
token-budget batches, so padding stays near zero; the output layer runs only at response positions; bf16
autocast on CPUs with native bf16, with log-probabilities summed in fp32/fp64. Everything returned is fp32.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from curation.errors import Cancelled, CurationError
from curation.model import distributed, forward
from curation.model.formatting import OK, Formatted, Formatter
from curation.model.loading import LoadedModel
from curation.records import Record

Pooling = Literal["mean", "response", "last"]
POOLINGS = ("mean", "response", "last")
UNCERTAINTY = ("mean_max_logit", "margin", "entropy")
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ScoreConfig:
    max_length: int = 512  # tokens; DiverseEvol and learning percentage train at 512
    nll: bool = True  # response NLL / PPL given the instruction
    ifd: bool = True  # also the response alone, for IFD (a second, shorter pass)
    pooling: tuple[str, ...] = ()  # pooled last hidden states to return: "mean", "response", "last"
    uncertainty: bool = False  # mean max logit, top-1/top-2 margin, entropy over response positions
    batch_tokens: int = 4096  # padded tokens per forward pass
    max_batch: int = 64
    autocast: forward.Autocast = "auto"  # bf16 where the hardware has it; "off" for exact fp32
    batching: Literal["bucketed", "padded"] = "bucketed"  # "padded": data order, pad to max_length (bench only)
    # "model": the model's template (chat or Alpaca); "plain": Superfiltering's "{instruction}\n{input}\n" prompt
    prompt: Literal["model", "plain"] = "model"

    def __post_init__(self) -> None:
        bad = [p for p in self.pooling if p not in POOLINGS]
        if bad:
            raise CurationError(f"unknown pooling {bad[0]!r}; use mean, response or last")
        if self.ifd and not self.nll:
            raise CurationError("IFD needs the conditional NLL: set nll=True or ifd=False")
        if self.max_length < 2 or self.batch_tokens < self.max_length:
            raise CurationError("max_length must be >= 2 and batch_tokens >= max_length")
        if self.prompt not in ("model", "plain"):
            raise CurationError(f"unknown prompt {self.prompt!r}; use model or plain")

    def template_for(self, lm: LoadedModel) -> str:
        """The Formatter template these scores use with `lm`."""
        return "plain" if self.prompt == "plain" else lm.template

    def fingerprint(self, template: str) -> dict:
        """What, besides the weights, changes a stored score (batching and autocast only add noise)."""
        return {"template": template, "max_length": self.max_length, "version": 1}


@dataclass(frozen=True)
class ScoreResult:
    """Scores for `sample_ids`, row-aligned. Unscorable rows have a status other than "ok" and NaN values."""

    sample_ids: tuple[str, ...]
    status: np.ndarray  # str: "ok", "truncated" (response cut away at max_length), "empty_response"
    nll: np.ndarray  # float32
    n_tokens: np.ndarray  # int32, response tokens scored
    ppl: np.ndarray
    nll_direct: np.ndarray
    n_tokens_direct: np.ndarray
    ppl_direct: np.ndarray
    ifd: np.ndarray
    truncated: np.ndarray  # bool: the response's tail was cut (scored on the part that fits)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # pooling -> float32 [n, hidden]
    uncertainty: dict[str, np.ndarray] = field(default_factory=dict)  # UNCERTAINTY name -> float32 [n]
    model_key: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> np.ndarray:
        return self.status == OK

    def unscorable(self) -> dict[str, str]:
        """Sample id -> reason, for every sample that has no score."""
        return {s: str(st) for s, st in zip(self.sample_ids, self.status) if st != OK}

    def summary(self) -> str:
        n, ok = len(self.sample_ids), int(self.ok.sum())
        parts = [f"scored {ok}/{n} samples in {self.seconds:.1f} s"]
        if ok:
            parts.append(f"median NLL {np.nanmedian(self.nll):.3f}")
            if np.isfinite(self.ifd).any():
                parts.append(f"median IFD {np.nanmedian(self.ifd):.3f} ({int((self.ifd >= 1).sum())} with IFD >= 1)")
        reasons = {r: int((self.status == r).sum()) for r in sorted(set(self.status.tolist()) - {OK})}
        if reasons:
            parts.append("unscorable: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
        if self.truncated.any():
            parts.append(f"{int((self.truncated & self.ok).sum())} scored on a truncated response")
        return "; ".join(parts)


@dataclass(frozen=True)
class _Item:
    sample: int
    direct: bool
    ids: tuple[int, ...]
    span: tuple[int, int] | None  # response tokens to score, None = embed only


def build_items(lm: LoadedModel, records: Sequence[Record],
                config: ScoreConfig) -> tuple[list[_Item], list[Formatted]]:
    """Format every record; return (work items, cond formats)."""
    template = config.template_for(lm)
    cond = Formatter(lm.tokenizer, template, config.max_length).format(records)
    direct = Formatter(lm.tokenizer, template, 10**9).format(records, direct=True) if config.ifd else None
    items: list[_Item] = []
    for i, f in enumerate(cond):
        scorable = f.status == OK
        if config.pooling or (scorable and (config.nll or config.uncertainty)):
            span = f.response if scorable and (config.nll or config.uncertainty or "response" in config.pooling) \
                else None
            items.append(_Item(i, False, f.input_ids, span))
        if direct is not None and scorable:
            start, keep = direct[i].response[0], f.n_response  # same response tokens as the conditional pass
            items.append(_Item(i, True, direct[i].input_ids[: start + keep], (start, start + keep)))
    return items, cond


def score_records(
    lm: LoadedModel,
    records: Sequence[Record],
    *,
    config: ScoreConfig = ScoreConfig(),
    sample_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScoreResult:
    """Score `records` with the model's current weights (see the module docstring). Never drops a sample."""
    started = time.time()
    n = len(records)
    items, cond = build_items(lm, records, config)
    acc = _Accumulator(n, config, forward.hf_model(lm).get_input_embeddings().embedding_dim)
    world = distributed.World.current()
    lengths = [len(it.ids) for it in items]
    if config.batching == "bucketed":
        batches = forward.token_budget_batches(lengths, config.batch_tokens, config.max_batch)
    else:
        batches = forward.fixed_batches(len(items), max(1, config.batch_tokens // config.max_length))
    batches = batches[world.rank::world.size]  # under `accelerate launch`, each process takes its share
    total = sum(len(b) for b in batches)
    was_training = lm.model.training
    lm.model.eval()
    done = 0
    try:
        for batch in batches:
            if should_stop is not None and should_stop():
                raise Cancelled(f"scoring cancelled after {done} of {total} passes")
            _run_batch(lm, [items[i] for i in batch], config, acc)
            done += len(batch)
            if progress:
                progress(done, total, "scoring")
    finally:
        lm.model.train(was_training)
    acc.reduce(world)
    ids = tuple(sample_ids) if sample_ids is not None else tuple(r.id for r in records)
    if len(ids) != n:
        raise CurationError(f"{len(ids)} sample ids for {n} records")
    return acc.result(ids, cond, config, lm.model_key, time.time() - started)


def embed_records(
    lm: LoadedModel,
    records: Sequence[Record],
    *,
    pooling: Pooling = "mean",
    max_length: int = 512,
    batch_tokens: int = 4096,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Pooled last hidden states, float32 [n, hidden], for DiverseEvol's K-Center.

    "mean" averages every token of the conversation (DiverseEvol's choice), "response" only the final
    response's tokens (NaN rows for samples whose response is truncated away), "last" takes the last token.
    """
    config = ScoreConfig(max_length=max_length, nll=False, ifd=False, pooling=(pooling,),
                         batch_tokens=max(batch_tokens, max_length))
    result = score_records(lm, records, config=config, progress=progress, should_stop=should_stop)
    return result.embeddings[pooling]


def _run_batch(lm: LoadedModel, items: list[_Item], config: ScoreConfig, acc: _Accumulator) -> None:
    width = config.max_length if config.batching == "padded" else None
    ids, mask = forward.pad_batch([it.ids for it in items], forward.pad_id(lm), lm.device, width)
    rows: list[int] = []
    cols: list[int] = []
    owner: list[int] = []
    for r, it in enumerate(items):
        if it.span is not None and (config.nll or config.uncertainty or it.direct):
            a, b = it.span
            rows += [r] * (b - a)
            cols += range(a - 1, b - 1)  # logits at t-1 predict token t
            owner += [r] * (b - a)
    need_hidden = bool(config.pooling) and any(not it.direct for it in items)
    positions = None
    if rows:
        positions = (torch.tensor(rows, device=lm.device), torch.tensor(cols, device=lm.device))
    with torch.inference_mode(), forward.autocast(lm, config.autocast):
        hidden, logits = forward.hidden_and_head(lm, ids, mask, positions=positions, need_hidden=need_hidden)
        if logits is not None and positions is not None:
            targets = ids[positions[0], positions[1] + 1]
            nll, stats = forward.token_nll(logits, targets, stats=config.uncertainty)
            acc.add_tokens(items, np.asarray(owner), nll, stats)
        if need_hidden:
            acc.add_pooled(items, hidden.float(), mask)


class _Accumulator:
    """Per-sample sums in float64, turned into fp32 results at the end."""

    def __init__(self, n: int, config: ScoreConfig, hidden_size: int):
        self.n, self.config = n, config
        self.sums = {k: np.zeros(n) for k in ("cond", "direct", *UNCERTAINTY)}
        self.counts = {k: np.zeros(n, dtype=np.int64) for k in ("cond", "direct")}
        self.pooled = {p: np.zeros((n, hidden_size), np.float32) for p in config.pooling}
        self.filled = {p: np.zeros(n, np.int64) for p in config.pooling}

    def reduce(self, world: distributed.World) -> None:
        for table in (self.sums, self.counts, self.pooled, self.filled):
            for key in table:
                table[key] = world.sum_array(table[key])

    def add_tokens(self, items: list[_Item], owner: np.ndarray, nll: torch.Tensor, stats: Any) -> None:
        per_token = nll.double().cpu().numpy()
        extra = [s.double().cpu().numpy() for s in stats] if stats is not None else []
        for r, it in enumerate(items):
            sel = owner == r
            if not sel.any():
                continue
            key = "direct" if it.direct else "cond"
            self.sums[key][it.sample] += per_token[sel].sum()
            self.counts[key][it.sample] += int(sel.sum())
            if not it.direct:
                for name, values in zip(UNCERTAINTY, extra):
                    self.sums[name][it.sample] += values[sel].sum()

    def add_pooled(self, items: list[_Item], hidden: torch.Tensor, mask: torch.Tensor) -> None:
        lengths = mask.sum(1)
        for pooling in self.config.pooling:
            out = self.pooled[pooling]
            for r, it in enumerate(items):
                if it.direct:
                    continue
                if pooling == "mean":
                    vec = hidden[r, : int(lengths[r])].mean(0)
                elif pooling == "last":
                    vec = hidden[r, int(lengths[r]) - 1]
                elif it.span is not None:
                    vec = hidden[r, it.span[0]: it.span[1]].mean(0)
                else:
                    continue  # response pooling with no response tokens left: stays NaN, status says why
                out[it.sample] = vec.cpu().numpy()
                self.filled[pooling][it.sample] = 1

    def result(self, ids: Sequence[str], cond: list[Formatted], config: ScoreConfig, model_key: str,
               seconds: float) -> ScoreResult:
        status = np.array([f.status for f in cond], dtype="<U16")
        ok = status == OK
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            c, d = self.counts["cond"], self.counts["direct"]
            nll = np.where(ok & (c > 0), self.sums["cond"] / np.maximum(c, 1), np.nan)
            nll_d = np.where(ok & (d > 0), self.sums["direct"] / np.maximum(d, 1), np.nan)
            unc = {k: np.where(ok & (c > 0), self.sums[k] / np.maximum(c, 1), np.nan).astype(np.float32)
                   for k in UNCERTAINTY} if config.uncertainty else {}
            f32 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
            return ScoreResult(
                sample_ids=tuple(ids), status=status, nll=f32(nll), n_tokens=c.astype(np.int32), ppl=f32(np.exp(nll)),
                nll_direct=f32(nll_d), n_tokens_direct=d.astype(np.int32), ppl_direct=f32(np.exp(nll_d)),
                ifd=f32(np.exp(nll - nll_d)), truncated=np.array([f.truncated for f in cond], dtype=bool),
                embeddings={p: np.where(self.filled[p][:, None] > 0, e, np.nan).astype(np.float32)
                            for p, e in self.pooled.items()}, uncertainty=unc, model_key=model_key,
                seconds=seconds)
