"""Near-duplicate search over the Alpaca subset's prompt embeddings (43,598 x 384, all-MiniLM-L6-v2):
ours (exact blocked bf16 filter + float64 check) and IVF against FAISS's exact flat range search, which
is the reference for recall; peak memory per method (each in a fresh process); the threshold preview.

    .venv/bin/python bench/bench_dedup.py

The embeddings are made by bench/geometry_data.py (about a minute with curation.geometry.embed) and cached in
/tmp/bench_cache (or $BENCH_CACHE).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from geometry_data import CACHE, alpaca_prompt_embeddings  # noqa: E402
from geometry_report import machine, peak_rss_mb, run_case, write_block  # noqa: E402

THRESHOLD = 0.95


def search(method: str, X: np.ndarray, threshold: float):
    from curation.geometry import dedup

    return dedup.near_pairs(X, threshold, method=method)


def case(args) -> dict:
    X = np.load(CACHE / "alpaca_minilm.npy", allow_pickle=False)
    if args.method == "ours":  # warm torch's bf16 kernels on a small slice
        search("exact", X[:2000], args.threshold)
    before = peak_rss_mb()
    start = time.perf_counter()
    i, j, s = search({"ours": "exact", "faiss_flat": "flat", "ivf": "ivf"}[args.method], X, args.threshold)
    seconds = time.perf_counter() - start
    out = CACHE / f"pairs_{args.method}_{args.threshold}.npy"
    np.save(out, np.stack([i, j]).astype(np.int64))
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "before_mb": before, "pairs": int(len(i)),
            "data_mb": X.nbytes / 2**20, "file": str(out)}


def dolly_groups() -> list[str]:
    """All of Dolly-15k: the repeated questions (the README counts "why is the sky blue?" x8,
    "what is the meaning of life?" x9) must come out as groups."""
    from geometry_data import DOLLY, prompts, read_rows

    from curation.geometry import dedup
    from curation.geometry.embed import EmbedConfig, Encoder, embed_texts
    from curation.geometry.embed_cache import EmbeddingStore

    texts = prompts(read_rows(DOLLY))
    encoder = Encoder(EmbedConfig())
    start = time.perf_counter()
    X = embed_texts(texts, EmbeddingStore(CACHE / "store" / encoder.spec.folder_name, encoder.spec), encoder=encoder)
    embed_s = time.perf_counter() - start
    start = time.perf_counter()
    result = dedup.scan(X, texts, floor=0.9)
    scan_s = time.perf_counter() - start
    groups = result.groups(0.95)
    lines = ["", f"Dolly-15k, all {len(texts):,} prompts (embedding {embed_s:.0f} s, cached after the first run; scan "
             f"{scan_s:.1f} s): at cosine >= 0.95, {len(groups):,} groups holding {sum(map(len, groups)):,} samples.\n",
             "| question | rows with this exact prompt | size of its group at 0.95 | other members (first 3) |",
             "|---|---|---|---|"]
    for question in ("Why is the sky blue?", "What is the meaning of life?"):
        rows = [i for i, t in enumerate(texts) if t.strip().lower().rstrip("?") == question.lower().rstrip("?")]
        group = next((g for g in groups if rows and rows[0] in g), np.array([], np.int64))
        others = [texts[i] for i in group if i not in rows][:3]
        lines.append(f"| {question} | {len(rows)} | {len(group)} | {'; '.join(o[:40] for o in others) or '-'} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="store_true")
    ap.add_argument("--method")
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(args)))
        return
    X = alpaca_prompt_embeddings()
    lines = [f"Machine: {machine()}. Data: {len(X):,} Alpaca prompts (instruction + input), all-MiniLM-L6-v2, "
             "max 256 tokens, made with `curation.geometry.embed` by `bench/geometry_data.py`; FAISS and torch use "
             "both cores.\n",
             "| threshold | method | seconds | pairs | recall vs FAISS flat | extra pairs | peak RSS MB "
             "| RSS above data+libs MB |",
             "|---|---|---|---|---|---|---|---|"]
    for threshold in (0.95, 0.9):
        results = {}
        for method in ("faiss_flat", "ours", "ivf"):
            results[method] = run_case("bench_dedup.py", "--method", method, "--threshold", str(threshold))
            print(method, threshold, results[method], flush=True)
        ref = {tuple(p) for p in np.load(results["faiss_flat"]["file"]).T.tolist()}
        for method, r in results.items():
            got = {tuple(p) for p in np.load(r["file"]).T.tolist()}
            recall = len(got & ref) / max(1, len(ref))
            lines.append(f"| {threshold} | {method} | {r['seconds']:.2f} | {r['pairs']:,} | {recall:.4f} | "
                         f"{len(got - ref)} | {r['rss_mb']:.0f} | {r['rss_mb'] - r['before_mb']:.0f} |")
    from geometry_data import ALPACA, prompts, read_rows

    from curation.geometry import dedup

    texts = prompts(read_rows(ALPACA))
    start = time.perf_counter()
    result = dedup.scan(X, texts, floor=0.85)
    scan_s = time.perf_counter() - start
    thresholds = [0.85, 0.9, 0.95, 0.97, 0.99, 1.0]
    start = time.perf_counter()
    counts = result.preview(thresholds)
    preview_ms = (time.perf_counter() - start) * 1e3
    lines += ["", f"Threshold preview from one scan at floor 0.85 (scan {scan_s:.1f} s incl. exact-text pass; "
              f"all {len(thresholds)} counts in {preview_ms:.0f} ms):\n",
              "| threshold | pairs | groups | samples in groups | would drop |", "|---|---|---|---|---|"]
    lines += [f"| {c.threshold} | {c.pairs:,} | {c.groups:,} | {c.in_groups:,} | {c.dropped:,} |" for c in counts]
    lines += dolly_groups()
    write_block("dedup", "### Near duplicates (`bench/bench_dedup.py`)\n\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
