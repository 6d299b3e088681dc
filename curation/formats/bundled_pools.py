"""Pools shipped inside the package (curation/formats/bundled/), importable by name with no network.

`python -m curation import dolly-15k` and the Start page's first card read the bundled copy: it is unpacked
once into the workspace (`<workspace>/bundled/<name>.jsonl`, atomically) and imported like any local file, so
its samples name that file as their source and re-importing costs nothing. Licences and attribution are in
curation/formats/bundled/README.md.

A pool may also ship the default embedder's vectors of its samples (`<name>.minilm.npz`, made by
scripts/build_bundled_vectors.py in fp32, stored as float16: cosine >= 0.9999 to fp32, closer than the bf16
autocast the encoder itself uses on such CPUs). Importing the pool adds them to the workspace's embedding cache
when they were made by the installed default embedder (same cache spec), so a first map on a CPU takes
seconds instead of minutes of encoding. Anything else (another embedder, a newer package) embeds as usual.
"""

from __future__ import annotations

import json
import lzma
import shutil
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from curation.records import Record
from curation.workspace.arrays import atomic_path
from curation.workspace.db import Workspace

if TYPE_CHECKING:
    from curation.geometry.embed_cache import StoreSpec

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"


@dataclass(frozen=True)
class BundledPool:
    name: str
    file: str  # inside BUNDLED_DIR
    schema: str
    rows: int
    title: str
    licence: str
    description: str
    vectors: str | None = None  # inside BUNDLED_DIR: the default embedder's vectors of every sample

    @property
    def path(self) -> Path:
        return BUNDLED_DIR / self.file

    @property
    def vectors_path(self) -> Path | None:
        return None if self.vectors is None else BUNDLED_DIR / self.vectors


POOLS = {
    "dolly-15k": BundledPool(
        name="dolly-15k", file="dolly-15k.jsonl.xz", schema="alpaca", rows=14_989, title="Dolly-15k, bundled",
        licence="CC BY-SA 3.0, Databricks",
        description="14,989 human-written instructions and responses by Databricks employees (open and closed QA, "
                    "brainstorming, classification, summarization, extraction, creative writing), with natural "
                    "near-duplicates. Ships with the app, and with its map's embeddings: no network needed.",
        vectors="dolly-15k.minilm.npz"),
}
_ALIASES = {"dolly15k": "dolly-15k", "dolly_15k": "dolly-15k", "databricks-dolly-15k": "dolly-15k"}


def find(name: str) -> BundledPool | None:
    """The bundled pool called `name` (case-insensitive, a few spellings), or None."""
    key = name.strip().lower()
    return POOLS.get(_ALIASES.get(key, key))


def records(pool: BundledPool, n: int | None = None) -> list[Record]:
    """The pool's first `n` rows (every row when None) as records, read from the compressed file: no
    workspace (calibration's timing texts, the GPU check's rows)."""
    from curation.formats.schemas import to_record

    with lzma.open(pool.path, "rt", encoding="utf-8") as fh:
        return [to_record(json.loads(line), pool.schema) for line in islice(fh, n)]


def unpack(ws: Workspace, pool: BundledPool) -> Path:
    """The pool as a plain JSONL file inside the workspace, unpacked once (atomically: a crash leaves none)."""
    out = ws.root / "bundled" / pool.file.removesuffix(".xz")
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp, lzma.open(pool.path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return out


def save_vectors(pool: BundledPool, texts: list[str], vectors: np.ndarray, spec: StoreSpec) -> Path:
    """Write the pool's shipped vectors (scripts/build_bundled_vectors.py): text keys, float16 rows, the spec."""
    from curation.geometry.embed_cache import text_keys

    if pool.vectors_path is None:
        raise ValueError(f"{pool.name} names no vectors file")
    if vectors.shape != (len(texts), spec.dim):
        raise ValueError(f"expected vectors of shape ({len(texts)}, {spec.dim}), got {vectors.shape}")
    out = pool.vectors_path
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, keys=text_keys(texts), vectors=vectors.astype(np.float16), model=spec.model,
                            revision=spec.revision, max_length=spec.max_length, dim=spec.dim)
    return out


def _shipped_spec(data: Any) -> StoreSpec:
    from curation.geometry.embed_cache import StoreSpec

    return StoreSpec(model=str(data["model"]), revision=str(data["revision"]), max_length=int(data["max_length"]),
                     dim=int(data["dim"]))


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # unit again after the float16 rounding


def shipped_vectors(pool: BundledPool) -> tuple[StoreSpec, np.ndarray, np.ndarray] | None:
    """(the spec they were made with, uint64 text keys, float32 unit vectors), or None if the pool ships none."""
    path = pool.vectors_path
    if path is None or not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        return _shipped_spec(data), data["keys"].astype(np.uint64), _unit(data["vectors"])


def seed_vectors(ws: Workspace, pool: BundledPool) -> int:
    """Add the pool's shipped vectors to the workspace's cache when the installed default embedder made them;
    returns how many texts were new to the cache (0: none shipped, another embedder, or already there). The
    vectors are decompressed only when some are new: a re-import reads the spec and the keys alone."""
    from curation.errors import CurationError
    from curation.geometry.embed import store_spec
    from curation.geometry.embed_cache import EmbeddingStore

    path = pool.vectors_path
    if path is None or not path.exists():
        return 0
    with np.load(path, allow_pickle=False) as data:  # lazy: each array is read when first asked for
        spec = _shipped_spec(data)
        try:
            if store_spec() != spec:  # a newer embedder package or max length: these vectors are not its own
                return 0
        except (CurationError, OSError):  # no default embedder installed: nothing to seed
            return 0
        store = EmbeddingStore.for_workspace(ws, spec)
        keys = data["keys"].astype(np.uint64)
        new = ~store.contains(keys)
        if new.any():
            store.add(keys[new], _unit(data["vectors"][new]))
    return int(new.sum())
