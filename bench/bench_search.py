"""Text search and deep pages on a large pool: the full-text index against the LIKE substring search.

    flock /tmp/cpu.lock .venv/bin/python bench/bench_search.py [--rows 1000000] [--workspace DIR] [--no-write]

The pool is bench_app.py's synthetic one (Dolly's rows, each repeat tagged so every row is a distinct sample).
An existing workspace given with --workspace is reused (and migrated, which is timed: a workspace made before
the index gets it on first open). Figures are the best of 3 (ms) and go into bench/README.md ("Search").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_app import synthetic_pool  # noqa: E402
from readme_blocks import write_block  # noqa: E402

from curation.formats import importer  # noqa: E402
from curation.services import browse  # noqa: E402
from curation.workspace import Workspace  # noqa: E402

QUERIES = ("python code", "capital", "what is the")


def best_ms(fn, *args, repeats: int = 3, **kwargs) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path, help="reuse this workspace (made by an earlier run)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_search_"))
    root = args.workspace or folder / "ws"
    fresh = not (root.exists() and any(root.iterdir()))
    start = time.perf_counter()
    ws = Workspace(root)
    opened = time.perf_counter() - start
    if fresh:
        source = synthetic_pool(folder, args.rows)
        start = time.perf_counter()
        importer.import_source(ws, str(source))
        print(f"import of {args.rows:,} rows (index included): {time.perf_counter() - start:.1f} s", flush=True)
    rows = [f"Pool: {ws.scalar('SELECT COUNT(*) FROM samples'):,} samples; open (and migrate, for a workspace "
            f"made before the index): {opened:.1f} s. Best of 3, ms.", "",
            "| query | matches (words / substrings) | count: words | count: LIKE | page 1: words | "
            "page 1: relevance | page 1: LIKE |", "|---|---|---|---|---|---|---|"]
    for text in QUERIES:
        words, like = browse.Filter(text=text), browse.Filter(text=text, match="substring")
        row = [f"`{text}`", f"{browse.count(ws, words):,} / {browse.count(ws, like):,}",
               *(f"{best_ms(fn, ws, flt, **kw):.0f}" for fn, flt, kw in (
                   (browse.count, words, {}), (browse.count, like, {}), (browse.page, words, {}),
                   (browse.page, words, {"order": "relevance"}), (browse.page, like, {})))]
        rows.append("| " + " | ".join(row) + " |")
        print(rows[-1], flush=True)
    n = int(ws.scalar("SELECT COUNT(*) FROM samples"))
    rows += ["", "| page at offset | row order | longest response | pending only |", "|---|---|---|---|"]
    for offset in (0, n // 2, max(0, n - 1000)):
        times = [best_ms(browse.page, ws, flt, offset=offset, limit=50, order=order)
                 for order, flt in (("row", browse.Filter()), ("longest response", browse.Filter()),
                                    ("row", browse.Filter(statuses=("pending",))))]
        rows.append(f"| {offset:,} | " + " | ".join(f"{t:.0f}" for t in times) + " |")
        print(rows[-1], flush=True)
    text = (f"`flock /tmp/cpu.lock .venv/bin/python bench/bench_search.py --rows {args.rows}` — machine: "
            f"{os.cpu_count()} cores.\n\n" + "\n".join(rows))
    print(text)
    if not args.no_write:
        write_block("## Search (issue 12)", "search", "fts", text)


if __name__ == "__main__":
    main()
