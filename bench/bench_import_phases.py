"""Import throughput split into its phases (bench/bench_import.py times whole imports): parsing rows into the
stage (by a process per core for a large JSONL file: curation.formats.parallel_jsonl), the merge into the
workspace (after which the pool is usable), and the wait after it for the search index, which is built from the
stage on another thread while the merge runs (curation.workspace.stage_indexer).

    .venv/bin/python bench/bench_import_phases.py --rows 100000 300000 1000000

Pool: bench_app.synthetic_pool (Dolly-15k's rows repeated with a variant tag: every row a distinct sample with
Dolly's lengths), written once under $BENCH_CACHE. Each size is imported into a new workspace in a fresh
process; the phase boundaries are the importer's own progress messages ("merging into the workspace"). Inside the
merge, the statements on the workspace's connection are timed through sqlite3's trace callback. Each child runs
through `python -c`, as `python -m curation import` does not re-run a script in its parsing workers (a child
started as a script file would parse in one process). Prints a Markdown table; writes nothing else.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from geometry_data import CACHE  # noqa: E402
from geometry_report import machine, peak_rss_mb  # noqa: E402

STATEMENTS = {"INSERT INTO samples(": "samples insert", "INSERT OR IGNORE INTO occurrences": "occurrences",
              "COMMIT": "commit"}


def child(rows: int) -> dict:
    from bench_app import synthetic_pool

    from curation.formats import parallel_jsonl
    from curation.formats.importer import import_source
    from curation.workspace import Workspace

    pool = CACHE / f"synthetic-{rows}.jsonl"
    if not pool.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        synthetic_pool(CACHE, rows)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        ws = Workspace(Path(scratch) / "ws")
        conn = ws.connect()
        spent: dict[str, float] = {}
        current: list = [None, 0.0]

        def trace(statement: str) -> None:
            now = time.perf_counter()
            if statement.startswith("--"):  # a statement nested in the current one (FTS5's own writes)
                return
            if current[0] is not None:
                spent[current[0]] = spent.get(current[0], 0.0) + now - current[1]
            current[0] = next((name for start, name in STATEMENTS.items() if statement.startswith(start)), "other")
            current[1] = now

        conn.set_trace_callback(trace)
        marks: dict[str, float] = {}
        at_mark: dict[str, dict[str, float]] = {}

        def mark(done: int, of: int, what: str) -> None:
            if what not in marks:
                marks[what], at_mark[what] = time.perf_counter(), dict(spent)

        started = time.perf_counter()
        import_source(ws, str(pool), progress=mark)
        total = time.perf_counter() - started
        trace("SELECT 1")
        conn.set_trace_callback(None)
        ws.close()
        shutil.rmtree(Path(scratch) / "ws", ignore_errors=True)
    merge_start = marks.get("merging into the workspace", started + total)
    index_start = marks.get("indexing for search", started + total)
    merged = at_mark.get("indexing for search", spent)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the parsing workers (KiB on Linux)
    return {"rows": rows, "total_s": total, "parse_s": merge_start - started, "merge_s": index_start - merge_start,
            "index_s": started + total - index_start, "usable_s": index_start - started, "rss_mb": peak_rss_mb(),
            "workers_rss_mb": children, "workers": parallel_jsonl.workers() if parallel_jsonl.applies(pool, "jsonl")
            else 1, **{f"{name}_s": merged.get(name, 0.0) for name in STATEMENTS.values()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000])
    ap.add_argument("--child", type=int)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    print(f"Machine: {machine()}.\n")
    print("| rows | usable after s | rows/s | parse + stage s (processes) | merge s | samples insert s | occurrences s"
          " | merge commit s | search index after the merge s | whole import s | whole rows/s"
          " | peak RSS MB (a worker) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rows in args.rows:
        code = (f"import json, sys; sys.path.insert(0, {str(BENCH)!r}); import bench_import_phases as b;"
                f" print(json.dumps(b.child({rows})))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {rows:,} | {r['usable_s']:.1f} | {rows / r['usable_s']:,.0f} | {r['parse_s']:.1f} ({r['workers']}) | "
              f"{r['merge_s']:.1f} | {r['samples insert_s']:.1f} | {r['occurrences_s']:.1f} | {r['commit_s']:.1f} | "
              f"{r['index_s']:.1f} | {r['total_s']:.1f} | {rows / r['total_s']:,.0f} | {r['rss_mb']:.0f}"
              f" ({r['workers_rss_mb']:.0f}) |", flush=True)


if __name__ == "__main__":
    main()
