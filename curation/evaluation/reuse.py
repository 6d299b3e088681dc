"""Models shared between evaluations: a fine-tuned model is named by what determines it (its fingerprint), so an
evaluation reuses a model another evaluation of the workspace already trained and scored instead of training it
again. Several runs at one budget draw the same random subsets (same seed, same trainable pool), so comparing
five methods with random trains the random models once, not five times."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from curation.evaluation import results
from curation.evaluation.results import ModelKey, ModelResult
from curation.workspace.arrays import load_array
from curation.workspace.db import Workspace


def fingerprint(key: ModelKey, *, config: Any, train_config: Any, rows: np.ndarray | None, pool_ids: list[str],
                heldout_sha: str, dtype: str, single_turn: bool = False, scored_bf16: bool = False) -> str:
    """Hash of everything the model's held-out losses depend on; "" for a model that is never shared (a run's own
    checkpoint belongs to its run). `single_turn`: every trained row has one assistant turn, so training on the
    last turn and on every assistant turn train the same tokens (IterIT's runs say the one, DiverseEvol's the
    other; their random models are the same models). `scored_bf16`: its losses were computed under bf16 autocast,
    so they are not interchangeable with fp32 ones (fp32 adds nothing: the fingerprints stored before the
    setting existed stay valid)."""
    if key.role == "in_run":
        return ""
    what: dict[str, Any] = {"model": config.model, "device": config.device, "dtype": dtype,
                            "max_length": config.max_length, "heldout": heldout_sha}
    if scored_bf16:
        what["scored"] = "bf16"
    if key.role != "base":
        assert rows is not None
        train = asdict(train_config)
        if single_turn and train.get("train_on") == "all_assistant":
            train["train_on"] = "last"  # the form fingerprints had before this rule: stored models still match
        what.update(train=train, seed=int(config.seed) + key.seed,
                    rows=[pool_ids[int(i)] for i in rows])  # in order: the trainer shuffles them by seed
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reuse(ws: Workspace, evaluation_id: int, key: ModelKey, print_: str, valid: np.ndarray) -> ModelResult | None:
    """Store a copy of the model with fingerprint `print_` under this evaluation's key, if one exists."""
    found = results.find_model(ws, print_)
    if found is None:
        return None
    source_id, model = found
    losses = np.asarray(load_array(ws.root / model.losses_path), np.float32)
    return results.add_model(ws, evaluation_id, key, losses, valid, n_train=model.n_train, n_tokens=model.n_tokens,
                             skipped=model.skipped, seconds=0.0, fingerprint=print_,
                             reused_from=model.reused_from or source_id)
