"""The slices: a Dolly-15k pool and an Alpaca-subset pool (each in its own workspace) of rows that fit the max
length whole, and one evaluation file: held-out Dolly rows disjoint from the pool, then the self-instruct seed
tasks (its rows say which set they belong to)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.report.settings import ALPACA, DOLLY, SELF_INSTRUCT, Settings
from curation.records import Record

EVAL_SETS = {"heldout": "held-out Dolly", "self_instruct": "self-instruct seeds"}


@dataclass
class Pool:
    name: str  # "dolly" | "alpaca"
    title: str
    ws: object  # curation.workspace.Workspace
    records: list[Record]
    X: np.ndarray  # all-MiniLM-L6-v2 embeddings (the fixed reference embedder), row-aligned
    response_chars: np.ndarray
    read: dict = field(default_factory=dict)  # rows read from the file, rows that did not fit

    def __len__(self) -> int:
        return len(self.records)


def _lines(path: Path) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            yield i, json.loads(line)


def _fitting(path: Path, n: int, max_length: int, start: int = 0, exclude: frozenset = frozenset()) -> tuple:
    """(first n records from line `start` whose whole conversation fits max_length, lines read, lines too long)."""
    from curation.formats.schemas import to_record
    from curation.model import load_model
    from curation.model.formatting import OK, Formatter

    lm = load_model()
    fmt = Formatter(lm.tokenizer, lm.template, max_length)
    out: list[Record] = []
    too_long = read = 0
    for i, row in _lines(path):
        if i < start:
            continue
        if len(out) >= n:
            break
        read = i + 1
        rec = to_record(row, "alpaca")
        if rec.id in exclude:
            continue
        f = fmt.format([rec])[0]
        if f.status != OK or f.truncated:
            too_long += 1
            continue
        out.append(rec)
    return out, read, too_long


def load_pool(name: str, settings: Settings, cache: Path) -> Pool:
    """Import the slice into a workspace once (later runs reuse it) and embed it with the reference embedder."""
    from curation.formats import importer
    from curation.geometry.embed import embed_pool
    from curation.workspace import Workspace, samples

    path, n, title = (DOLLY, settings.dolly_rows, "Dolly-15k") if name == "dolly" else \
        (ALPACA, settings.alpaca_rows, "Alpaca-52k subset")
    ws = Workspace(cache / f"ws-{name}")
    info_path = cache / f"{name}-read.json"
    if samples.count(ws) == 0:
        recs, read, too_long = _fitting(path, n, settings.max_length)
        src = cache / f"{name}-{n}.jsonl"
        _write(src, recs)
        importer.import_source(ws, str(src))
        info_path.write_text(json.dumps({"read": read, "too_long": too_long}), encoding="utf-8")
    records = [r for _, r in samples.iter_records(ws)]
    X = embed_pool(ws)
    chars = np.array([len(r.response) for r in records], np.int64)
    read_info = json.loads(info_path.read_text(encoding="utf-8"))
    return Pool(name=name, title=f"{title}, {len(records)} rows that fit {settings.max_length} tokens (of its first "
                f"{read_info['read']})", ws=ws, records=records, X=X, response_chars=chars, read=read_info)


def eval_file(pool: Pool, settings: Settings, cache: Path) -> tuple[Path, dict[str, tuple[int, int]]]:
    """The evaluation file (held-out Dolly rows after the pool's that fit whole and are not in it, then the
    self-instruct seed tasks) and each set's [start, stop) rows in it."""
    from curation.formats.schemas import to_record

    path, meta = cache / "eval.jsonl", cache / "eval.json"
    if not path.exists():
        assert pool.name == "dolly", "the held-out rows follow the Dolly pool's"
        start = pool.read["read"]
        held, read, too_long = _fitting(DOLLY, settings.heldout_rows, settings.max_length, start,
                                        frozenset(r.id for r in pool.records))
        seeds = [to_record(row, "alpaca") for i, row in _lines(SELF_INSTRUCT) if i < settings.self_instruct_rows]
        meta.write_text(json.dumps({"heldout": [0, len(held)], "self_instruct": [len(held), len(held) + len(seeds)],
                                    "dolly_lines": [start, read], "too_long": too_long}), encoding="utf-8")
        _write(path, held + seeds)
    ranges = json.loads(meta.read_text(encoding="utf-8"))
    return path, {k: (int(ranges[k][0]), int(ranges[k][1])) for k in EVAL_SETS}


def _write(path: Path, records: list[Record]) -> None:
    from curation.formats.schemas import from_record

    text = "".join(json.dumps(from_record(r, "alpaca"), ensure_ascii=False) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")


def eval_info(cache: Path) -> dict:
    meta = cache / "eval.json"
    return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}
