"""Checkpoints in the workspace: safetensors weights (a LoRA adapter or the full model) plus a small JSON.

    <workspace>/checkpoints/<name>/checkpoint.json    base model, kind, LoRA settings, sha256 of the weights
    <workspace>/checkpoints/<name>/adapter.safetensors   (LoRA)  or  model.safetensors  (full weights)

A checkpoint folder is written beside its final place and renamed in, so readers never see half of one. Its
model key is `<base>::<name>@<sha256[:12]>`: scores cached under it stay valid exactly as long as the weights do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation.errors import CurationError
from curation.workspace.arrays import sha256_file
from curation.workspace.db import Workspace

if TYPE_CHECKING:
    from curation.model.loading import LoadedModel

# torch-free at import: the fake engine and the runner only need the paths (torch loads inside the functions)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
META = "checkpoint.json"
FOLDER = "checkpoints"


def checkpoints_root(ws_root: str | os.PathLike[str]) -> Path:
    """The folder holding every checkpoint of the workspace at `ws_root`."""
    return Path(ws_root) / FOLDER


def checkpoint_dir(ws_root: str | os.PathLike[str], name: str) -> Path:
    """The one place a checkpoint's folder is derived: <workspace>/checkpoints/<name> (name validated)."""
    if not _NAME.match(name):
        raise CurationError(f"invalid checkpoint name {name!r}: use letters, digits, '.', '_' or '-'")
    return checkpoints_root(ws_root) / name


def has_checkpoint(ws_root: str | os.PathLike[str], name: str) -> bool:
    """Whether a complete model checkpoint `name` exists (its metadata is written last)."""
    return (checkpoint_dir(ws_root, name) / META).exists()


def _folder(ws: Workspace, name: str) -> Path:
    folder = checkpoint_dir(ws.root, name)
    folder.parent.mkdir(parents=True, exist_ok=True)  # as ws.path() did
    return folder


def save_checkpoint(ws: Workspace, lm: LoadedModel, name: str, *, metadata: dict[str, Any] | None = None) -> str:
    """Save the current weights as checkpoint `name` (replacing one of that name); return the new model key.

    Under several processes only the main one writes.
    """
    import safetensors.torch
    from peft import get_peft_model_state_dict

    from curation.model import forward
    from curation.model.distributed import World

    folder = _folder(ws, name)
    if not World.current().is_main:
        return lm.model_key
    tmp = folder.parent / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    try:
        if lm.is_lora:
            weights = tmp / "adapter.safetensors"
            state = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(lm.model).items()}
            safetensors.torch.save_file(state, weights)
            cfg = lm.model.peft_config["default"]
            lora = {"r": cfg.r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout,
                    "target_modules": cfg.target_modules if isinstance(cfg.target_modules, str)
                    else sorted(cfg.target_modules)}
        else:
            weights = tmp / "model.safetensors"
            safetensors.torch.save_model(forward.hf_model(lm), str(weights))  # handles tied embeddings
            lora = None
        digest = sha256_file(weights)
        key = f"{lm.base}::{name}@{digest[:12]}"
        meta = {"name": name, "base": lm.base, "kind": "lora" if lora else "full", "lora": lora,
                "weights": weights.name, "sha256": digest, "model_key": key, "parent_key": lm.model_key,
                "template": lm.template, "trust_remote_code": lm.trust_remote_code, "created": time.time(),
                "metadata": metadata or {}}
        (tmp / META).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        _publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lm.model_key = key
    return key


def _publish(tmp: Path, folder: Path) -> None:
    old = None
    if folder.exists():
        old = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.old"
        os.rename(folder, old)
    os.rename(tmp, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def checkpoint_info(ws: Workspace, name: str) -> dict[str, Any]:
    path = _folder(ws, name) / META
    if not path.exists():
        known = ", ".join(list_checkpoints(ws)) or "none"
        raise CurationError(f"no checkpoint {name!r} in {ws.root} (known: {known})")
    return json.loads(path.read_text(encoding="utf-8"))


def list_checkpoints(ws: Workspace) -> list[str]:
    root = checkpoints_root(ws.root)
    return sorted(p.name for p in root.iterdir() if (p / META).exists()) if root.exists() else []


def load_checkpoint(ws: Workspace, name: str, *, device: str | None = None, dtype: str | None = None) -> LoadedModel:
    """The base model with the checkpoint's weights applied, ready to score or to continue training."""
    import safetensors.torch

    from curation.model import forward
    from curation.model.loading import load_model

    info = checkpoint_info(ws, name)
    weights = _folder(ws, name) / info["weights"]
    if sha256_file(weights) != info["sha256"]:
        raise CurationError(f"{weights} does not match its recorded sha256: the checkpoint is damaged")
    lm = load_model(info["base"], device=device, dtype=dtype, trust_remote_code=info["trust_remote_code"],
                    template=info["template"])
    if info["kind"] == "lora":
        from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

        lm.model = get_peft_model(lm.model, LoraConfig(task_type="CAUSAL_LM", **info["lora"]))
        state = safetensors.torch.load_file(weights, device=str(lm.device))
        result = set_peft_model_state_dict(lm.model, state)
        unexpected = list(getattr(result, "unexpected_keys", None) or [])  # peft's result type varies by version
        if unexpected:
            raise CurationError(f"{weights} does not fit {info['base']}: unexpected {unexpected[:3]}")
    else:
        missing, unexpected = safetensors.torch.load_model(forward.hf_model(lm), weights, device=str(lm.device))
        if missing or unexpected:
            raise CurationError(f"{weights} does not fit {info['base']} (missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]})")
    lm.model.eval()
    lm.model_key = info["model_key"]
    return lm
