"""Section 5: where the time goes (per method, from the TimedEngine figures), the machine, and the earlier
issues' benchmark figures copied from bench/README.md (not re-run)."""

from __future__ import annotations

import os
import platform
import time

from bench.report.selections import CATEGORIES

TIMED_METHODS = ("random", "cluster_random", "longest", "kcenter", "static_ifd", "iterit", "diverse_evol",
                 "learning_pct")


def machine() -> dict:
    import numpy as np
    import torch
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas_name = f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        blas_name = "unknown"
    pools = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads, "
             f"{p.get('threading_layer', p.get('user_api'))})" for p in threadpool_info()]
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "numpy_blas": blas_name, "threadpools": pools, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def method_rows(results: dict, budget: int) -> list[dict]:
    """One row per method at `budget` (DiverseEvol and learning percentage: their one training run)."""
    rows = []
    for method in TIMED_METHODS:
        runs = results.get(method, {})
        run = (runs.get(budget) or [None])[0]
        if run is None:
            continue
        s = run["seconds"]
        scored = run["rows"].get("score", 0)
        embedded = run["rows"].get("embed_model", 0)
        rows.append({"method": method, "budget": run["budget"], "wall": run["wall"],
                     **{c: s.get(c, 0.0) for c in (*CATEGORIES, "selection")},
                     "scored": scored, "scored_per_s": scored / s["score"] if s.get("score", 0) > 0.5 else None,
                     "embedded_per_s": embedded / s["embed_model"] if s.get("embed_model", 0) > 0.5 else None,
                     "trained_sample_epochs": run["rows"].get("train", 0), "resumed": run.get("resumed", False)})
    return rows


# Figures from bench/README.md (earlier issues), copied with their section; see that file for the commands.
EARLIER = [
    ("Import (issue 2)", "alpaca-52k-subset import, 43,598 rows", "2.6 s (17,071 rows/s), peak RSS 33 MB"),
    ("Import (issue 2)", "synthetic 1M rows import", "83.2 s (12,025 rows/s), peak RSS 34 MB"),
    ("Geometry (issue 3): K-Center", "N = 10k, k = 2,000: ours vs DiverseEvol-style dense",
     "0.29 s vs 56.7 s (197x), 0.27 vs 1.4 GB"),
    ("Geometry (issue 3): K-Center", "N = 200k, k = 2,000 (int8 shadow)", "7.90 s, 0.48x the float32 bandwidth bound"),
    ("Geometry (issue 3): Vendi", "N = 52k (random), N = 43.6k Alpaca prompts", "0.17 s, 0.14 s"),
    ("Geometry (issue 3): near duplicates", "Alpaca 43.6k prompts, cosine >= 0.9", "1.8 s, recall 1.0 vs FAISS flat"),
    ("Geometry (issue 3): embedding", "all-MiniLM-L6-v2, 768 Alpaca texts",
     "197 texts/s (3.37x sentence-transformers)"),
    ("Model engine (issue 4): scoring", "1,000 Dolly rows, max length 512, NLL + IFD",
     "4.41 samples/s, 1,184 tokens/s (3.51x padding to 512)"),
    ("Model engine (issue 4): training", "LoRA r16, bf16 autocast, 8 x <= 256 tokens", "265 tokens/s, 4.6 s per step"),
    ("Model engine (issue 4): loading", "default model, first load / later loads", "19.2 s / 0.41 s"),
    ("Selection methods (issue 5)", "3,000 Dolly rows, budget 150, max length 192",
     "static IFD 391 s, IterIT 386 s, DiverseEvol 737 s, learning pct 1,330 s; baselines 1-34 s"),
    ("App (issue 6): maps", "UMAP of Dolly-15k (14,989 rows), cold / warm", "11.7 s / 5.6 s"),
    ("App (issue 6): pages", "Data page rerun, 15k / 100k rows", "35 ms / 65 ms"),
]
