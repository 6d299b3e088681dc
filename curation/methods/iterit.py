"""IterIT (Jia et al. 2024, "Boosting LLM via Learning from Data Iteratively and Selectively"; methods.md 2):
select inside fine-tuning, once per epoch.

Each epoch (= iteration): score IFD under the current model for a window of the stored order (everything at
epoch 0, the top update_ratio x k afterwards; the rest keep stale scores), keep IFD < 1 as candidates, pick k
greedily by IFD x TF-IDF response diversity with n-gram decay lambda (curation.methods.kernels.tfidf_greedy), then
train one epoch on the k picks. The budget is k, the per-epoch selection; the run's selection is the last
epoch's. Unique samples trained over the run (<= E k) are reported.

Defaults are the paper's: ratio 5% (pass `--budget 5%`), update_ratio 3, 3 epochs, lambda 0.1 (0.0 for
domain-specific data), 1-3-grams, score_type both, batch 32, max length 1024 (Dolly/WizardLM), seed 42.
Small pools need no scaling: the window is capped at the pool. Small budgets: the effective batch is capped at
k / 4 so an epoch takes at least 4 optimizer steps. Multi-turn data trains the final assistant turn only, the
earlier turns being prompt, as the reference (`train_on`).
Reference bugs fixed, with flags that reproduce them where results change: IFD >= 1 samples go last instead
of into the next window (`reference_order`, pitfall 2.7b); scores are fp32 (`bf16_scores` rounds them as the
reference stores them, 2.7c); unscorable samples (response truncated away) are kept last and counted instead
of vanishing as NaN (2.7 d2); the greedy never repeats a pick (2.7h); no EOS text is appended before TF-IDF
(`eos_ngram` adds one); the shuffle is seeded per epoch (`reference_shuffle` reuses one seed, 2.7i).
Deviation: each epoch is its own training call, so AdamW state and the cosine schedule restart per epoch
(the reference carries them over); this is what lets a killed run resume exactly at an epoch boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from curation.configs import setting
from curation.errors import CurationError
from curation.methods.base import Previous, Step, StepContext, finish, picks_needed
from curation.methods.budgets import Target
from curation.methods.engines.base import TrainedRound, TrainOn, TrainSettings
from curation.methods.kernels.tfidf_greedy import greedy_select, tfidf_matrix
from curation.methods.registry import register


@dataclass(frozen=True)
class IterITConfig:
    epochs: int = setting(3, "training epochs = selection rounds")
    update_ratio: float = setting(3.0, "re-score the top update_ratio x k of the order each epoch (<= 1: all)")
    decay: float = setting(0.1, "lambda: weight kept by an n-gram each time a pick covers it (0.0 = set cover)")
    ngram_max: int = setting(3, "TF-IDF n-grams 1..ngram_max over responses")
    score_type: Literal["both", "ifd"] = setting("both", "IFD x TF-IDF diversity (IterIT) or IFD alone")
    update_strategy: Literal["iterative", "static"] = setting(
        "iterative", "re-select every epoch (IterIT) or select once and reuse (the ablation baseline)")
    reference_order: bool = setting(False, "put IFD >= 1 samples right after the picks, as the reference does")
    bf16_scores: bool = setting(False, "round IFD to bfloat16 as the reference stores it (coarse, many ties)")
    eos_ngram: bool = setting(False, "append an EOS word to every response before TF-IDF, as the reference")
    reference_shuffle: bool = setting(False, "shuffle every epoch with the same seed, as the reference")
    learning_rate: float = setting(0.0, "0 = 2e-5 (the paper, full fine-tuning) or 2e-4 with LoRA")
    lora: bool = setting(True, "train a LoRA adapter (fits a CPU) instead of every weight (the paper)")
    batch_size: int = setting(32, "effective batch (paper: 1 x 32)")
    max_length: int = setting(1024, "tokens per sample (paper: 1024 for Dolly and WizardLM)")
    train_on: TrainOn = setting(
        "final_turn", "multi-turn data: loss on the final assistant turn, earlier turns as prompt (the reference), "
        "or on every assistant turn")
    keep_checkpoints: Literal["last", "all"] = setting(
        "last", "keep each epoch's model, or only the newest (a resume needs the newest)")

    def validate(self) -> None:  # the Literal choices are checked by curation.configs
        if self.epochs < 1 or not 0.0 <= self.decay <= 1.0 or self.ngram_max < 1:
            raise CurationError("IterIT needs epochs >= 1, 0 <= decay <= 1 and ngram_max >= 1")


@register
class IterIT:
    name: ClassVar[str] = "iterit"
    title: ClassVar[str] = "IterIT: IFD x TF-IDF diversity under the current model, re-selected every epoch"
    config_cls: ClassVar[type] = IterITConfig
    uses_model: ClassVar[bool] = True

    def n_iterations(self, config: IterITConfig, target: Target) -> int:
        return config.epochs

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        cfg: IterITConfig = ctx.config
        n = len(ctx.pool)
        if previous is None:
            position = np.where(ctx.constraints.excluded, -1, np.arange(n))
            ifd, scored, status = np.full(n, np.nan), np.full(n, -1), np.full(n, "unscored", dtype=object)
            trained = np.zeros(n, bool)
            model = ctx.engine.base("target")
        else:
            prev = _scores_of(previous).sort_values("row")
            position = prev["order_position"].to_numpy().copy()
            ifd = prev["complexity"].to_numpy(dtype=np.float64).copy()
            scored = prev["scored_epoch"].to_numpy().copy()
            status = prev["status"].to_numpy(dtype=object).copy()
            trained = prev["trained"].to_numpy(dtype=bool).copy()
            if not previous.checkpoint or not ctx.engine.has(previous.checkpoint):
                raise CurationError(f"epoch {iteration - 1}'s checkpoint is gone; IterIT cannot resume without it")
            model = ctx.engine.load(previous.checkpoint, "target")
        order_list = np.argsort(np.where(position < 0, np.iinfo(np.int64).max, position), kind="stable")
        order_list = order_list[position[order_list] >= 0]
        if previous is not None and cfg.update_strategy == "static":
            step = Step(order=previous.order, reasons=list(_scores_of(previous).set_index("row").loc[
                previous.order, "reason"]), gains=np.full(len(previous.order), np.nan), metrics={"window": 0})
        else:
            step, order_list = self._select(ctx, model, iteration, order_list, ifd, scored, status)
        trained[step.order] = True
        new_position = np.full(n, -1)
        new_position[order_list] = np.arange(len(order_list))
        step.components.update(complexity=ifd, order_position=new_position, scored_epoch=scored,
                               status=status.astype(str), trained=trained)
        step.metrics["unique_trained"] = int(trained.sum())
        step.checkpoint, round_ = self._train(ctx, model, step.order, iteration)
        step.metrics.update(round_.metrics())
        step.components["train_skipped"] = round_.skipped_column(n)
        return step

    def _select(self, ctx: StepContext, model: Any, iteration: int, order_list: np.ndarray, ifd: np.ndarray,
                scored: np.ndarray, status: np.ndarray) -> tuple[Step, np.ndarray]:
        cfg: IterITConfig = ctx.config
        k = ctx.target.n_plan
        size = len(order_list) if iteration == 0 or cfg.update_ratio <= 1 else math.ceil(cfg.update_ratio * k)
        window = order_list[:size]
        ctx.report(0, 3, f"scoring IFD of {len(window)} samples")
        s = ctx.engine.score(model, window, direct=True, max_length=cfg.max_length, should_stop=ctx.should_stop)
        values = np.where(s.ok, s.ifd, np.nan).astype(np.float32)
        if cfg.bf16_scores:
            values = to_bfloat16(values)
        ifd[window], scored[window], status[window] = values, iteration, s.status
        required = ctx.constraints.required
        in_window_req = np.isin(window, required)
        ok = np.isfinite(values)
        cand = window[ok & (values < 1) & ~in_window_req]
        noisy = window[ok & (values >= 1) & ~in_window_req]
        unscorable = window[~ok & ~in_window_req]
        by_ifd = cand[np.argsort(-ifd[cand], kind="stable")]
        need = picks_needed(ctx)
        ctx.report(1, 3, f"selecting {need} of {len(cand)} candidates")
        diversity = np.full(len(ctx.pool), np.nan)
        if cfg.score_type == "both" and len(cand):
            docs = np.concatenate([cand, required])
            suffix = " end_of_text" if cfg.eos_ngram else ""
            W = tfidf_matrix([ctx.pool.records[r].response + suffix for r in docs], cfg.ngram_max)
            res = greedy_select(W, np.concatenate([ifd[cand], np.ones(len(required))]), min(need, len(cand)),
                                cfg.decay, preselected=np.arange(len(cand), len(docs)))
            picks, gains = docs[res.order], res.gains
            diversity[docs] = res.initial_diversity
            reasons = [f"IFD {ifd[r]:.4f} x diversity {d:.3f} = {g:.4f}" for r, d, g in
                       zip(picks, res.diversity, gains)]
        else:
            picks = by_ifd[:need]
            gains = ifd[picks].astype(np.float64)
            reasons = [f"IFD {ifd[r]:.4f}, rank {i + 1} of the window" for i, r in enumerate(picks)]
        rest = by_ifd[~np.isin(by_ifd, picks)]
        fillers = np.concatenate([noisy[np.argsort(ifd[noisy], kind="stable")], unscorable])[: need - len(picks)]
        reasons += [f"filler: IFD {ifd[r]:.4f} (too few samples with IFD < 1 in the window)" for r in fillers]
        picks = np.concatenate([picks, fillers]).astype(np.int64)
        gains = np.concatenate([gains, np.full(len(fillers), np.nan)])
        noisy, unscorable = noisy[~np.isin(noisy, fillers)], unscorable[~np.isin(unscorable, fillers)]
        head = [required, picks]
        outside = order_list[size:]
        tail = [noisy, rest, outside, unscorable] if cfg.reference_order else [rest, outside, noisy, unscorable]
        new_order = np.concatenate(head + tail).astype(np.int64)
        step = finish(ctx, picks, reasons, gains, components={"diversity": diversity},
                      metrics={"window": int(len(window)), "n_candidates": int(len(cand)),
                               "n_ifd_at_least_one": int((values >= 1).sum()),
                               "n_unscorable": int((~ok).sum()), "n_filler": int(len(fillers))})
        return step, new_order

    def _train(self, ctx: StepContext, model: Any, rows: np.ndarray, iteration: int) -> tuple[str, TrainedRound]:
        cfg: IterITConfig = ctx.config
        settings = TrainSettings(epochs=1, learning_rate=cfg.learning_rate, lora=cfg.lora,
                                 batch_size=max(1, min(cfg.batch_size, len(rows) // 4)), max_length=cfg.max_length,
                                 train_on=cfg.train_on)
        ctx.report(2, 3, f"training one epoch on {len(rows)} samples")
        seed = ctx.seed if cfg.reference_shuffle else ctx.seed + iteration
        result = ctx.engine.train(model, rows, settings, seed=seed, should_stop=ctx.should_stop)
        return ctx.engine.save(model, ctx.checkpoint_name(iteration)), result


def _scores_of(previous: Previous) -> pd.DataFrame:
    """The previous epoch's per-sample table: IterIT's state between epochs (order, IFD, status)."""
    if previous.scores is None:
        raise CurationError(f"epoch {previous.iteration}'s scores are missing; IterIT cannot continue from it")
    return previous.scores


def to_bfloat16(x: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), returned as float32."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.nan, out).astype(np.float32)
