"""The slices: a Dolly-15k pool and an Alpaca-subset pool (each in its own workspace), a held-out Dolly split
disjoint from the pool, and the self-instruct seed set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.report.settings import ALPACA, DOLLY, SELF_INSTRUCT, Settings
from curation.records import Record


@dataclass
class Pool:
    name: str  # "dolly" | "alpaca"
    title: str
    ws: object  # curation.workspace.Workspace
    records: list[Record]
    X: np.ndarray  # all-MiniLM-L6-v2 embeddings (the fixed reference embedder), row-aligned
    response_chars: np.ndarray

    def __len__(self) -> int:
        return len(self.records)


def _rows(path: Path, start: int, stop: int) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= stop:
                break
            if i >= start:
                out.append(json.loads(line))
    return out


def load_pool(name: str, settings: Settings, cache: Path) -> Pool:
    """Import the slice into a workspace once (later runs reuse it) and embed it with the reference embedder."""
    from curation.formats import importer
    from curation.geometry.embed import embed_pool
    from curation.workspace import Workspace, samples

    path, n, title = (DOLLY, settings.dolly_rows, "Dolly-15k") if name == "dolly" else \
        (ALPACA, settings.alpaca_rows, "Alpaca-52k subset")
    ws = Workspace(cache / f"ws-{name}")
    if samples.count(ws) == 0:
        src = cache / f"{name}-{n}.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in _rows(path, 0, n)), encoding="utf-8")
        importer.import_source(ws, str(src))
    records = [r for _, r in samples.iter_records(ws)]
    X = embed_pool(ws)
    chars = np.array([len(r.response) for r in records], np.int64)
    return Pool(name=name, title=f"{title}, first {n} rows ({len(records)} samples)", ws=ws, records=records,
                X=X, response_chars=chars)


def heldout(pool: Pool, settings: Settings) -> list[Record]:
    """Dolly rows right after the pool's, minus any whose content also occurs in the pool."""
    from curation.formats.schemas import to_record

    seen = {r.id for r in pool.records}
    start = settings.dolly_rows
    rows = _rows(DOLLY, start, start + settings.heldout_rows)
    return [rec for rec in (to_record(r, "alpaca") for r in rows) if rec.id not in seen]


def self_instruct(settings: Settings) -> list[Record]:
    from curation.formats.schemas import to_record

    rows = _rows(SELF_INSTRUCT, 0, 10**9)
    n = settings.self_instruct_rows or len(rows)
    keep = np.unique(np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int))
    return [to_record(rows[i], "alpaca") for i in keep]
