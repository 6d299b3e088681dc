"""How long will a selection run take? An estimate shown before a run starts, from the pool's size and lengths.

Model work (scoring passes, training rounds) is priced by `curation.model.estimate.estimate_seconds` (measured
token-parameter throughput); what each method does per iteration follows docs/methods.md ("Time on a CPU").
Tokens per sample come from characters (about 4 per token in English, plus the chat template) so that no
tokenizer is loaded for an estimate. Sentence-embedding the pool (every run's Vendi metric needs it, K-Center
and the cluster methods select with it) is priced separately and only when the pool is not embedded yet.
Scores are cached per model weights, so a second run on the same base model costs less than estimated.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

CHARS_PER_TOKEN = 4.0
TEMPLATE_TOKENS = 12  # chat-template tokens around a single-turn sample
EMBED_TEXTS_PER_S = 100.0  # all-MiniLM-L6-v2 on 2 shared cores: 14,989 Dolly conversations in 137 s (bench/README.md)


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
                 response_chars: float, embedded: bool, device: str = "cpu") -> RunEstimate:
    """Seconds a run of `method` with `config` should take over a pool of `n_pool` samples selecting `n_select`.

    `prompt_chars` / `response_chars` are the pool's mean lengths; `embedded` says whether the pool's
    reference sentence embeddings are cached already.
    """
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


@cache
def _estimate_seconds() -> Callable[..., float]:
    """`curation.model.estimate.estimate_seconds`, without importing torch in the app's process.

    Importing anything under `curation.model` runs its package `__init__`, which imports torch (~2 s, and the
    app must not load heavy libraries on page load). So, unless the module is loaded already, its source is
    compiled here without its `curation.model` imports and without `estimate_for` (the only code using them):
    the constants and the formula stay the model engine's own. Drop this once `curation.model` imports lazily.
    """
    if "curation.model.estimate" in sys.modules:
        return sys.modules["curation.model.estimate"].estimate_seconds
    spec = importlib.util.find_spec("curation.model")  # locates the package without running its __init__
    path = Path(next(iter(spec.submodule_search_locations))) / "estimate.py"  # type: ignore[union-attr]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    tree.body = [node for node in tree.body
                 if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("curation.model"))
                 and not (isinstance(node, ast.FunctionDef) and node.name == "estimate_for")]
    namespace: dict[str, Any] = {"__name__": "curation.model.estimate"}
    exec(compile(tree, str(path), "exec"), namespace)  # noqa: S102 (our own source file)
    return namespace["estimate_seconds"]
