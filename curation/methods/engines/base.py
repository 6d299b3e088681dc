"""What selection methods need from models, as one small interface: train, score, embed, save, load.

Methods never touch transformers directly: they call an `Engine`, built once per run over the pool's records
and addressed by row index. `ModelEngine` (curation.methods.engines.model_engine) wraps `curation.model` and
`curation.geometry.embed`; `FakeEngine` (curation.methods.engines.fake_engine) is a deterministic stand-in that
makes the contract test over every method run in seconds. Model roles: "target" (the model being fine-tuned:
DiverseEvol, IterIT), "selector" (learning percentage's small model) and "scorer" (the small model of static baselines).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from curation.errors import CurationError

Progress = Callable[[int, int, str], None]
StopCheck = Callable[[], bool]
ROLES = ("target", "selector", "scorer")
TrainOn = Literal["final_turn", "all_assistant_turns"]


@dataclass(frozen=True)
class TrainSettings:
    """The SFT recipe of a method (methods.md 7.9); the engine maps it onto its own training config."""

    epochs: int = 3
    learning_rate: float = 0.0  # 0: the engine's default (2e-5 full fine-tuning as the papers, 2e-4 with LoRA)
    batch_size: int = 64  # effective batch (micro-batch x grad-acc)
    max_length: int = 512
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    lora: bool = True  # a LoRA adapter instead of every weight (the papers fine-tune all; LoRA fits a CPU)
    stop_after_epochs: int = 0  # >0: run the cosine schedule of `epochs` but stop after this many (LP1_app)
    # multi-turn data: the loss on every assistant turn, or on the final one (earlier turns are prompt: IterIT)
    train_on: TrainOn = "all_assistant_turns"


@dataclass(frozen=True)
class TrainedRound:
    """What one `Engine.train` call did, as numbers (no engine parses them out of progress text)."""

    losses: tuple[float, ...]  # the loss of every optimizer step (the fake engine: one step per epoch)
    epochs: int  # epochs actually run (fewer than asked with stop_after_epochs)
    samples: int = 0  # rows trained on: the rows asked for, less `skipped`
    tokens: int = 0  # tokens that carried loss in one pass over those rows (response tokens, per train_on)
    skipped: dict[int, str] = field(default_factory=dict)  # row -> why it was not trained on

    def metrics(self) -> dict[str, Any]:
        """The round as iteration metrics: what was really trained, beside the selection's own counts."""
        return {"train_loss": self.train_loss, "trained_samples": self.samples, "trained_tokens": self.tokens,
                "n_train_skipped": len(self.skipped)}

    def skipped_column(self, n: int) -> np.ndarray:
        """Per pool row: why the round did not train on it ("" for rows trained on or never asked for)."""
        out = np.full(n, "", dtype=object)
        for row, reason in self.skipped.items():
            out[row] = reason
        return out.astype(str)

    @property
    def steps(self) -> int:
        return len(self.losses)

    @property
    def train_loss(self) -> float:
        """Mean loss of the last tenth of the steps (at least one): the round's final loss, less noisy than the
        last step alone. NaN when nothing was trained."""
        if not self.losses:
            return float("nan")
        return float(np.mean(self.losses[-max(1, len(self.losses) // 10):]))


@dataclass(frozen=True)
class Scores:
    """Per-row scores from one model state. `ok` False = unscorable (response truncated away or empty)."""

    nll: np.ndarray  # float32, response-only mean NLL given the instruction
    nll_direct: np.ndarray  # float32, the same response tokens without the instruction (NaN when not asked)
    ok: np.ndarray  # bool
    status: np.ndarray  # str

    @property
    def ppl(self) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.exp(self.nll.astype(np.float64)).astype(np.float32)

    @property
    def ifd(self) -> np.ndarray:
        """PPL(y|x) / PPL(y) = exp(NLL(y|x) - NLL(y)), in fp32 (methods.md 1: the ratio of perplexities)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(self.nll.astype(np.float64) - self.nll_direct.astype(np.float64)).astype(np.float32)


class Engine(Protocol):
    models: dict[str, str]  # role -> model name, for provenance

    def token_counts(self) -> np.ndarray: ...

    def base(self, role: str) -> Any: ...

    def train(self, model: Any, rows: np.ndarray, settings: TrainSettings, *, seed: int,
              on_epoch_end: Callable[[int, Any], None] | None = None, progress: Progress | None = None,
              should_stop: StopCheck | None = None) -> TrainedRound: ...

    def score(self, model: Any, rows: np.ndarray, *, direct: bool = True, max_length: int = 512,
              prompt: str = "model", progress: Progress | None = None,
              should_stop: StopCheck | None = None) -> Scores: ...  # prompt "plain": Superfiltering's, no template

    def embed(self, model: Any, rows: np.ndarray, *, pooling: str = "mean", max_length: int = 512,
              progress: Progress | None = None, should_stop: StopCheck | None = None) -> np.ndarray: ...

    def save(self, model: Any, name: str) -> str: ...  # a checkpoint name in the workspace; returns it

    def load(self, name: str, role: str) -> Any: ...

    def has(self, name: str) -> bool: ...

    def reference_embeddings(self, rows: np.ndarray, *, progress: Progress | None = None,
                             should_stop: StopCheck | None = None) -> np.ndarray: ...


def make_engine(ws: Any, records: list, models: dict[str, str]) -> Engine:
    """The engine a run's `models` ask for: "model" (real causal LMs) or "fake" (tests, dry runs)."""
    kind = models.get("engine", "model")
    if kind == "fake":
        from curation.methods.engines.fake_engine import FakeEngine

        return FakeEngine(records, models, root=ws.root)
    if kind == "model":
        from curation.methods.engines.model_engine import ModelEngine

        return ModelEngine(ws, records, models)
    raise CurationError(f"unknown engine {kind!r}; use model or fake")
