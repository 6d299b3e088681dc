"""Baselines (methods.md 6), each at exactly the same budget as the methods: random, cluster-random, longest
response, perplexity (high or low), static IFD (Superfiltering: a small model, IFD >= 1 dropped), one-shot
K-Center on sentence embeddings, and a DEITA-style walk (by score, skipping samples too similar to one taken).

All are one-shot (one iteration). Scores come from the run's "scorer" model, a small LM that defaults to the
project's default small model whatever the target is (Superfiltering used GPT-2 124M). static_ifd scores with
Superfiltering's plain prompt by default; prompt="chat_template" is Cherry LLM's IFD (the scorer's own template;
IterIT-static when the scorer is the target model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from curation.configs import setting
from curation.methods.base import Previous, Step, StepContext, finish, picks_needed
from curation.methods.budgets import Target
from curation.methods.engines.base import Scores
from curation.methods.kernels.clusters import pool_clusters
from curation.methods.registry import register


class _OneShot:
    uses_model: ClassVar[bool] = False

    def n_iterations(self, config: Any, target: Target) -> int:
        return 1


def _top(ctx: StepContext, key: np.ndarray) -> np.ndarray:
    """Candidates by descending key (ties: lower row first), as many as the budget needs."""
    rows = np.flatnonzero(ctx.constraints.candidates())
    return rows[np.lexsort((rows, -key[rows]))][: picks_needed(ctx)]


def _ranked(ctx: StepContext, key: np.ndarray, label: str, **extra: Any) -> Step:
    """Candidates by descending key, cut to the budget, with the key as the reason."""
    picks = _top(ctx, key)
    reasons = [f"{label} {key[r]:.4g}, rank {i + 1}" for i, r in enumerate(picks)]
    return finish(ctx, picks, reasons, key[picks], **extra)


def _score(ctx: StepContext, max_length: int, direct: bool, prompt: str = "model") -> Scores:
    engine = ctx.engine
    ctx.report(0, 1, "scoring with the small scorer model")
    return engine.score(engine.base("scorer"), np.arange(len(ctx.pool)), direct=direct, max_length=max_length,
                        prompt=prompt, progress=ctx.progress, should_stop=ctx.should_stop)


# -- random and cluster-random ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RandomConfig:
    pass


@register
class RandomBaseline(_OneShot):
    name: ClassVar[str] = "random"
    title: ClassVar[str] = "Random: a uniform sample (seeded)"
    config_cls: ClassVar[type] = RandomConfig

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        rows = np.flatnonzero(ctx.constraints.candidates())
        picks = ctx.rng(iteration).permutation(rows)[: picks_needed(ctx)]
        return finish(ctx, picks, ["random draw"] * len(picks), np.full(len(picks), np.nan))


@dataclass(frozen=True)
class ClusterRandomConfig:
    n_clusters: int = setting(0, "k-means clusters; 0 = 1000, or N/15 for pools under 15k")
    cluster_seed: int = setting(42, "k-means random_state")


@register
class ClusterRandomBaseline(_OneShot):
    name: ClassVar[str] = "cluster_random"
    title: ClassVar[str] = "Cluster-random (clust_rand): uniform inside k-means clusters, quotas by cluster size"
    config_cls: ClassVar[type] = ClusterRandomConfig

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        from curation.methods.kernels.lp_scores import exact_quotas, interleave

        cfg: ClusterRandomConfig = ctx.config
        clusters = pool_clusters(ctx, cfg.n_clusters, cfg.cluster_seed)
        candidates = ctx.constraints.candidates()
        sizes = np.bincount(clusters)
        rng = ctx.rng(iteration)
        shuffled = [rng.permutation(np.flatnonzero((clusters == c) & candidates)) for c in range(len(sizes))]
        if ctx.target.max_tokens is None:
            quotas = exact_quotas(clusters, candidates, ctx.constraints.required, ctx.target.n)
            shuffled = [s[:q] for s, q in zip(shuffled, quotas)]
        picks = interleave(shuffled, sizes)
        return finish(ctx, picks, [f"random draw in cluster {clusters[r]}" for r in picks],
                      np.full(len(picks), np.nan), components={"cluster": clusters})


# -- length and model scores ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LongestConfig:
    measure: Literal["chars", "tokens"] = setting("chars", "response length in characters or in tokens")



@register
class LongestBaseline(_OneShot):
    name: ClassVar[str] = "longest"
    title: ClassVar[str] = "Longest responses: the cheap, strong length control"
    config_cls: ClassVar[type] = LongestConfig

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        if ctx.config.measure == "chars":
            length = ctx.pool.response_chars.astype(np.float64)
        else:
            length = np.array([len(r.response.split()) for r in ctx.pool.records], np.float64)
        return _ranked(ctx, length, f"response {ctx.config.measure}",
                       components={"complexity": length})


@dataclass(frozen=True)
class PerplexityConfig:
    direction: Literal["high", "low"] = setting("high", "highest perplexity first (hard) or lowest (clean)")
    max_length: int = setting(512, "tokens per sample when scoring")



@register
class PerplexityBaseline(_OneShot):
    name: ClassVar[str] = "perplexity"
    title: ClassVar[str] = "Perplexity PPL(y|x) under a small scorer model, highest or lowest first"
    config_cls: ClassVar[type] = PerplexityConfig
    uses_model: ClassVar[bool] = True

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        s = _score(ctx, ctx.config.max_length, direct=False)
        ppl = s.ppl.astype(np.float64)
        sign = 1.0 if ctx.config.direction == "high" else -1.0
        key = np.where(s.ok, sign * ppl, -np.inf)  # unscorable last
        step = _ranked(ctx, key, "perplexity x direction", components={"complexity": ppl, "status": s.status})
        step.metrics["n_unscorable"] = int((~s.ok).sum())
        return step


@dataclass(frozen=True)
class StaticIFDConfig:
    max_length: int = setting(1024, "tokens per sample when scoring (Superfiltering: 1024)")
    prompt: Literal["superfiltering", "chat_template"] = setting(
        "superfiltering", "superfiltering: instruction, newline, input, newline, then the response, no template "
        "(Superfiltering); chat_template: the scorer's own template (Cherry LLM's IFD)")


@register
class StaticIFDBaseline(_OneShot):
    name: ClassVar[str] = "static_ifd"
    title: ClassVar[str] = "Static IFD (Superfiltering): highest IFD < 1 under a small model, scored once"
    config_cls: ClassVar[type] = StaticIFDConfig
    uses_model: ClassVar[bool] = True

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        cfg: StaticIFDConfig = ctx.config
        s = _score(ctx, cfg.max_length, direct=True, prompt="plain" if cfg.prompt == "superfiltering" else "model")
        ifd = s.ifd.astype(np.float64)
        # IFD < 1 by descending IFD; if they run out, IFD >= 1 from the closest to 1 (flagged); unscorable last
        key = np.where(~s.ok, -np.inf, np.where(ifd < 1, 2.0 + ifd, 1.0 / np.maximum(ifd, 1.0)))
        picks = _top(ctx, key)
        reasons = [f"IFD {ifd[r]:.4f} < 1, rank {i + 1}" if ifd[r] < 1 else
                   f"filler: IFD {ifd[r]:.4f} >= 1 (not enough samples with IFD < 1)" for i, r in enumerate(picks)]
        step = finish(ctx, picks, reasons, ifd[picks], components={"complexity": ifd, "status": s.status})
        step.metrics.update(n_unscorable=int((~s.ok).sum()), n_ifd_at_least_one=int((ifd >= 1).sum()),
                            n_filler=int((ifd[picks] >= 1).sum()))
        return step


# -- geometry ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KCenterConfig:
    metric: Literal["l2", "cosine"] = setting("l2", "distance between sentence embeddings (unit vectors)")



@register
class KCenterBaseline(_OneShot):
    name: ClassVar[str] = "kcenter"
    title: ClassVar[str] = "One-shot K-Center on sentence embeddings (no model in the loop)"
    config_cls: ClassVar[type] = KCenterConfig

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        from curation.geometry.diversity import kcenter

        X = ctx.engine.reference_embeddings(np.arange(len(ctx.pool)), progress=ctx.progress,
                                            should_stop=ctx.should_stop)
        candidates = ctx.constraints.candidates()
        first = None
        if not len(ctx.constraints.required):  # no centre yet: a seeded random first pick
            first = int(ctx.rng(iteration).choice(np.flatnonzero(candidates)))
        res = kcenter(X, picks_needed(ctx), start=ctx.constraints.required, metric=ctx.config.metric,
                      first=first, candidates=candidates, should_stop=ctx.should_stop)
        reasons = [f"farthest from the selected set (distance {d:.4f})" for d in res.distances]
        step = finish(ctx, res.order, reasons, res.distances)
        step.components["distance_to_selected"] = _pick_distances(len(ctx.pool), res.order, res.distances)
        step.metrics["covering_radius"] = res.radius
        return step


def _pick_distances(n: int, order: np.ndarray, distances: np.ndarray) -> np.ndarray:
    out = np.full(n, np.nan)
    out[order] = distances
    return out


@dataclass(frozen=True)
class DeitaConfig:
    score: Literal["ifd", "perplexity", "response_length"] = setting(
        "ifd", "what to walk by, highest first (DEITA's evol score needs its trained scorers)")
    threshold: float = setting(0.9, "skip a sample whose cosine similarity to a taken one is at least this")
    max_length: int = setting(1024, "tokens per sample when scoring")



@register
class DeitaBaseline(_OneShot):
    name: ClassVar[str] = "deita"
    title: ClassVar[str] = "DEITA-style walk: by score, skipping samples too similar to one already taken"
    config_cls: ClassVar[type] = DeitaConfig
    uses_model: ClassVar[bool] = True

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step:
        cfg: DeitaConfig = ctx.config
        if cfg.score == "response_length":
            score = ctx.pool.response_chars.astype(np.float64)
        else:
            s = _score(ctx, cfg.max_length, direct=cfg.score == "ifd")
            raw = s.ifd if cfg.score == "ifd" else s.ppl
            score = np.where(s.ok & ((raw < 1) if cfg.score == "ifd" else True), raw, -np.inf).astype(np.float64)
        X = ctx.engine.reference_embeddings(np.arange(len(ctx.pool)), should_stop=ctx.should_stop)
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        picks, sims = deita_walk(X, score, ctx.constraints.candidates(), ctx.constraints.required,
                                 picks_needed(ctx), cfg.threshold)
        reasons = [f"{cfg.score} {score[r]:.4g}; nearest taken at cosine {m:.3f}"
                   + ("" if m < cfg.threshold else " (filler: the walk ran out)") for r, m in zip(picks, sims)]
        step = finish(ctx, picks, reasons, score[picks], components={"complexity": score})
        step.metrics["n_filler"] = int((sims >= cfg.threshold).sum())
        return step


def deita_walk(X: np.ndarray, score: np.ndarray, candidates: np.ndarray, required: np.ndarray, k: int,
               threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Walk candidates by descending score; take one when its max cosine to the taken set is below `threshold`.
    If the walk ends short of k, a second pass takes the skipped ones by ascending similarity (fillers)."""
    rows = np.flatnonzero(candidates)
    walk = rows[np.lexsort((rows, -score[rows]))]
    max_sim = np.full(len(X), -np.inf)
    for r in required:
        np.maximum(max_sim, X @ X[r], out=max_sim)
    picks: list[int] = []
    sims: list[float] = []
    skipped: list[int] = []
    for r in walk:
        if len(picks) == k:
            break
        if max_sim[r] < threshold:
            picks.append(int(r))
            sims.append(float(max_sim[r]))
            np.maximum(max_sim, X @ X[r], out=max_sim)
        else:
            skipped.append(int(r))
    if len(picks) < k:
        rest = np.array(skipped, np.int64)  # the walk visited everything: fill from what it skipped
        extra = rest[np.argsort(max_sim[rest], kind="stable")][: k - len(picks)]
        picks += extra.tolist()
        sims += max_sim[extra].tolist()
    return np.asarray(picks, np.int64), np.asarray(sims, np.float64)

