"""K-Center: ours against a brute-force reference, a DiverseEvol-style dense implementation and a plain
numpy running-minimum loop; time against the memory-bandwidth bound; peak memory per case.

    .venv/bin/python bench/bench_kcenter.py            # everything (about 4 minutes, most of it the dense one)
    .venv/bin/python bench/bench_kcenter.py --quick    # skip the dense N x N run
    .venv/bin/python bench/bench_kcenter.py --million  # add N = 1M, k = 10k (tens of minutes on 2 cores)

Every timed case runs in a fresh process (clean peak RSS). `ours` is the library's default (the int8 shadow
from 20k rows or 500 picks; serial or every core per pass, as its micro-benchmark decides), `ours_serial` forces one
core; `np_running` is the plain numpy loop with one BLAS thread, `np_running_all` with every core.
Data: unit vectors, d = 384, float32: `random` (isotropic) and `clustered` (200 Gaussian clusters, Zipf sizes),
each with 5 % exact duplicates; every implementation starts from the same first centre.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from geometry_report import machine, peak_rss_mb, run_case, write_block  # noqa: E402

D = 384
FIRST = 12345


def make_data(n: int, kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        X = rng.standard_normal((n, D), dtype=np.float32)
    else:
        means = rng.standard_normal((200, D), dtype=np.float32)
        labels = (rng.zipf(1.5, n) - 1) % 200
        X = means[labels] + 0.35 * rng.standard_normal((n, D), dtype=np.float32)
    dup = rng.choice(n, n // 20, replace=False)
    X[dup] = X[rng.choice(n, n // 20, replace=False)]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return np.ascontiguousarray(X, dtype=np.float32)


# -- implementations -----------------------------------------------------------------------------------
def ours(X, k, shadow, parallel=None):
    from curation.geometry.diversity import kcenter

    return kcenter(X, k, first=FIRST % len(X), shadow=shadow, parallel=parallel, device="cpu").order


def np_running(X, k, threads=1):
    """The plain exact loop: one sgemv per pick, running minimum (what DiverseEvol should have been)."""
    from threadpoolctl import threadpool_limits

    sq = np.einsum("nd,nd->n", X, X)
    best = np.full(len(X), np.inf, dtype=np.float32)
    order, arg = [], FIRST % len(X)
    with threadpool_limits(threads):
        for _ in range(k):
            order.append(arg)
            d2 = sq + sq[arg] - 2 * (X @ X[arg])
            np.minimum(best, np.maximum(d2, 0), out=best)
            best[order[-1]] = -1
            arg = int(np.argmax(best))
    return np.array(order)


def dense_diverseevol(X, k):
    """DiverseEvol's evol_schedules/kcenter_sampling.py, condensed: the full N x N distance matrix (sqrt of
    |a|^2 + |b|^2 - 2ab, NaN where rounding makes it negative), then per pick the min over the
    (unlabelled x labelled) sub-matrix, which is rebuilt by a boolean row mask and a concat of the new
    column: 12 N^2 bytes, O(N k^2) time."""
    import torch

    e = torch.from_numpy(X)
    sq = (e * e).sum(dim=1, keepdim=True)
    dist = torch.sqrt(sq + sq.t() - 2 * torch.matmul(e, e.t()))
    labeled = torch.zeros(len(X), dtype=torch.bool)
    labeled[FIRST % len(X)] = True
    order = [FIRST % len(X)]
    mat = dist[~labeled, :][:, labeled]
    for _ in range(k - 1):
        q_local = int(mat.min(dim=1).values.argmax())
        q = int(torch.arange(len(X))[~labeled][q_local])
        labeled[q] = True
        order.append(q)
        keep = torch.arange(mat.shape[0]) != q_local
        mat = torch.cat((mat[keep, :], dist[~labeled, q][:, None]), dim=1)
    return np.array(order)


def brute(X, k):
    """The textbook definition in float64: squared distances of every point to each new centre, fresh."""
    X64 = X.astype(np.float64)
    order = [FIRST % len(X)]
    best = ((X64 - X64[order[0]]) ** 2).sum(1)
    best[order[0]] = -1
    for _ in range(k - 1):
        arg = int(np.argmax(best))  # first maximum: the lowest index
        order.append(arg)
        row = ((X64 - X64[arg]) ** 2).sum(1)
        best = np.where(best >= 0, np.minimum(best, row), best)
        best[arg] = -1
    return np.array(order)


def bandwidth_gbs() -> float:
    """Single-thread read bandwidth: best of several full passes over 1 GiB (numba sum and torch sum)."""
    import numba
    import torch

    @numba.njit(fastmath=True)
    def total(a):
        s = np.float32(0)
        for v in a:
            s += v
        return s

    a = np.ones(1 << 28, dtype=np.float32)
    total(a[:1024])
    torch.set_num_threads(1)
    t = torch.from_numpy(a)
    best = 0.0
    for fn in (lambda: total(a), lambda: float(t.sum())):
        for _ in range(4):
            s = time.perf_counter()
            fn()
            best = max(best, a.nbytes / (time.perf_counter() - s) / 1e9)
    return best


def case(args) -> dict:
    X = make_data(args.n, args.data)
    import os

    shadow = None if args.impl == "ours" else args.impl != "ours_plain"
    impl = {"ours": lambda: ours(X, args.k, shadow=None), "ours_plain": lambda: ours(X, args.k, shadow=False),
            "ours_serial": lambda: ours(X, args.k, shadow=None, parallel=False),
            "np_running": lambda: np_running(X, args.k),
            "np_running_all": lambda: np_running(X, args.k, threads=os.cpu_count() or 1),
            "dense": lambda: dense_diverseevol(X, args.k), "brute": lambda: brute(X, args.k)}[args.impl]
    if args.impl.startswith("ours"):
        ours(X[:5000], 3, shadow=shadow)  # numba JIT is cached on disk; load it before timing
    base = peak_rss_mb()
    start = time.perf_counter()
    order = impl()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "data_mb": X.nbytes / 2**20, "before_mb": base,
            "hash": hashlib.sha1(np.asarray(order, np.int64).tobytes()).hexdigest()[:12]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="store_true")
    ap.add_argument("--impl"), ap.add_argument("--n", type=int), ap.add_argument("--k", type=int)
    ap.add_argument("--data", default="random")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--million", action="store_true")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(args)))
        return
    lines = [f"Machine: {machine()}."]
    bw = {"gbs": bandwidth_gbs()}
    lines.append(f"Measured single-thread read bandwidth: **{bw['gbs']:.1f} GB/s** (best of numba and torch sums "
                 "over 1 GiB). Bound = k passes over N x 384 float32 at that rate.\n")

    def run(impl, n, k, data="random"):
        r = run_case("bench_kcenter.py", "--impl", impl, "--n", str(n), "--k", str(k), "--data", data)
        print(impl, n, k, data, r, flush=True)
        return r

    lines += ["**Exactness** (same pick order as a float64 brute-force farthest-first, 5 % exact duplicates):\n",
              "| data | N | k | brute force | ours (int8 shadow) | ours (plain) | identical |",
              "|---|---|---|---|---|---|---|"]
    for data in ("random", "clustered"):
        n, k = 3000, 1000
        rb, rs, rp = run("brute", n, k, data), run("ours", n, k, data), run("ours_plain", n, k, data)
        same = rb["hash"] == rs["hash"] == rp["hash"]
        lines.append(f"| {data} | {n:,} | {k} | {rb['hash']} | {rs['hash']} | {rp['hash']} | "
                     f"{'yes' if same else 'NO'} |")
    lines += ["", "**Speed and memory** (one process per case; RSS includes the data and the interpreter):\n",
              "| case | N | k | implementation | seconds | ÷ ours | bound s | ÷ bound | peak RSS MB | data MB "
              "| same picks as ours |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    rivals = ["ours_serial", "ours_plain", "np_running", "np_running_all"]
    plan = [(10_000, 2000, ["ours", *rivals] + ([] if args.quick else ["dense"])),
            (52_000, 2000, ["ours", *rivals]),
            (200_000, 2000, ["ours", *rivals])] + ([(1_000_000, 10_000, ["ours", "np_running_all"])]
                                                   if args.million else [])
    for n, k, impls in plan:
        results = {impl: run(impl, n, k) for impl in impls}
        bound = k * n * D * 4 / (bw["gbs"] * 1e9)
        for impl, r in results.items():
            lines.append(f"| random | {n:,} | {k} | {impl} | {r['seconds']:.2f} | "
                         f"{r['seconds'] / results['ours']['seconds']:.1f}x | {bound:.2f} | "
                         f"{r['seconds'] / bound:.2f} | {r['rss_mb']:.0f} | {r['data_mb']:.0f} | "
                         f"{'yes' if r['hash'] == results['ours']['hash'] else 'no'} |")
        if n == 52_000:
            lines.append(f"| random | {n:,} | {k} | dense (DiverseEvol) | not run: needs 12 N^2 B = "
                         f"{12 * n * n / 2**30:.0f} GiB > 24 GiB | | | | | | |")
    write_block("kcenter", "### K-Center (`bench/bench_kcenter.py`)\n\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
