"""Near duplicates at scale: the exact blocked search against FAISS IVF, for the crossover in
curation.geometry.pair_search (APPROX_ABOVE) and the recall the issue asks of IVF (>= 0.99 against exact).

    .venv/bin/python bench/bench_dedup_scale.py --rows 100000 200000 --ivf-only 1000000

Vectors: bench_scale's synthetic pool (Dolly's real MiniLM prompt vectors, each variant with Gaussian noise:
cosine 0.97 to its original), so every Dolly prompt has rows / 14,989 near-copies. Threshold 0.85 (the scan's
floor). Each case runs in a fresh process (peak RSS = its VmHWM). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

FLOOR = 0.85


def vectors(rows: int) -> np.ndarray:
    from bench_scale import base_vectors, variant_vectors

    return variant_vectors(base_vectors("prompt"), np.arange(rows), seed=1)


def child(rows: int, method: str) -> dict:
    from geometry_report import peak_rss_mb

    from curation.geometry import dedup

    X = vectors(rows)
    start = time.perf_counter()
    i, j, _ = dedup.near_pairs(X, FLOOR, method=method, device="cpu" if method != "exact" else "torch")
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "pairs": int(len(i)), "rss_mb": peak_rss_mb()}
    if method == "exact":
        np.save(f"/tmp/dedup_exact_{rows}.npy", np.stack([np.minimum(i, j), np.maximum(i, j)]).astype(np.int64))
    elif Path(f"/tmp/dedup_exact_{rows}.npy").exists():
        ref = np.load(f"/tmp/dedup_exact_{rows}.npy")
        exact = set(zip(ref[0].tolist(), ref[1].tolist()))
        found = set(zip(np.minimum(i, j).tolist(), np.maximum(i, j).tolist()))
        out["recall"] = len(found & exact) / max(1, len(exact))
        out["extra"] = len(found - exact)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[100_000])
    ap.add_argument("--ivf-only", type=int, nargs="*", default=[])
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1])))
        return
    from geometry_report import machine

    print(f"Machine: {machine()}. Threshold {FLOOR}.\n")
    print("| rows | method | seconds | pairs | recall vs exact | extra pairs | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    cases = [(n, m) for n in args.rows for m in ("exact", "ivf")] + [(n, "ivf") for n in args.ivf_only]
    for rows, method in cases:
        done = subprocess.run([sys.executable, __file__, "--child", str(rows), method], capture_output=True,
                              text=True)
        if done.returncode:
            print(f"| {rows:,} | {method} | failed: {done.stderr.strip()[-200:]} | | | | |", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        recall = f"{r['recall']:.4f}" if "recall" in r else ""
        print(f"| {rows:,} | {method} | {r['seconds']:.1f} | {r['pairs']:,} | {recall} | {r.get('extra', '')} | "
              f"{r['rss_mb']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
