"""Loader throughput and peak memory on 1M-row files of every format: proof that nothing is read whole.

Each read runs in a fresh process (rows -> to_record, no workspace) so its peak RSS (ru_maxrss) is its
own; the file sizes are printed beside it. Files are generated once under $BENCH_CACHE (default
/tmp/bench_cache).

    flock /tmp/cpu.lock .venv/bin/python bench/bench_loaders.py            # 1,000,000 rows
    flock /tmp/cpu.lock .venv/bin/python bench/bench_loaders.py --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("BENCH_CACHE", "/tmp/bench_cache"))
FORMATS = ("jsonl", "json", "csv", "parquet")

CHILD = """
import json, resource, sys, time
from curation.formats.loaders import Row, read_rows
from curation.formats.schemas import to_record
t = time.perf_counter()
rows = problems = 0
for item in read_rows(sys.argv[1]):
    if isinstance(item, Row):
        to_record(item.data, "alpaca")
        rows += 1
    else:
        problems += 1
print(json.dumps({"rows": rows, "problems": problems, "seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _rows(n: int):
    rng = random.Random(0)
    words = "the of and to in is was for on with as by at from data model train test answer".split()
    for i in range(n):
        text = " ".join(rng.choices(words, k=30))
        yield {"id": f"r{i}", "instruction": f"Question {i}: {text[:60]}?", "input": "", "output": text}


def generate(fmt: str, n: int) -> Path:
    path = CACHE / f"loaders-{n}.{fmt}"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    if fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in _rows(n))
    elif fmt == "json":
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("[\n")
            for i, r in enumerate(_rows(n)):
                f.write((",\n" if i else "") + json.dumps(r))
            f.write("\n]\n")
    elif fmt == "csv":
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["id", "instruction", "input", "output"])
            writer.writeheader()
            writer.writerows(_rows(n))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = _rows(n)
        schema = pa.schema([(k, pa.string()) for k in ("id", "instruction", "input", "output")])
        with pq.ParquetWriter(tmp, schema) as w:
            while batch := [r for _, r in zip(range(100_000), rows, strict=False)]:
                w.write_table(pa.Table.from_pylist(batch))
    os.replace(tmp, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    args = parser.parse_args()
    print("| format | rows | file MB | seconds | rows/s | peak RSS MB |\n|---|---|---|---|---|---|")
    for fmt in args.formats:
        path = generate(fmt, args.rows)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True,
                             text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        r = json.loads(out.stdout.strip().splitlines()[-1])
        assert r["rows"] == args.rows and r["problems"] == 0, r
        print(f"| {fmt} | {r['rows']:,} | {path.stat().st_size / 2**20:.0f} | {r['seconds']:.1f} | "
              f"{r['rows'] / r['seconds']:,.0f} | {r['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
