"""Shared fixtures. Real data comes from ../shared/data (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DOLLY = SHARED_DATA / "dolly-15k" / "dolly-15k.jsonl"
SELF_INSTRUCT = SHARED_DATA / "self-instruct-seed" / "self-instruct-seed.jsonl"


def alpaca_path() -> Path:
    folder = SHARED_DATA / "alpaca-52k-subset"
    return next(p for p in sorted(folder.iterdir()) if p.suffix in (".jsonl", ".json"))


@pytest.fixture
def ws(tmp_path):
    from curation.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


def write_jsonl_head(src: Path, dst: Path, n: int) -> Path:
    """The first n lines of a JSONL file (Dolly's lines are in a pseudo-random order: a random sample)."""
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i >= n:
                break
            fout.write(line)
    return dst
