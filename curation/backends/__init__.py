"""Backends for the per-sample passes (sentence embedding, LM scoring and pooled states).

`resolve_backend(config)` gives the in-process backend (the default) or the Ray Data backend; both hand
results to the workspace stores through the same hooks (`embed_texts(encode=...)`,
`score_samples(compute=...)`), so a run can mix backends and resume on either. Ray is imported only when
the Ray backend is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from curation.backends.config import BackendConfig, add_ray_arguments, from_args


class Backend(Protocol):
    kind: str

    def encode_fn(self, config: Any) -> Any: ...  # a texts -> vectors function for embed_texts, or None

    def score_fn(self) -> Any: ...  # a score_records stand-in for score_samples, or None

    def embed_records(self, lm: Any, records: Any, *, pooling: str = "mean", max_length: int = 512,
                      progress: Any = None, should_stop: Any = None) -> Any: ...


def resolve_backend(config: BackendConfig = BackendConfig(), *, ws_root: str | Path | None = None) -> Backend:
    """The backend `config` names. `ws_root` lets Ray workers load workspace checkpoints from disk."""
    if config.kind == "ray":
        from curation.backends.ray_data import RayBackend

        return RayBackend(config, ws_root)
    from curation.backends.in_process import InProcess

    return InProcess()


__all__ = ["Backend", "BackendConfig", "add_ray_arguments", "from_args", "resolve_backend"]
