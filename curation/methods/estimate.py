"""How long will a selection run take? An estimate shown before a run starts, from the pool's size and lengths.

Model work (scoring passes, training rounds) is priced by `curation.model.estimate.estimate_seconds` (measured
token-parameter throughput); what each method does per iteration follows docs/methods.md ("Time on a CPU").
Tokens per sample come from characters (about 4 per token in English, plus the chat template) so that no
tokenizer is loaded for an estimate. Sentence-embedding the pool (every run's Vendi metric needs it, K-Center
and the cluster methods select with it) is priced separately and only when the pool is not embedded yet.
Scores are cached per model weights, so a second run on the same base model costs less than estimated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curation.methods.budgets import Budget, sample_count
from curation.workspace import samples
from curation.workspace.db import Workspace

CHARS_PER_TOKEN = 4.0
TEMPLATE_TOKENS = 12  # chat-template tokens around a single-turn sample
EMBED_TEXTS_PER_S = 100.0  # all-MiniLM-L6-v2 on 2 shared cores: 14,989 Dolly conversations in 137 s (bench/README.md)
FAKE_ROWS_PER_S = 1e6  # the fake engine: seeded numpy per pool row, no model and no embedder (tests, dry runs)


@dataclass(frozen=True)
class RunEstimate:
    seconds: float
    parts: list[tuple[str, float]] = field(default_factory=list)  # (what, seconds), largest first

    def describe(self) -> str:
        if self.seconds < 90:
            return f"about {max(1, round(self.seconds))} s"
        return f"about {round(self.seconds / 60)} min" if self.seconds < 5400 else f"about {self.seconds / 3600:.1f} h"


def mean_tokens(prompt_chars: float, response_chars: float, max_length: int) -> tuple[float, float]:
    """(tokens per sample, response tokens per sample), capped at the method's max length."""
    total = min(float(max_length), (prompt_chars + response_chars) / CHARS_PER_TOKEN + TEMPLATE_TOKENS)
    response = min(total, response_chars / CHARS_PER_TOKEN + 1)
    return total, response


def estimate_run(method: str, config: Any, *, n_pool: int, n_select: int, prompt_chars: float,
                 response_chars: float, embedded: bool, device: str = "cpu", engine: str = "model") -> RunEstimate:
    """Seconds a run of `method` with `config` should take over a pool of `n_pool` samples selecting `n_select`.

    `prompt_chars` / `response_chars` are the pool's mean lengths; `embedded` says whether the pool's
    reference sentence embeddings are cached already. `engine="fake"` (the run's `models["engine"]`) runs no
    model and no embedder: a pass over the pool costs microseconds per row, whatever the method.
    """
    if engine == "fake":
        return RunEstimate(seconds=n_pool / FAKE_ROWS_PER_S, parts=[("the fake engine", n_pool / FAKE_ROWS_PER_S)])
    tokens, response = mean_tokens(prompt_chars, response_chars, int(getattr(config, "max_length", 512)))

    estimate_seconds = _estimate_seconds()

    def score(n: float, ifd: bool) -> float:
        return estimate_seconds(int(n), tokens, task="score", ifd=ifd, mean_response_tokens=response, device=device)

    def train(n: float, epochs: int) -> float:
        return estimate_seconds(int(n), tokens, task="train", epochs=epochs, device=device)

    parts: list[tuple[str, float]] = []
    if not embedded:
        parts.append(("sentence-embedding the pool (once; cached)", n_pool / EMBED_TEXTS_PER_S))
    if method == "diverse_evol":
        from curation.methods.diverse_evol import pool_sizes

        sizes = pool_sizes(config, max(1, n_select))
        trained = sizes if config.train_final_round else sizes[:-1]
        parts.append((f"{len(trained)} training rounds ({config.epochs} epochs each)",
                      sum(train(s, config.epochs) for s in trained)))
        parts.append((f"{len(sizes) - 1} passes embedding the pool with the trained model",
                      (len(sizes) - 1) * score(n_pool, ifd=False)))
    elif method == "iterit":
        window = n_pool if config.update_ratio <= 1 else min(n_pool, config.update_ratio * n_select)
        parts.append(("IFD of the whole pool (epoch 0)", score(n_pool, ifd=True)))
        if config.epochs > 1:
            parts.append((f"IFD of the top {int(window):,} in {config.epochs - 1} later epochs",
                          (config.epochs - 1) * score(window, ifd=True)))
        parts.append((f"{config.epochs} one-epoch trainings on {n_select:,} samples",
                      config.epochs * train(n_select, 1)))
    elif method == "learning_pct" and not config.trajectories_file:
        epochs = 1 if config.score == "lp1_app" else config.epochs
        parts.append((f"training the selector on the pool ({epochs} epoch(s))", train(n_pool, epochs)))
        parts.append((f"{epochs + 1} perplexity passes over the pool", (epochs + 1) * score(n_pool, ifd=False)))
    elif method in ("perplexity", "static_ifd") or (method == "deita" and config.score != "response_length"):
        ifd = method == "static_ifd" or (method == "deita" and config.score == "ifd")
        parts.append(("scoring the pool with the small model" + (" (IFD)" if ifd else ""), score(n_pool, ifd)))
    parts.sort(key=lambda p: -p[1])
    return RunEstimate(seconds=sum(s for _, s in parts), parts=parts)


def _estimate_seconds() -> Callable[..., float]:
    # curation.model imports lazily and its estimate module needs neither torch nor transformers
    from curation.model.estimate import estimate_seconds

    return estimate_seconds


@dataclass(frozen=True, eq=False)
class PoolProfile:
    """What an estimate needs to know about a pool; the app caches it (reading every record costs seconds)."""

    n_pool: int
    prompt_chars: float  # means
    response_chars: float
    text_keys: np.ndarray  # reference-embedder cache key of every sample's text (is the pool embedded yet?)


def pool_profile(ws: Workspace) -> PoolProfile:
    from curation.geometry.embed import sample_text
    from curation.geometry.embed_cache import text_keys

    prompt_chars, response_chars = samples.mean_chars(ws)
    keys = text_keys(sample_text(record, "text") for _, record in samples.iter_records(ws))
    return PoolProfile(n_pool=samples.count(ws), prompt_chars=prompt_chars, response_chars=response_chars,
                       text_keys=keys)


def estimate_for_workspace(ws: Workspace, method: str, config: Any, budget: Budget, *,
                           profile: PoolProfile | None = None, engine: str = "model") -> tuple[RunEstimate, int]:
    """The estimate for a run of `method` on `ws`'s pool at `budget`, and about how many samples it selects.

    `select --estimate` and the Select page both call this; the page passes its cached `profile`; `engine`
    is the run's engine ("model" or "fake").
    """
    from curation.geometry.maps import embedded_share

    p = profile if profile is not None else pool_profile(ws)
    tokens = mean_tokens(p.prompt_chars, p.response_chars, 512)[0]
    n_select = min(sample_count(budget, p.n_pool, tokens_per_sample=tokens), p.n_pool)
    guess = estimate_run(method, config, n_pool=p.n_pool, n_select=max(1, n_select), prompt_chars=p.prompt_chars,
                         response_chars=p.response_chars, embedded=embedded_share(ws, p.text_keys) >= 1.0,
                         engine=engine)
    return guess, n_select
