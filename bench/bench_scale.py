"""Scale benchmark (issue 12): the app and library on a synthetic pool of 100k and 1M distinct rows.

    flock /tmp/cpu.lock .venv/bin/python bench/bench_scale.py --rows 100000 [--stages import,pages] [--no-write]

Pool: Dolly-15k's 14,989 rows, repeated with a variant tag (bench_app.synthetic_pool), so every row is a distinct
sample with Dolly's real length distribution. Embeddings are not computed per row: each Dolly row's real
all-MiniLM-L6-v2 vector (both fields, "text" and "prompt"; embedded once and cached in $BENCH_CACHE, default
/tmp/bench_cache) is reused by its variants with Gaussian noise of sigma NOISE_SIGMA per coordinate, then
renormalised, so a variant's cosine to its original is 1 / sqrt(1 + 384 sigma^2) = 0.97; the originals keep
their exact vectors. They are written into the workspace's embedding store under the keys of the texts the
app embeds (embed.sample_text), and a PCA map is published with maps.build, so the pages, the duplicate scan,
K-Center and Vendi find them exactly as they would after the app's own embed and map jobs.

Every stage but `browser` runs in a fresh interpreter (`--child STAGE`), which prints its figures and its peak
RSS (VmHWM) as JSON; a stage that fails prints its error and the others go on.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from geometry_data import CACHE  # noqa: E402
from geometry_report import peak_rss_mb  # noqa: E402

if TYPE_CHECKING:
    from curation.geometry.embed_cache import EmbeddingStore
    from curation.workspace import Workspace

SECTION = "## Scale (issue 12)"
STAGES = ("import", "embed", "layout", "umap", "dedup", "bandwidth", "kcenter", "vendi", "pages", "browser",
          "export")
DIM = 384
NOISE_SIGMA = float(np.sqrt((1 / 0.97**2 - 1) / DIM))  # 0.0128: E[cos(variant, original)] = 0.97
SHARD = 65_536  # rows per embedding-store shard written
PAGES = ("start", "data", "explore", "duplicates", "select", "review", "export", "jobs")
UMAP_LIMIT_S = 1800
CHILD_TIMEOUT_S = 3 * 3600


# -- the synthetic workspace ---------------------------------------------------------------------------
def base_vectors(field: str) -> np.ndarray:
    """Unit float32 [14989, 384]: MiniLM vectors of Dolly's rows in file order (embedded once, then cached)."""
    target = CACHE / f"dolly_{field}_minilm_rows.npy"
    if not target.exists():
        from curation.formats import importer
        from curation.geometry.embed import EmbedConfig, embed_pool
        from curation.workspace import Workspace, samples
        from curation.workspace.arrays import save_array

        ws = Workspace(CACHE / "scale_base_ws")
        if samples.count(ws) == 0:  # the bundled copy: the same rows, and its shipped vectors spare the "text" field
            importer.import_source(ws, "dolly-15k")
        save_array(target, embed_pool(ws, EmbedConfig(), field=field))
    return np.load(target, allow_pickle=False)


