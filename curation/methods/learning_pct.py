"""Learning percentage (Mekala et al. 2024, "Small2Large"; methods.md 3): a small selector model picks data
for a large target.

One iteration. A selector model (a small LM, separate from the target you will fine-tune on the export) is
trained on the whole pool; every sample's response perplexity is recorded before training (P_0) and after
each epoch (P_1..P_E). LP1 = (P_0 - P_1) / (P_0 - P_E) or LP1_app = (P_0 - P_1) / P_0 rank samples from hard
(low) to easy (high); k-means clusters over sentence embeddings keep the selection diverse, each cluster
getting a quota proportional to its size. Trajectories and clusters can instead come from files (GPU-cluster
scores, a converted published dump).

Defaults are the paper's: 3 epochs, LR 2e-5, cosine, warmup 3%, batch 32 per device (4 x 8), max length 512,
K = 1000 clusters with random_state 42, region "low". Scaled for small pools: K = N / 15 below 15k samples.
Reference bugs fixed: the budget is exact (the released chunking overshoots up to 2x; `budget_mode=
"reference_chunks"` reproduces it); LP1_app comes from epoch 1 of the E-epoch schedule as in the released
subsets (`lp1_app_schedule="one_epoch"` trains a true 1-epoch run instead); out-of-range LP values are
flagged (`clip` clips them to [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from curation.configs import setting
from curation.errors import CurationError
from curation.methods.base import Previous, Step, StepContext, finish, required_prefix
from curation.methods.budgets import Target
from curation.methods.engines.base import TrainSettings
from curation.methods.kernels.clusters import pool_clusters
from curation.methods.kernels.lp_scores import exact_quotas, interleave, lp1, lp1_app, reference_chunks
from curation.methods.registry import register
from curation.workspace.arrays import save_array


@dataclass(frozen=True)
class LearningPercentageConfig:
    score: Literal["lp1", "lp1_app"] = setting("lp1",
        "LP1 (needs all epochs) or LP1_app (needs epoch 1 only)")
    region: Literal["low", "mid", "high"] = setting("low",
        "hard (low LP, the paper's choice), middle or easy samples")
    epochs: int = setting(3,
        "selector training epochs E (LP1 = share of the E-epoch drop done after epoch 1)")
    lp1_app_schedule: Literal["cut", "one_epoch"] = setting("cut",
        "LP1_app: epoch 1 of the E-epoch schedule (as released) or a true 1-epoch run")
    n_clusters: int = setting(0,
        "k-means clusters; 0 = 1000, or N/15 for pools under 15k")
    cluster_seed: int = setting(42,
        "k-means random_state (the paper's 42)")
    budget_mode: Literal["exact", "reference_chunks"] = setting("exact",
        "exact global budget, or the released per-cluster chunk 0 of round(100/p) parts (overshoots)")
    clip: bool = setting(False,
        "clip LP to [0, 1] (the reference does not; out-of-range values are flagged either way)")
    trajectories_file: str = setting("",
        "precomputed perplexities P0..PE per sample (.npy/.json/.jsonl/.csv); skips training")
    clusters_file: str = setting("",
        "precomputed cluster ids per sample (.npy/.json/.jsonl/.csv); skips k-means")
    learning_rate: float = setting(0.0,
        "selector learning rate, cosine, warmup 3%; 0 = 2e-5 (the paper, full fine-tuning) or 2e-4 with LoRA")
    lora: bool = setting(True,
        "train a LoRA adapter (fits a CPU) instead of every weight (the paper)")
    batch_size: int = setting(32,
        "effective batch of the selector's training (paper: 4 x 8 per GPU)")
    max_length: int = setting(512,
        "tokens per sample for training and scoring")
    keep_checkpoints: Literal["last", "all", "none"] = setting("last",
        "keep the trained selector model on disk")

    def validate(self) -> None:  # the Literal choices are checked by curation.configs
        if self.epochs < 1 or (self.score == "lp1" and self.epochs < 2):
            raise CurationError("learning percentage needs epochs >= 2 for LP1 (>= 1 for LP1_app)")


@register
class LearningPercentage:
    name: ClassVar[str] = "learning_pct"
    title: ClassVar[str] = "Learning percentage (Small2Large): hard samples per cluster, scored by a small model"
    config_cls: ClassVar[type] = LearningPercentageConfig
    uses_model: ClassVar[bool] = True

    def n_iterations(self, config: LearningPercentageConfig, target: Target) -> int:
        return 1

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        cfg: LearningPercentageConfig = ctx.config
        clusters = pool_clusters(ctx, cfg.n_clusters, cfg.cluster_seed, cfg.clusters_file)
        trajectory, metrics, checkpoint, skipped = self._trajectory(ctx, cfg)
        lp = lp1(trajectory) if cfg.score == "lp1" else lp1_app(trajectory)
        out_of_range = np.isfinite(lp) & ((lp < 0) | (lp > 1))
        if cfg.clip:
            lp = np.clip(lp, 0.0, 1.0)
        key = np.where(np.isfinite(lp), lp, np.inf if cfg.region != "high" else -np.inf)  # unscorable: easy end
        candidates = ctx.constraints.candidates()
        sizes = np.bincount(clusters, minlength=int(clusters.max()) + 1)
        if cfg.budget_mode == "reference_chunks":
            percent = 100.0 * ctx.target.n_plan / len(ctx.pool)
            picks = interleave(reference_chunks(clusters, candidates, key, percent, cfg.region), sizes)
        elif ctx.target.max_tokens is not None:  # token budget: a proportional order over every candidate
            picks = interleave(_rankings(clusters, candidates, key, cfg.region, None), sizes)
        else:
            quotas = exact_quotas(clusters, candidates, ctx.constraints.required, ctx.target.n)
            picks = interleave(_rankings(clusters, candidates, key, cfg.region, quotas), sizes)
        reasons = [f"{cfg.score.upper()} {lp[r]:.3f} ({cfg.region} region) in cluster {clusters[r]}" for r in picks]
        components = {"learning_percentage": lp.astype(np.float64), "cluster": clusters,
                      "lp_out_of_range": out_of_range}
        if skipped is not None:  # the selector's training: which samples it could not learn, and why
            components["train_skipped"] = skipped
        for e in range(trajectory.shape[1]):
            components[f"ppl_{e}"] = trajectory[:, e]
        metrics.update(n_clusters=int(len(sizes)), n_lp_out_of_range=int(out_of_range.sum()),
                       n_unscorable=int((~np.isfinite(lp)).sum()))
        if cfg.budget_mode == "reference_chunks":  # deliberately not cut to the budget: that is the reference
            head, head_reasons = required_prefix(ctx)
            order = np.concatenate([np.asarray(head, np.int64), picks])
            step = Step(order=order, reasons=head_reasons + reasons,
                        gains=np.concatenate([np.full(len(head), np.nan), lp[picks]]))
            step.components, step.metrics, step.checkpoint = components, metrics, checkpoint
        else:
            step = finish(ctx, picks, reasons, lp[picks], components=components, metrics=metrics,
                          checkpoint=checkpoint)
        step.metrics["clusters_covered"] = int(len(np.unique(clusters[step.order])))
        return step

    def _trajectory(self, ctx: StepContext,
                    cfg: LearningPercentageConfig) -> tuple[np.ndarray, dict, str, np.ndarray | None]:
        """P_0..P_E per row: from the file, or by training the selector on every non-rejected sample."""
        if cfg.trajectories_file:
            from curation.methods.kernels.lp_inputs import load_trajectories

            return load_trajectories(cfg.trajectories_file, ctx.pool.ids, ctx.pool.records), {}, "", None
        engine, rows = ctx.engine, np.flatnonzero(~ctx.constraints.excluded)
        model = engine.base("selector")
        app = cfg.score == "lp1_app"
        epochs = 1 if app else cfg.epochs
        settings = TrainSettings(epochs=1 if app and cfg.lp1_app_schedule == "one_epoch" else cfg.epochs,
                                 stop_after_epochs=1 if app else 0, learning_rate=cfg.learning_rate,
                                 batch_size=cfg.batch_size, max_length=cfg.max_length, lora=cfg.lora)
        traj = np.full((len(ctx.pool), epochs + 1), np.nan)
        total = epochs + 1

        def record(epoch: int, current: Any) -> None:
            ctx.check_stop()
            ctx.report(epoch, total, f"scoring perplexities after epoch {epoch}")
            s = engine.score(current, rows, direct=False, max_length=cfg.max_length, should_stop=ctx.should_stop)
            traj[rows, epoch] = np.where(s.ok, s.ppl, np.nan)
            save_array(ctx.state_dir / f"ppl_epoch{epoch}.npy", traj[:, epoch])

        record(0, model)
        ctx.report(1, total, f"training the selector on {len(rows)} samples")
        train = engine.train(model, rows, settings, seed=ctx.seed, on_epoch_end=record, should_stop=ctx.should_stop)
        checkpoint = engine.save(model, ctx.checkpoint_name(0)) if cfg.keep_checkpoints != "none" else ""
        metrics: dict[str, Any] = {f"selector_{k}": v for k, v in train.metrics().items()}
        return traj, metrics, checkpoint, train.skipped_column(len(ctx.pool))


def _rankings(clusters: np.ndarray, candidates: np.ndarray, key: np.ndarray, region: str,
              quotas: np.ndarray | None) -> list[np.ndarray]:
    """Per cluster, its candidates in region order (low: ascending LP; high: descending; mid: outward from the
    median), cut to the cluster's quota when given."""
    out = []
    for c in range(int(clusters.max()) + 1):
        members = np.flatnonzero((clusters == c) & candidates)
        ranked = members[np.argsort(key[members], kind="stable")]
        if region == "high":
            ranked = ranked[::-1]
        elif region == "mid":
            pos = np.arange(len(ranked))
            ranked = ranked[np.lexsort((pos, np.abs(pos - (len(ranked) - 1) / 2)))]
        out.append(ranked if quotas is None else ranked[: quotas[c]])
    return out
