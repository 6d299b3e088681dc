"""Import throughput and peak memory: the 50k-row Alpaca subset, and a synthetic 1M-row file.

Each import runs in a fresh process so its peak RSS (ru_maxrss) is its own.

    .venv/bin/python bench/bench_import.py              # Alpaca subset (+ Dolly)
    .venv/bin/python bench/bench_import.py --million    # also a generated 1,000,000-row JSONL
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

CHILD = """
import json, resource, sys, time
from curation.formats import importer
from curation.workspace import Workspace
t = time.perf_counter()
report = importer.import_source(Workspace(sys.argv[1]), sys.argv[2])
seconds = time.perf_counter() - t
print(json.dumps({"rows": report.rows_read, "new": report.new_samples, "seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", CHILD, str(Path(tmp) / "ws"), str(path)], cwd=ROOT,
                             capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = result["rows"] / result["seconds"]
    result["file_mb"] = path.stat().st_size / 2**20
    return result


def synthetic(path: Path, n: int) -> Path:
    rng = random.Random(0)
    words = "data model train sample select curate token answer question value river light green".split()
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(5, 60)))
            fh.write(json.dumps({"instruction": f"Task {i}: {text[:60]}", "input": "", "output": text}) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--million", action="store_true", help="also import a generated 1M-row file")
    args = parser.parse_args()
    cases = [("alpaca-52k-subset", DATA / "alpaca-52k-subset" / "alpaca-52k-subset.jsonl"),
             ("dolly-15k", DATA / "dolly-15k" / "dolly-15k.jsonl")]
    tmpdir = Path(tempfile.mkdtemp())
    if args.million:
        cases.append(("synthetic 1M rows", synthetic(tmpdir / "million.jsonl", 1_000_000)))
    print("| file | rows | MB | seconds | rows/s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for name, path in cases:
        started = time.time()
        r = run(path)
        print(f"| {name} | {r['rows']:,} | {r['file_mb']:.0f} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} |"
              f" {r['peak_rss_mb']:.0f} |", flush=True)
        del started


if __name__ == "__main__":
    main()
