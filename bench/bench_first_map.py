"""Time from "Compute the map" to the first map a new user sees, with a fresh worker process.

The Explore page's button queues an embed job, a PCA first-look job and the UMAP job (curation/services/
map_queue.py). This script does the same on a new workspace holding the first N rows of the bundled Dolly-15k,
starts a fresh `python -m curation worker` (a new process: the embedder loads, umap imports and compiles as they
would after a server start), and polls the workspace the way the page does (`maps.current`), printing when the
PCA first look and the UMAP map became visible.

    .venv/bin/python bench/bench_first_map.py --rows 300 14989

For a "fresh venv" figure, run it with the interpreter of a new virtual environment (numba's on-disk caches of
umap empty): `NEW_VENV/bin/python bench/bench_first_map.py`; the figure depends on it (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geometry_report import machine  # noqa: E402
from readme_blocks import write_block  # noqa: E402

from curation.formats import bundled_pools, importer  # noqa: E402
from curation.geometry import maps  # noqa: E402
from curation.services import jobs, map_queue  # noqa: E402
from curation.workspace import Workspace, samples  # noqa: E402


def one(rows: int, timeout_s: float) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        full = bundled_pools.unpack(ws, bundled_pools.POOLS["dolly-15k"])
        head = Path(tmp) / "pool.jsonl"
        with open(full, encoding="utf-8") as src, open(head, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i >= rows:
                    break
                dst.write(line)
        importer.import_source(ws, str(head))
        ids = samples.ids(ws)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        map_queue.queue_map(ws, preview=rows > 20_000)  # the page's default toggle
        worker = subprocess.Popen([sys.executable, "-m", "curation", "-w", str(ws.root), "worker", "--idle-exit", "3"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        first = umap = None
        try:
            while time.perf_counter() - started < timeout_s and umap is None:
                shown = maps.current(ws, ids)
                if shown is not None:
                    elapsed = time.perf_counter() - started
                    first = first if first is not None else elapsed
                    if shown.meta["method"] == "umap":
                        umap = elapsed
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(10)
        spans = {f"{j.kind} {j.params.get('map', {}).get('method', '')}".strip(): round(j.finished - j.started, 1)
                 for j in jobs.list_jobs(ws) if j.started and j.finished}
        return {"rows": rows, "first": first, "umap": umap, "jobs": spans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[300, 14_989])
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--label", default="this venv", help="what the interpreter is, for the table")
    args = parser.parse_args()
    results = [one(n, args.timeout) for n in args.rows]
    fmt = lambda s: "-" if s is None else f"{s:.1f}"  # noqa: E731
    lines = [f"Machine: {machine()}. Interpreter: {args.label}. Command: `python bench/bench_first_map.py --rows "
             f"{' '.join(map(str, args.rows))}`.\n",
             "| pool | first map shown (PCA), s | UMAP map shown, s | job seconds (embed, PCA, UMAP) |",
             "|---|---|---|---|"]
    lines += [f"| {r['rows']:,} Dolly rows | {fmt(r['first'])} | {fmt(r['umap'])} | "
              f"{', '.join(f'{k} {v}' for k, v in r['jobs'].items())} |" for r in results]
    text = "\n".join(lines)
    print(text)
    write_block("## First map (issue 14)", "first-map", args.label.replace(" ", "-"), text)


if __name__ == "__main__":
    main()
