"""The default backend: every pass in this process, exactly as the library runs without a backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from curation.records import Record

Progress = Callable[[int, int, str], None]


class InProcess:
    kind = "in_process"

    def encode_fn(self, config: Any) -> None:
        """No hook: `embed_texts` loads its own Encoder."""
        return None

    def score_fn(self) -> None:
        """No hook: `score_samples` calls `score_records` itself."""
        return None

    def embed_records(self, lm: Any, records: Sequence[Record], *, pooling: str = "mean", max_length: int = 512,
                      progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        from curation.model.scoring import embed_records

        return embed_records(lm, records, pooling=pooling, max_length=max_length,  # type: ignore[arg-type]
                             progress=progress, should_stop=should_stop)
