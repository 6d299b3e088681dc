"""A deterministic stand-in for the model engine: fast, torch-free, and state-dependent like the real one.

Every number is a function of the sample's text and the fake model's state, so runs are reproducible:
- embeddings are hashed bag-of-words vectors, rotated by a matrix seeded from the model state (a model
  trained on other data embeds differently, as in DiverseEvol);
- NLL falls with training, fastest for samples the model was trained on, at a per-sample rate (so learning
  percentage trajectories differ between samples); IFD drifts with the model state (so IterIT re-ranks);
- a blank response is unscorable, as with the real scorer;
- training skips a row whose prompt holds max_length words or more (the real trainer skips a sample whose
  prompt fills max_length), or whose response is blank; its tokens are the response words + 1 per turn.
Used by the contract test, the CLI tests and `--engine fake` dry runs. It says nothing about data quality.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.methods.engines.base import Progress, Scores, StopCheck, TrainedRound, TrainSettings
from curation.model.checkpoints import checkpoint_dir
from curation.records import Record
from curation.workspace.arrays import atomic_write_text

DIM = 48
_WORD = re.compile(r"\w+")


def _h(text: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.blake2b(f"{salt}\x1f{text}".encode(), digest_size=8).digest(), "little")


def _bag(text: str) -> np.ndarray:
    v = np.zeros(DIM, np.float64)
    for w in _WORD.findall(text.lower()):
        h = _h(w)
        v[h % DIM] += 1.0 if (h >> 8) & 1 else -1.0
    return v


@dataclass
class FakeModel:
    role: str
    state: int = 0  # hash of everything it was trained on
    epochs: int = 0
    trained: set[int] = field(default_factory=set)


class FakeEngine:
    def __init__(self, records: list[Record], models: dict[str, str] | None = None, root: Path | None = None):
        self.records = records
        self.root = Path(root) if root is not None else None  # workspace: checkpoints go to <root>/checkpoints
        self.models = {"engine": "fake", **(models or {})}
        self._bags = np.stack([_bag(r.text()) for r in records]) if records else np.zeros((0, DIM))
        self._resp = np.stack([_bag(r.response) for r in records]) if records else np.zeros((0, DIM))
        u = np.array([[_h(r.text(), s) / 2**64 for s in ("a", "b", "c")] for r in records]).reshape(-1, 3)
        self._difficulty = 0.5 + 2.5 * u[:, 0]  # base NLL
        self._rate = 0.2 + 1.5 * u[:, 1]  # how fast training lowers it
        self._ifd = 0.35 + 0.9 * u[:, 2]  # ~25% at or above 1
        self._blank = np.array([not r.response.strip() for r in records], bool)

    def token_counts(self) -> np.ndarray:
        return np.array([len(r.prompt.split()) + len(r.response.split()) + 1 for r in self.records], np.int64)

    def base(self, role: str) -> FakeModel:
        return FakeModel(role=role)

    def train(self, model: FakeModel, rows: np.ndarray, settings: TrainSettings, *, seed: int,
              on_epoch_end: Callable[[int, Any], None] | None = None, progress: Progress | None = None,
              should_stop: StopCheck | None = None) -> TrainedRound:
        """One "step" per epoch; its loss is the mean NLL of the trained rows after that epoch."""
        asked = np.asarray(rows, np.int64)
        skipped = {int(r): why for r in asked if (why := self._why_skipped(int(r), settings.max_length))}
        rows = np.array([r for r in asked if int(r) not in skipped], np.int64)
        if len(asked) and not len(rows):
            from curation.errors import CurationError

            raise CurationError("nothing to train on: no sample has a response inside max_length")
        losses = []
        for epoch in range(1, (settings.stop_after_epochs or settings.epochs) + 1):
            if should_stop is not None and should_stop():
                from curation.errors import Cancelled

                raise Cancelled("training cancelled")
            model.trained |= {int(r) for r in rows}
            model.epochs += 1
            model.state = _h(f"{model.state}:{seed}:{settings.learning_rate}:{rows.tolist()}")
            losses.append(float(self.score(model, rows, direct=False).nll.mean()) if len(rows) else 0.0)
            if progress is not None:
                progress(epoch, settings.epochs, f"training epoch {epoch}")
            if on_epoch_end is not None:
                on_epoch_end(epoch, model)
        tokens = sum(self._label_tokens(int(r), settings) for r in rows)
        return TrainedRound(losses=tuple(losses), epochs=len(losses), samples=len(rows), tokens=tokens,
                            skipped=skipped)

    def _why_skipped(self, row: int, max_length: int) -> str:
        prompt = len(self.records[row].prompt.split())
        if prompt >= max_length:
            return f"not trained: the prompt fills max_length ({max_length} tokens), no response token is left"
        return "not trained: the response is blank" if self._blank[row] else ""

    def _label_tokens(self, row: int, settings: TrainSettings) -> int:
        record = self.records[row]
        turns = [m for m in record.messages if m.role == "assistant"]
        if settings.train_on == "final_turn":
            turns = turns[-1:]
        room = settings.max_length - len(record.prompt.split())
        return min(room, sum(len(m.content.split()) + 1 for m in turns))

    def score(self, model: FakeModel, rows: np.ndarray, *, direct: bool = True, max_length: int = 512,
              prompt: str = "model", progress: Progress | None = None,
              should_stop: StopCheck | None = None) -> Scores:
        rows = np.asarray(rows, np.int64)
        seen = np.array([r in model.trained for r in rows], bool)
        e = model.epochs
        decay = np.where(seen, 0.45 + 0.55 * np.exp(-self._rate[rows] * e), 1.0 - 0.03 * min(e, 5))
        nll = self._difficulty[rows] * decay
        drift = 1.0 + 0.15 * np.sin((model.state % 1000) / 37.0 + rows)
        ifd = np.clip(self._ifd[rows] * drift, 0.05, None)
        nll_direct = nll - np.log(ifd) if direct else np.full(len(rows), np.nan)
        ok = ~self._blank[rows]
        if progress is not None:
            progress(len(rows), len(rows), "scoring")
        return Scores(nll=np.where(ok, nll, np.nan).astype(np.float32),
                      nll_direct=np.where(ok, nll_direct, np.nan).astype(np.float32), ok=ok,
                      status=np.where(ok, "ok", "empty_response"))

    def embed(self, model: FakeModel, rows: np.ndarray, *, pooling: str = "mean", max_length: int = 512,
              progress: Progress | None = None, should_stop: StopCheck | None = None) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        source = self._resp if pooling == "response" else self._bags
        x = source[rows] + (0.5 * self._resp[rows] if pooling == "last" else 0.0)
        rot = np.random.default_rng(model.state % 2**32).normal(size=(DIM, DIM)) / np.sqrt(DIM)
        return (x @ (np.eye(DIM) + 0.3 * rot)).astype(np.float32)

    def _file(self, name: str) -> Path:
        if self.root is None:
            raise RuntimeError("this FakeEngine has no workspace root to keep checkpoints in")
        return checkpoint_dir(self.root, name) / "fake_model.json"

    def save(self, model: FakeModel, name: str) -> str:
        data = {"role": model.role, "state": model.state, "epochs": model.epochs, "trained": sorted(model.trained)}
        atomic_write_text(self._file(name), json.dumps(data))
        return name

    def load(self, name: str, role: str) -> FakeModel:
        data = json.loads(self._file(name).read_text(encoding="utf-8"))
        return FakeModel(role=data["role"], state=data["state"], epochs=data["epochs"], trained=set(data["trained"]))

    def has(self, name: str) -> bool:
        return self.root is not None and self._file(name).exists()

    def reference_embeddings(self, rows: np.ndarray, *, progress: Progress | None = None,
                             should_stop: StopCheck | None = None) -> np.ndarray:
        x = self._bags[np.asarray(rows, np.int64)] + 1e-3
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
