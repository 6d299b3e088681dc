"""The model engine: load a causal LM, score samples (NLL, PPL, IFD, pooled states), train short rounds.

Public API (stable; the selection methods build on it):

    lm = load_model(name_or_path=None, device=None, dtype=None, trust_remote_code=False, template="auto")
    result = score_records(lm, records, config=ScoreConfig(...))      # ScoreResult, fp32, never drops a sample
    result = score_samples(ws, lm, sample_ids, config=...)            # same, cached in the workspace
    X = embed_records(lm, records, pooling="mean")                    # float32 [n, hidden]
    run = train(lm, records, config=TrainConfig(...), seed=42, on_epoch_end=...)   # in place; TrainResult
    key = save_checkpoint(ws, lm, "round-1");  lm = load_checkpoint(ws, "round-1")
    seconds = estimate_seconds(n_samples, mean_tokens, task="score" | "train")

torch loads only when a name is first used (module __getattr__), so `import curation.model` stays cheap for
pages and commands that only need the names.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_MODEL": "curation.model.loading",
    "EMPTY": "curation.model.formatting",
    "Formatted": "curation.model.formatting",
    "Formatter": "curation.model.formatting",
    "LoadedModel": "curation.model.loading",
    "OK": "curation.model.formatting",
    "ScoreConfig": "curation.model.scoring",
    "ScoreResult": "curation.model.scoring",
    "TRUNCATED": "curation.model.formatting",
    "TrainConfig": "curation.model.training",
    "TrainResult": "curation.model.training",
    "checkpoint_info": "curation.model.checkpoints",
    "default_model_dir": "curation.model.loading",
    "describe_seconds": "curation.model.estimate",
    "embed_records": "curation.model.scoring",
    "estimate_for": "curation.model.estimate",
    "estimate_seconds": "curation.model.estimate",
    "list_checkpoints": "curation.model.checkpoints",
    "load_checkpoint": "curation.model.checkpoints",
    "load_embeddings": "curation.model.store",
    "load_model": "curation.model.loading",
    "load_scores": "curation.model.store",
    "save_checkpoint": "curation.model.checkpoints",
    "score_records": "curation.model.scoring",
    "score_samples": "curation.model.store",
    "setup_key": "curation.model.store",
    "train": "curation.model.training",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'curation.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
