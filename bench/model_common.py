"""Shared bits of the model-engine benchmarks: real Dolly rows and writing figures into bench/README.md."""

from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path

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
    start, end = f"<!-- model-engine:{name} -->", f"<!-- /model-engine:{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    content = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    if SECTION not in content:
        content = content.rstrip() + f"\n\n{SECTION}\n\n"
    head, rest = content.split(SECTION, 1)
    nxt = re.search(r"^## ", rest, flags=re.M)
    body, tail = (rest[: nxt.start()], rest[nxt.start():]) if nxt else (rest, "")
    if start in body:
        body = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _m: block, body, flags=re.S)
    else:
        body = body.rstrip() + "\n\n" + block + "\n"
    README.write_text(head + SECTION + body.rstrip() + "\n\n" + tail.lstrip(), encoding="utf-8")