def variant_vectors(base: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """Vectors of pool rows `rows`: row i is variant i // len(base) of base row i % len(base)."""
    X = base[rows % len(base)].copy()
    noisy = rows >= len(base)
    rng = np.random.default_rng(seed)
    X[noisy] += rng.normal(0.0, NOISE_SIGMA, size=(int(noisy.sum()), base.shape[1])).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def store_and_keys(ws: Workspace, field: str) -> tuple[EmbeddingStore, np.ndarray]:
    """The default embedder's store in the workspace and the cache key of each pool row's `field` text."""
    from curation.geometry.embed import EmbedConfig, sample_text, store_spec
    from curation.geometry.embed_cache import EmbeddingStore, text_keys
    from curation.workspace import samples

    spec = store_spec(EmbedConfig())
    if spec is None:
        raise RuntimeError("the bundled all-MiniLM-L6-v2 package is needed for the store's spec")
    keys = text_keys(sample_text(record, field) for _, record in samples.iter_records(ws))
    return EmbeddingStore.for_workspace(ws, spec), keys


def pool_vectors(ws: Workspace, field: str = "text") -> np.ndarray:
    store, keys = store_and_keys(ws, field)
    return store.get(keys)


# -- stages (each in a fresh process) --------------------------------------------------------------------
def cli(*argv: str) -> None:
    """`python -m curation ARGV` in this process (so its peak RSS is this process's)."""
    sys.argv = ["curation", *argv]
    try:
        runpy.run_module("curation", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise RuntimeError(f"python -m curation {' '.join(argv)} exited with {stop.code}") from None


def child_import(ws_root: Path, pool: Path, rows: int) -> dict:
    from curation.workspace import Workspace, samples

    start = time.perf_counter()
    cli("--workspace", str(ws_root), "import", str(pool))
    seconds = time.perf_counter() - start
    n = samples.count(Workspace(ws_root))
    if n != rows:
        raise RuntimeError(f"{n:,} samples imported from {rows:,} distinct rows")
    return {"seconds": seconds, "rows_per_s": rows / seconds, "file_mb": pool.stat().st_size / 2**20}


def child_embed(ws_root: Path, pool: Path, rows: int) -> dict:
    from curation.workspace import Workspace

    ws = Workspace(ws_root)
    out: dict = {"sigma": NOISE_SIGMA}
    for seed, field in enumerate(("text", "prompt")):
        base = base_vectors(field)
        store, keys = store_and_keys(ws, field)
        _, first = np.unique(keys, return_index=True)  # repeated prompts: one vector per text, as the app stores
        first = np.sort(first[~store.contains(keys[first])])
        for start in range(0, len(first), SHARD):
            chunk = first[start:start + SHARD]
            store.add(keys[chunk], variant_vectors(base, chunk, seed * 1_000_003 + start))
        X = store.get(keys)
        variants = np.flatnonzero(np.arange(len(keys)) >= len(base))[:20_000]
        if len(variants):
            out[f"{field}_variant_cosine"] = float(np.mean(np.einsum(
                "nd,nd->n", X[variants], base[variants % len(base)])))
    return out


def child_layout(ws_root: Path, pool: Path, rows: int) -> dict:
    from dataclasses import asdict

    from curation.geometry import maps
    from curation.workspace import Workspace, samples

    ws = Workspace(ws_root)
    store, keys = store_and_keys(ws, "text")
    X = store.get(keys)
    start = time.perf_counter()
    maps.pca_2d(X)
    pca = time.perf_counter() - start
    start = time.perf_counter()  # publish it as the app's PCA first-look job would (layout + k-means colours)
    maps.build(ws, X, ids=samples.ids(ws), text_keys=keys, source=f"{store.spec.folder_name}/text",
               store={"store": f"embeddings/{store.spec.folder_name}", "spec": asdict(store.spec), "field": "text"},
               config=maps.MapConfig(method="pca"))
    return {"pca_s": pca, "publish_s": time.perf_counter() - start}


def umap_estimate_s(n: int) -> float:
    """From bench/README's 43,598-row case: exact FAISS k-NN ~7 s (quadratic; IVF above the exact limit, about
    N^1.5 and a few times cheaper at that size), a 50-epoch fit ~11 s (linear)."""
    from curation.geometry.maps import EXACT_KNN_MAX_ROWS

    scale = n / 43_598
    knn = 7.0 * scale ** 2 if n <= EXACT_KNN_MAX_ROWS else 2.0 * scale ** 1.5
    return knn + 11.0 * scale + 10.0


def child_umap(ws_root: Path, pool: Path, rows: int) -> dict:
    from curation.geometry import maps
    from curation.workspace import Workspace

    estimate = umap_estimate_s(rows)
    if estimate > UMAP_LIMIT_S and not os.environ.get("BENCH_SCALE_UMAP_ANYWAY"):
        return {"skipped": f"estimated {estimate / 60:.0f} min > {UMAP_LIMIT_S // 60} min"}
    X = pool_vectors(Workspace(ws_root))
    start = time.perf_counter()
    maps.umap_2d(X, maps.MapConfig(preview=True))
    return {"seconds": time.perf_counter() - start, "estimate_s": estimate}


def child_dedup(ws_root: Path, pool: Path, rows: int) -> dict:
    from curation.services import jobs
    from curation.workspace import Workspace

    ws = Workspace(ws_root)
    start = time.perf_counter()
    job_id = jobs.submit(ws, "dedup_scan", {})  # the job's defaults: prompts, floor 0.85, near duplicates
    jobs.run_pending(ws)
    done = jobs.get(ws, job_id)
    if done.status != "done":
        raise RuntimeError(f"dedup_scan job {done.status}: {done.error}")
    return {"seconds": time.perf_counter() - start, **done.result}


def child_bandwidth(ws_root: Path, pool: Path, rows: int) -> dict:
    from bench_kcenter import bandwidth_gbs

    return {"gbs": bandwidth_gbs()}


def child_kcenter(ws_root: Path, pool: Path, rows: int) -> dict:
    from curation.geometry.diversity import kcenter
    from curation.workspace import Workspace

    start = time.perf_counter()
    X = pool_vectors(Workspace(ws_root))
    read = time.perf_counter() - start
    k = max(1, len(X) // 100)
    kcenter(X[:5000], 3, device="cpu")  # numba's on-disk JIT cache: load it before timing
    start = time.perf_counter()
    kcenter(X, k, first=0, device="cpu")
    return {"seconds": time.perf_counter() - start, "k": k, "read_s": read, "data_mb": X.nbytes / 2**20}


def child_vendi(ws_root: Path, pool: Path, rows: int) -> dict:
    from curation.geometry.vendi import vendi_score
    from curation.workspace import Workspace

    X = pool_vectors(Workspace(ws_root))
    start = time.perf_counter()
    value = vendi_score(X)
    return {"seconds": time.perf_counter() - start, "vendi": value}


def child_pages(ws_root: Path, pool: Path, rows: int) -> dict:
    import bench_pages

    os.environ["CURATION_WORKSPACE"] = str(ws_root)
    os.environ["CURATION_START_WORKER"] = "0"
    out: dict = {}
    for page in PAGES:
        try:
            out[page] = bench_pages.measure(page)
        except BaseException as error:  # noqa: BLE001  (measure raises SystemExit on a page exception)
            out[page] = {"error": str(error)[:300]}
        print(page, out[page], file=sys.stderr, flush=True)
    return {"pages": out}


def child_export(ws_root: Path, pool: Path, rows: int) -> dict:
    target = ws_root.parent / "export.jsonl"
    start = time.perf_counter()
    cli("--workspace", str(ws_root), "export", str(target), "--overwrite")
    seconds = time.perf_counter() - start
    with open(target, "rb") as fh:
        exported = sum(1 for _ in fh)
    return {"seconds": seconds, "rows": exported, "rows_per_s": exported / seconds,
            "file_mb": target.stat().st_size / 2**20}


CHILDREN = {name[len("child_"):]: fn for name, fn in globals().items() if name.startswith("child_")}


def run_child(stage: str, ws_root: Path, pool: Path, rows: int) -> dict:
    """The stage in a fresh interpreter; UMAP is stopped at UMAP_LIMIT_S (its estimate can be far off)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", stage, "--workspace", str(ws_root),
           "--pool", str(pool), "--rows", str(rows)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    limit = UMAP_LIMIT_S if stage == "umap" else CHILD_TIMEOUT_S
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"stopped after {limit / 60:.0f} min") from None
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-2000:] or f"exit status {out.returncode}, no error output")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "wall_s": time.perf_counter() - start}


def main() -> None:
    from scale_report import browser_stage, machine_facts, report, write_report

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/README.md alone")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = CHILDREN[args.child](args.workspace, args.pool, args.rows[0])
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}, default=float))
        return
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stages {unknown}; choose from {', '.join(STAGES)}")
    machine = machine_facts()
    everything = {}
    for rows in args.rows:
        from bench_app import synthetic_pool

        folder = CACHE / "scale" / str(rows)
        folder.mkdir(parents=True, exist_ok=True)
        pool = folder / f"synthetic-{rows}.jsonl"
        if not pool.exists():
            synthetic_pool(folder, rows)
        ws_root = folder / "ws"
        if "import" in stages and ws_root.exists():
            shutil.rmtree(ws_root)  # the import is measured into an empty workspace
        results: dict = {}
        for stage in [s for s in STAGES if s in stages]:
            print(f"[{rows:,}] {stage} ...", flush=True)
            try:
                results[stage] = (browser_stage(ws_root) if stage == "browser"
                                  else run_child(stage, ws_root, pool, rows))
            except Exception as error:  # noqa: BLE001  (report it and go on with the other stages)
                traceback.print_exc()
                results[stage] = {"error": str(error).strip().splitlines()[-1][:300] if str(error) else repr(error)}
            print(f"[{rows:,}] {stage}: {json.dumps(results[stage], default=float)[:600]}", flush=True)
        everything[rows] = results
        markdown = report(rows, results, machine, " ".join(sys.argv[1:]))
        print(markdown)
        if not args.no_write:
            write_report(rows, markdown)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1, default=float))


if __name__ == "__main__":
    main()
