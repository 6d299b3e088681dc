"""Where the real datasets are: ../shared/data beside the repository (never copied into the project)."""

from __future__ import annotations

import json
from pathlib import Path

from curation.records import Record, single_turn

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DOLLY = SHARED_DATA / "dolly-15k" / "dolly-15k.jsonl"
SELF_INSTRUCT = SHARED_DATA / "self-instruct-seed" / "self-instruct-seed.jsonl"


def alpaca_path() -> Path:
    folder = SHARED_DATA / "alpaca-52k-subset"
    return next(p for p in sorted(folder.iterdir()) if p.suffix in (".jsonl", ".json"))


def write_jsonl_head(src: Path, dst: Path, n: int) -> Path:
    """The first n lines of a JSONL file (Dolly's lines are in a pseudo-random order: a random sample)."""
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i >= n:
                break
            fout.write(line)
    return dst


def dolly_records(n: int, *, skip: int = 0) -> list[Record]:
    """The first n Dolly rows (after `skip`) as records, without a workspace."""
    out = []
    with open(DOLLY, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < skip:
                continue
            row = json.loads(line)
            out.append(single_turn(row["instruction"], row["output"], input_text=row["input"]))
            if len(out) >= n:
                break
    return out
