"""DiverseEvol (Wu et al. 2023, "Self-Evolved Diverse Data Sampling for Efficient Instruction Tuning";
methods.md 4): grow the training pool by K-Center in the embedding space of the model trained on it.

Iteration 0 draws a seeded random initial pool P_0 (approved and pinned samples first, all of them even when
they outnumber n_0: the later rounds then share what is left) and trains M_0 on it.
Iteration t = 1..R embeds every sample with M_{t-1} (mean-pooled last hidden state by default), adds the n_t
samples farthest from P_{t-1} (greedy K-Center, starting from P_{t-1}), and retrains M_t from the base model
on P_t (option: continue from M_{t-1}, which is cheaper but changes the method). The runner records Vendi with
a fixed reference embedder every round.

Defaults are the paper's Dolly config: R = 10 rounds, an initial pool of budget/(R+1) (100 of 1,100), 3 epochs,
effective batch 64, max length 512, L2 distance, mean pooling over all tokens. Scaled for small budgets: R is
cut so every round adds at least one sample, and the effective batch is capped at a quarter of the round's
pool so that even round 0 takes >= 4 optimizer steps per epoch (the reference takes ~1: pitfall 4.8e).
Reference bugs fixed: the initial pool is seeded (4.8f); K-Center keeps a running minimum instead of an N x N
matrix and cannot return NaN for duplicates (4.8a-b). The final round's model is not needed for the selection
and is trained only with `train_final_round`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from curation.configs import setting
from curation.errors import CurationError
from curation.methods.base import Previous, Step, StepContext, required_prefix
from curation.methods.budgets import Target, apportion
from curation.methods.engines.base import TrainedRound, TrainSettings
from curation.methods.registry import register


@dataclass(frozen=True)
class DiverseEvolConfig:
    rounds: int = setting(10, "K-Center rounds after the initial pool (the paper: 10)")
    init_size: int = setting(0, "initial random pool; 0 = budget / (rounds + 1), the paper's 100 of 1,100")
    pooling: Literal["mean", "response", "last"] = setting(
        "mean", "embedding of the current model: mean over all tokens (paper), response tokens only, last token")
    metric: Literal["l2", "cosine"] = setting("l2", "K-Center distance (paper: L2, no whitening)")
    retrain: Literal["from_base", "continue"] = setting(
        "from_base", "each round trains from the base model (paper) or continues from the last round's")
    epochs: int = setting(3, "training epochs per round")
    learning_rate: float = setting(0.0, "0 = 2e-5 (the paper, full fine-tuning) or 2e-4 with LoRA")
    lora: bool = setting(True, "train a LoRA adapter (fits a CPU) instead of every weight (the paper)")
    batch_size: int = setting(64, "effective batch (paper: 4 x 4 x 4 GPUs); capped at a quarter of the pool")
    max_length: int = setting(512, "tokens per sample for training and embedding")
    train_final_round: bool = setting(False, "also train the model on the final pool (the paper's output model)")
    keep_checkpoints: Literal["last", "all", "none"] = setting(
        "last", "keep each round's model, or only the newest (what a resume needs)")

    def validate(self) -> None:  # the Literal choices are checked by curation.configs
        if self.rounds < 0 or self.epochs < 1 or self.init_size < 0:
            raise CurationError("DiverseEvol needs rounds >= 0, epochs >= 1 and init_size >= 0")


def pool_sizes(config: DiverseEvolConfig, n: int, required: int = 0) -> list[int]:
    """Cumulative pool size after each iteration: [n_0, n_0 + n_1, ..., n].

    The initial pool holds every required sample even when they outnumber budget / (rounds + 1); the rounds
    then share what is left. The number of rounds depends on `n` only (it is planned before constraints are
    known), so a round may add nothing when the required samples leave fewer samples than rounds."""
    rounds = max(0, min(config.rounds, n - 1))
    init = config.init_size or max(1, n // (rounds + 1))
    init = min(init, n)
    rounds = min(rounds, n - init)
    init = min(max(init, required), n)
    adds = apportion(n - init, np.ones(rounds)) if rounds else np.zeros(0, np.int64)
    return [init] + (init + np.cumsum(adds)).tolist()


@register
class DiverseEvol:
    name: ClassVar[str] = "diverse_evol"
    title: ClassVar[str] = "DiverseEvol: K-Center in the embedding space of the model trained so far"
    config_cls: ClassVar[type] = DiverseEvolConfig
    uses_model: ClassVar[bool] = True

    def n_iterations(self, config: DiverseEvolConfig, target: Target) -> int:
        return len(pool_sizes(config, target.n_plan))

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        cfg: DiverseEvolConfig = ctx.config
        sizes = pool_sizes(cfg, ctx.target.n_plan, len(ctx.constraints.required))
        round_target = ctx.target if iteration == len(sizes) - 1 else ctx.target.scaled(sizes[iteration])
        if iteration == 0:
            step = self._initial(ctx, round_target)
            model = None
        else:
            assert previous is not None and previous.iteration == iteration - 1
            model = self._model_of(ctx, previous, iteration - 1)
            step = self._grow(ctx, model, previous, round_target, iteration)
        last = iteration == len(sizes) - 1
        if not last or cfg.train_final_round:
            step.checkpoint, trained = self._train(ctx, model, step.order, iteration)
            step.metrics.update(trained.metrics())
            step.components["train_skipped"] = trained.skipped_column(len(ctx.pool))
        step.metrics["round_size"] = int(len(step.order))
        return step

    def _initial(self, ctx: StepContext, target: Target) -> Step:
        head, head_reasons = required_prefix(ctx)
        rows = np.flatnonzero(ctx.constraints.candidates())
        need = max(0, min(target.n - len(head), len(rows)))
        picks = ctx.rng(0).permutation(rows)[:need]
        order = _extend(target, np.asarray(head, np.int64), picks)
        reasons = (head_reasons + ["initial pool: seeded random draw"] * len(picks))[: len(order)]
        added = np.full(len(ctx.pool), -1, np.int64)
        added[order] = 0
        return Step(order=order, reasons=reasons, gains=np.full(len(order), np.nan),
                    components={"added_in_round": added})

    def _grow(self, ctx: StepContext, model: Any, previous: Previous, target: Target, iteration: int) -> Step:
        from curation.geometry.diversity import kcenter

        cfg: DiverseEvolConfig = ctx.config
        ctx.report(0, 3, f"embedding {len(ctx.pool)} samples with the round-{iteration - 1} model")
        X = ctx.engine.embed(model, np.arange(len(ctx.pool)), pooling=cfg.pooling, max_length=cfg.max_length,
                             should_stop=ctx.should_stop)
        finite = np.isfinite(X).all(axis=1)  # response pooling: rows whose response was truncated away
        X = np.where(finite[:, None], X, 0.0).astype(np.float32)
        candidates = ctx.constraints.candidates() & finite
        candidates[previous.order] = False
        k = max(0, min(target.n - len(previous.order), int(candidates.sum())))
        ctx.report(1, 3, f"K-Center: {k} picks")
        res = kcenter(X, k, start=previous.order, metric=cfg.metric, candidates=candidates,
                      should_stop=ctx.should_stop)
        order = _extend(target, previous.order, res.order)
        new = len(order) - len(previous.order)
        prior = previous.scores
        reasons = (list(prior.set_index("row").loc[previous.order, "reason"]) if prior is not None
                   else ["kept from the previous round"] * len(previous.order))
        reasons += [f"round {iteration}: farthest from the pool (distance {d:.4f})" for d in res.distances[:new]]
        gains = np.concatenate([np.asarray(prior.set_index("row").loc[previous.order, "gain"], np.float64)
                                if prior is not None else np.full(len(previous.order), np.nan),
                                res.distances[:new]])
        distance = np.full(len(ctx.pool), np.nan)
        distance[res.order[:new]] = res.distances[:new]
        return Step(order=order, reasons=reasons, gains=gains,
                    components={"distance_to_selected": distance,
                                "added_in_round": _added_round(ctx, previous, res.order[:new], iteration)},
                    metrics={"covering_radius": res.radius, "added": int(new)})

    def _model_of(self, ctx: StepContext, previous: Previous, iteration: int) -> Any:
        """M_{t-1}: its checkpoint, or (checkpoints dropped) a deterministic retrain from base on P_{t-1}."""
        if previous.checkpoint and ctx.engine.has(previous.checkpoint):
            return ctx.engine.load(previous.checkpoint, "target")
        if ctx.config.retrain == "continue":
            raise CurationError(f"the round-{iteration} checkpoint is gone and retrain=continue cannot rebuild "
                                "it; start a new run")
        model = ctx.engine.base("target")
        ctx.engine.train(model, previous.order, self._settings(ctx, len(previous.order)),
                         seed=ctx.seed + iteration, should_stop=ctx.should_stop)
        return model

    def _train(self, ctx: StepContext, model: Any, rows: np.ndarray, iteration: int) -> tuple[str, TrainedRound]:
        cfg: DiverseEvolConfig = ctx.config
        if model is None or cfg.retrain == "from_base":
            model = ctx.engine.base("target")
        ctx.report(2, 3, f"training on {len(rows)} samples ({cfg.epochs} epochs)")
        result = ctx.engine.train(model, rows, self._settings(ctx, len(rows)), seed=ctx.seed + iteration,
                                  should_stop=ctx.should_stop)
        name = ctx.engine.save(model, ctx.checkpoint_name(iteration)) if cfg.keep_checkpoints != "none" else ""
        return name, result

    def _settings(self, ctx: StepContext, n_rows: int) -> TrainSettings:
        cfg: DiverseEvolConfig = ctx.config
        return TrainSettings(epochs=cfg.epochs, learning_rate=cfg.learning_rate, lora=cfg.lora,
                             batch_size=max(1, min(cfg.batch_size, n_rows // 4)), max_length=cfg.max_length)


def _extend(target: Target, kept: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """`kept` in full (the required rows, or the previous pool: a round never drops one), then as many of
    `picks` as the round's target still allows (a count, or a token share that `kept` alone may already fill)."""
    kept = np.asarray(kept, np.int64)
    room = len(target.take(np.concatenate([kept, np.asarray(picks, np.int64)])))
    return np.concatenate([kept, np.asarray(picks, np.int64)[: max(0, room - len(kept))]])


def _added_round(ctx: StepContext, previous: Previous, new: np.ndarray, iteration: int) -> np.ndarray:
    out = np.full(len(ctx.pool), -1, np.int64)
    if previous.scores is not None and "added_in_round" in previous.scores:
        out[:] = previous.scores.sort_values("row")["added_in_round"].to_numpy()
    else:
        out[previous.order] = 0
    out[new] = iteration
    return out
