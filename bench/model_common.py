"""Shared bits of the model-engine benchmarks: real Dolly rows and writing figures into bench/README.md."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import readme_blocks  # bench/ is on sys.path: the scripts importing this run from it

from curation.records import Record, single_turn

ROOT = Path(__file__).resolve().parents[1]
DOLLY = ROOT.parent / "shared" / "data" / "dolly-15k" / "dolly-15k.jsonl"
README = ROOT / "bench" / "README.md"
SECTION = "## Model engine (issue 4)"


def dolly_records(n: int) -> list[Record]:
    out = []
    with open(DOLLY, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out.append(single_turn(row["instruction"], row["output"], input_text=row["input"]))
            if len(out) >= n:
                break
    return out


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} "
            f"threads, load average {load:.1f} at start, {time.strftime('%Y-%m-%d %H:%M')}")


def write_block(name: str, text: str) -> None:
    """Replace this script's block inside our README section (created if absent); other sections are untouched."""
    readme_blocks.write_block(SECTION, "model-engine", name, text, README)
