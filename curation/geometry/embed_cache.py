"""The embedding cache: float32 vectors on disk keyed by (model, revision, max length) and by text hash.

Layout inside the workspace::

    embeddings/<model-slug>-<spec hash>/meta.json          what these vectors are (model, revision, ...)
    embeddings/<model-slug>-<spec hash>/<shard>.vec.npy    float32 [n, d], unit rows
    embeddings/<model-slug>-<spec hash>/<shard>.keys.npy   uint64 [n], the hash of each row's text

A shard is published by its keys file, written after its vectors: a crash between the two leaves an
orphan `.vec.npy` that nobody reads. So an interrupted embedding keeps every shard it finished, and the
next run embeds only texts whose hash no shard holds (an unchanged pool costs nothing, a grown pool
embeds its new rows). Keying by the text itself means a change of the text template re-embeds on its own.
Shard names are random, so two processes embedding at once never overwrite each other (at worst they
store a text twice, and lookups take the first copy).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from curation.errors import CurationError
from curation.workspace.arrays import atomic_write_text, load_array, save_array

if TYPE_CHECKING:
    from curation.workspace.db import Workspace


@dataclass(frozen=True)
class StoreSpec:
    """What a set of vectors depends on besides the text."""

    model: str  # model name or resolved local path
    revision: str  # commit hash, package version or content fingerprint
    max_length: int  # tokens kept per text
    dim: int

    @property
    def folder_name(self) -> str:
        digest = hashlib.sha256(f"{self.model}\n{self.revision}\n{self.max_length}".encode()).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model.rstrip("/").split("/")[-1])[:40]
        return f"{slug}-{digest}"


def text_keys(texts: Iterable[str]) -> np.ndarray:
    """64-bit hash of each text (blake2b): the cache key. Collisions are negligible below 10^8 texts."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little") for t in texts),
        dtype=np.uint64,
    )


class EmbeddingStore:
    """Vectors of one `StoreSpec`, in append-only shards. Cheap to open; reads shard keys lazily."""

    def __init__(self, folder: str | Path, spec: StoreSpec):
        self.folder = Path(folder)
        self.spec = spec
        self.folder.mkdir(parents=True, exist_ok=True)
        meta_path = self.folder / "meta.json"
        meta = asdict(spec)
        if meta_path.exists():
            stored = json.loads(meta_path.read_text(encoding="utf-8"))
            if stored != meta:
                raise CurationError(f"embedding cache {self.folder} holds {stored}, not {meta}; remove the folder")
        else:
            atomic_write_text(meta_path, json.dumps(meta, indent=1))
        self._index: tuple[np.ndarray, np.ndarray, np.ndarray, list[Path]] | None = None

    @classmethod
    def for_workspace(cls, ws: Workspace, spec: StoreSpec) -> EmbeddingStore:
        return cls(ws.path("embeddings", spec.folder_name, "meta.json").parent, spec)

    # -- reading -----------------------------------------------------------------------------------
    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("*.keys.npy"))

    def _load_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Path]]:
        """Sorted keys with the (shard, row) holding each; refreshed when a shard appears."""
        shards = self._shards()
        if self._index is not None and self._index[3] == shards:
            return self._index
        keys, shard_of, row_of = [], [], []
        for s, path in enumerate(shards):
            k = load_array(path)
            keys.append(k)
            shard_of.append(np.full(len(k), s, dtype=np.int32))
            row_of.append(np.arange(len(k), dtype=np.int64))
        all_keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        order = np.argsort(all_keys, kind="stable")  # stable: the first shard's copy of a key wins
        shard = np.concatenate(shard_of)[order] if keys else np.zeros(0, np.int32)
        row = np.concatenate(row_of)[order] if keys else np.zeros(0, np.int64)
        self._index = (all_keys[order], shard, row, shards)
        return self._index

    def __len__(self) -> int:
        return len(np.unique(self._load_index()[0]))

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Boolean mask: which keys have a stored vector."""
        sorted_keys = self._load_index()[0]
        pos = np.searchsorted(sorted_keys, keys)
        pos = np.minimum(pos, max(len(sorted_keys) - 1, 0))
        return (sorted_keys[pos] == keys) if len(sorted_keys) else np.zeros(len(keys), bool)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """float32 [len(keys), dim], in the order of `keys`; every key must be stored."""
        sorted_keys, shard, row, shards = self._load_index()
        keys = np.asarray(keys, dtype=np.uint64)
        found = self.contains(keys)
        if not found.all():
            raise CurationError(f"{int((~found).sum())} texts are not embedded yet in {self.folder}")
        pos = np.searchsorted(sorted_keys, keys)
        out = np.empty((len(keys), self.spec.dim), dtype=np.float32)
        for s in np.unique(shard[pos]):
            take = np.flatnonzero(shard[pos] == s)
            vectors = load_array(_vec_path(shards[s]), mmap=True)
            out[take] = vectors[row[pos[take]]]
        return out

    # -- writing -----------------------------------------------------------------------------------
    def add(self, keys: Sequence[int] | np.ndarray, vectors: np.ndarray) -> Path:
        """Store one shard (vectors first, then the keys file that publishes it)."""
        keys = np.asarray(keys, dtype=np.uint64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.spec.dim):
            raise ValueError(f"expected vectors of shape ({len(keys)}, {self.spec.dim}), got {vectors.shape}")
        name = uuid.uuid4().hex[:16]
        save_array(self.folder / f"{name}.vec.npy", vectors)
        keys_path = self.folder / f"{name}.keys.npy"
        save_array(keys_path, keys)
        return keys_path


def _vec_path(keys_path: Path) -> Path:
    return keys_path.with_name(keys_path.name.replace(".keys.npy", ".vec.npy"))
