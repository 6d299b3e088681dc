"""The real engine: causal LMs through `curation.model`, sentence embeddings through `curation.geometry.embed`.

Scores go through the workspace score cache (`curation.model.score_samples`), keyed by the model's weights:
the base model's IFD is computed once and shared by IterIT's first epoch, static IFD, perplexity and DEITA.
Checkpoints are workspace checkpoints (`curation.model.save_checkpoint`, LoRA adapters by default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from curation.methods.engines.base import Progress, Scores, StopCheck, TrainedRound, TrainSettings
from curation.model.checkpoints import has_checkpoint
from curation.records import Record

_TRAIN_ON = {"final_turn": "last", "all_assistant_turns": "all_assistant"}  # TrainSettings -> TrainConfig


def _why_skipped(status: str, max_length: int) -> str:
    """A formatting status (curation.model.formatting) as the reason a sample was not trained on."""
    from curation.model.formatting import EMPTY, TRUNCATED

    if status == TRUNCATED:
        return f"not trained: the prompt fills max_length ({max_length} tokens), no response token is left"
    if status == EMPTY:
        return "not trained: the response is blank"
    return f"not trained: no response token to learn ({status})"


class ModelEngine:
    def __init__(self, ws: Any, records: list[Record], models: dict[str, str]):
        from curation.geometry.embed import DEFAULT_MODEL as EMBEDDER
        from curation.model import DEFAULT_MODEL

        self.ws, self.records = ws, records
        self.ids = [r.id for r in records]
        self.models = {"engine": "model", **{k: v for k, v in models.items() if v}}
        for role in ("target", "selector", "scorer"):
            self.models.setdefault(role, DEFAULT_MODEL)
        self.models.setdefault("embedder", EMBEDDER)
        self.device = self.models.get("device") or None
        self._reference: np.ndarray | None = None
        from curation.backends import BackendConfig, resolve_backend

        # where the per-sample passes run (in-process, or Ray actors); training stays in this process
        self.backend = resolve_backend(BackendConfig.from_models(self.models),
                                       ws_root=ws.root if ws is not None else None)

    def token_counts(self) -> np.ndarray:
        """Tokens of prompt + response under the target model's tokenizer (for token budgets)."""
        from transformers import AutoTokenizer

        from curation.model.loading import tokenizer_location

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_location(self.models["target"]))
        texts = [r.prompt + "\n" + r.response for r in self.records]
        out = np.empty(len(texts), np.int64)
        for s in range(0, len(texts), 1000):
            enc = tokenizer(texts[s:s + 1000], add_special_tokens=False)["input_ids"]
            out[s:s + len(enc)] = [len(x) for x in enc]
        return out

    def base(self, role: str) -> Any:
        from curation.model import load_model

        return load_model(self.models[role], device=self.device, dtype=self.models.get("dtype") or None)

    def train(self, model: Any, rows: np.ndarray, settings: TrainSettings, *, seed: int,
              on_epoch_end: Callable[[int, Any], None] | None = None, progress: Progress | None = None,
              should_stop: StopCheck | None = None) -> TrainedRound:
        from curation.model import TrainConfig, train

        micro = max(1, min(8, settings.batch_size))
        config = TrainConfig(epochs=settings.epochs, learning_rate=settings.learning_rate or None,
                             warmup_ratio=settings.warmup_ratio, weight_decay=settings.weight_decay,
                             batch_size=micro, grad_accum=math.ceil(settings.batch_size / micro),
                             max_length=settings.max_length, lora=settings.lora,
                             stop_after_epochs=settings.stop_after_epochs, train_on=_TRAIN_ON[settings.train_on],
                             dtype=self.models.get("dtype") or "auto")

        def epoch_end(epoch: int, lm: Any) -> None:  # curation.model counts epochs from 0, methods from 1
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, lm)

        result = train(model, [self.records[int(r)] for r in rows], config=config, seed=seed,
                       on_epoch_end=epoch_end, progress=progress, should_stop=should_stop)
        row_of = {self.ids[int(r)]: int(r) for r in rows}
        skipped = {row_of[sid]: _why_skipped(status, settings.max_length) for sid, status in result.skipped.items()}
        return TrainedRound(losses=tuple(result.losses), epochs=result.epochs, samples=result.trained_samples,
                            tokens=result.trained_tokens, skipped=skipped)

    def score(self, model: Any, rows: np.ndarray, *, direct: bool = True, max_length: int = 512,
              prompt: str = "model", progress: Progress | None = None,
              should_stop: StopCheck | None = None) -> Scores:
        from curation.model import ScoreConfig, score_samples

        ids = [self.ids[int(r)] for r in rows]
        result = score_samples(self.ws, model, ids, config=ScoreConfig(max_length=max_length, ifd=direct,
                                                                     prompt="plain" if prompt == "plain" else "model"),
                               progress=progress, should_stop=should_stop, compute=self.backend.score_fn())
        nll = np.asarray(result.nll, np.float32)
        nll_direct = np.asarray(result.nll_direct, np.float32) if direct else np.full(len(ids), np.nan, np.float32)
        return Scores(nll=nll, nll_direct=nll_direct, ok=np.asarray(result.ok, bool),
                      status=np.asarray(result.status).astype(str))

    def embed(self, model: Any, rows: np.ndarray, *, pooling: str = "mean", max_length: int = 512,
              progress: Progress | None = None, should_stop: StopCheck | None = None) -> np.ndarray:
        return self.backend.embed_records(model, [self.records[int(r)] for r in rows], pooling=pooling,
                                          max_length=max_length, progress=progress, should_stop=should_stop)

    def save(self, model: Any, name: str) -> str:
        from curation.model import save_checkpoint

        save_checkpoint(self.ws, model, name)
        return name

    def load(self, name: str, role: str) -> Any:
        from curation.model import load_checkpoint

        return load_checkpoint(self.ws, name, device=self.device, dtype=self.models.get("dtype") or None)

    def has(self, name: str) -> bool:
        return has_checkpoint(self.ws.root, name)

    def reference_embeddings(self, rows: np.ndarray, *, progress: Progress | None = None,
                             should_stop: StopCheck | None = None) -> np.ndarray:
        """The fixed sentence embedder (all-MiniLM-L6-v2 by default) over the whole pool, cached in the workspace."""
        if self._reference is None:
            from curation.geometry.embed import EmbedConfig, embed_pool

            config = EmbedConfig(model=self.models["embedder"])
            self._reference = embed_pool(self.ws, config, progress=progress, should_stop=should_stop,
                                         encode=self.backend.encode_fn(config))
        return self._reference[np.asarray(rows, np.int64)]
