"""Pools shipped inside the package (curation/formats/bundled/), importable by name with no network.

`python -m curation import dolly-15k` and the Start page's first card read the bundled copy: it is unpacked
once into the workspace (`<workspace>/bundled/<name>.jsonl`, atomically) and imported like any local file, so
its samples name that file as their source and re-importing costs nothing. Licences and attribution are in
curation/formats/bundled/README.md.
"""

from __future__ import annotations

import json
import lzma
import shutil
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from curation.records import Record
from curation.workspace.arrays import atomic_path
from curation.workspace.db import Workspace

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

    @property
    def path(self) -> Path:
        return BUNDLED_DIR / self.file


POOLS = {
    "dolly-15k": BundledPool(
        name="dolly-15k", file="dolly-15k.jsonl.xz", schema="alpaca", rows=14_989, title="Dolly-15k, bundled",
        licence="CC BY-SA 3.0, Databricks",
        description="14,989 human-written instructions and responses by Databricks employees (open and closed QA, "
                    "brainstorming, classification, summarization, extraction, creative writing), with natural "
                    "near-duplicates. Ships with the app: no network needed."),
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
