"""How a Ray worker gets the exact weights of a driver's `LoadedModel`, without the driver's memory.

Three ways, cheapest first: a base model by its name or folder; a workspace checkpoint by its folder (the
workspace must be on a filesystem every node sees, or on the one machine); otherwise (weights changed in
memory, e.g. learning percentage scoring between epochs) the model itself, shipped once per pass through
Ray's object store. Either way the worker's `model_key` is the driver's, so scores land under the same key.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from curation.errors import CurationError
from curation.model.loading import LoadedModel, dtype_name


def describe(lm: LoadedModel, ws_root: str | Path | None) -> dict[str, Any]:
    """A small, picklable description from which `load` rebuilds these weights on a worker."""
    common = {"model_key": lm.model_key, "dtype": dtype_name(lm.dtype)}
    if lm.model_key == lm.base:
        return {"kind": "name", "name": lm.base, "template": lm.template,
                "trust_remote_code": lm.trust_remote_code, **common}
    name = _checkpoint_of(lm.model_key, ws_root)
    if name is not None:
        return {"kind": "checkpoint", "root": str(Path(str(ws_root)).resolve()), "name": name, **common}
    import ray

    return {"kind": "object", "ref": ray.put(lm), **common}


def _checkpoint_of(model_key: str, ws_root: str | Path | None) -> str | None:
    """The workspace checkpoint holding exactly these weights (keys read "<base>::<name>@<digest>")."""
    if ws_root is None or "::" not in model_key:
        return None
    from curation.model.checkpoints import META, checkpoint_dir

    name = model_key.rsplit("::", 1)[1].rsplit("@", 1)[0]
    try:
        meta = checkpoint_dir(ws_root, name) / META
    except CurationError:
        return None
    if not meta.exists():
        return None
    import json

    return name if json.loads(meta.read_text(encoding="utf-8")).get("model_key") == model_key else None


def load(ref: dict[str, Any], device: str) -> LoadedModel:
    """The model `describe` described, on `device` (run inside a Ray actor)."""
    if ref["kind"] == "name":
        from curation.model.loading import load_model

        lm = load_model(ref["name"], device=device, dtype=ref["dtype"],
                        trust_remote_code=ref["trust_remote_code"], template=ref["template"])
    elif ref["kind"] == "checkpoint":
        from curation.model.checkpoints import load_checkpoint

        # load_checkpoint reads only `.root`: opening the Workspace here would run its crash clean-up
        # (leftover .tmp files) under the driver's feet
        lm = load_checkpoint(SimpleNamespace(root=Path(ref["root"])), ref["name"],  # type: ignore[arg-type]
                             device=device, dtype=ref["dtype"])
    elif ref["kind"] == "object":
        import ray
        import torch

        lm = ray.get(ref["ref"])
        lm.model.to(device)
        lm.device = torch.device(device)
    else:
        raise CurationError(f"unknown model reference {ref['kind']!r}")
    if lm.model_key != ref["model_key"]:
        raise CurationError(f"a worker loaded {lm.model_key!r}, not the driver's {ref['model_key']!r}")
    lm.model.eval()
    return lm
