"""Data the geometry benchmarks share: real texts from ../shared/data and their cached embeddings.

The Alpaca-subset embeddings (43,598 prompts, all-MiniLM-L6-v2, the dedup default `field="prompt"`) are
made once with `curation.geometry.embed` and cached outside the repo (default /tmp/bench_cache, or $BENCH_CACHE);
the embedding cache makes an interrupted run resume. Regenerate with `python bench/geometry_data.py`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
ALPACA = DATA / "alpaca-52k-subset" / "alpaca-52k-subset.jsonl"
DOLLY = DATA / "dolly-15k" / "dolly-15k.jsonl"
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/bench_cache"))


def read_rows(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def prompts(rows: list[dict]) -> list[str]:
    from curation.records import join_prompt

    return [join_prompt(r["instruction"], r["input"]) for r in rows]


def full_texts(rows: list[dict]) -> list[str]:
    """What `Record.text()` gives for a single-turn row: prompt, newline, response."""
    return [p + "\n" + r["output"] for p, r in zip(prompts(rows), rows)]


def alpaca_prompt_embeddings(progress: bool = True) -> np.ndarray:
    """float32 [43598, 384] unit rows; embedded on first use (minutes), then read from the cache."""
    target = CACHE / "alpaca_minilm.npy"
    if target.exists():
        return np.load(target, allow_pickle=False)
    from curation.cli import ProgressPrinter
    from curation.geometry.embed import EmbedConfig, Encoder, embed_texts
    from curation.geometry.embed_cache import EmbeddingStore
    from curation.workspace.arrays import save_array

    encoder = Encoder(EmbedConfig())
    store = EmbeddingStore(CACHE / "store" / encoder.spec.folder_name, encoder.spec)
    start = time.perf_counter()
    X = embed_texts(prompts(read_rows(ALPACA)), store, encoder=encoder,
                    progress=ProgressPrinter("embed alpaca prompts") if progress else None)
    print(f"embedded {len(X)} Alpaca prompts in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    save_array(target, X)
    return X


if __name__ == "__main__":
    print(alpaca_prompt_embeddings().shape)
