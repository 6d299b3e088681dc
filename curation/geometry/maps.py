"""2-D maps of the pool: UMAP over sentence embeddings, computed once per embedding and cached in the workspace.

- UMAP runs with the cosine metric; its k-NN graph comes from FAISS and is handed over as `precomputed_knn`,
  so pynndescent is never compiled: that halves UMAP's cold start (shared perf notes, section 5). Up to
  `EXACT_KNN_MAX_ROWS` rows the graph is exact (flat inner product on unit rows); above, an IVF index probes
  `KNN_NPROBE` of its lists: exact search is N^2 d (hours at 1M rows on 2 cores), IVF about N^1.5 d, and UMAP
  needs a good graph, not a perfect one (pynndescent's own graphs are approximate too). The IVF index stores
  8-bit codes (0.4 GB at 1M x 384, not a 1.5 GB float32 copy); its candidates are re-scored exactly.
- Above `SPECTRAL_MAX_ROWS` UMAP starts from our blocked PCA and is handed a one-column stand-in for the data:
  with a precomputed graph and an explicit start it reads the data only for its shape, yet it copies it twice
  (`X[list(range(n))]`) and its own PCA start centres a third copy: 4.5 GB at 1M x 384, the map job's peak.
- `umap` is imported only here, lazily, inside the job worker: importing and compiling it costs ~30 s per
  fresh process and the app must never pay that on page load.
- The cache: `maps/<key>/` holds `coords.npy` (float32 [n, 2]), `clusters.npy` (k-means labels for colouring),
  `keys.npy` (each row's embedding-cache key, so a page can fetch the vectors without a model) and `meta.json`
  (written last: it publishes the map). The key hashes the embedding store (model, revision, max length), the
  embedded field, the pool's ids in row order and the layout settings: one map per embedding, and a grown pool
  or another embedder gets a new one.
- `MapConfig(preview=True)` runs 50 epochs instead of UMAP's default (500 up to 10k rows, 200 above): several
  times faster, a little looser. Pools under `MIN_UMAP_ROWS` get a PCA map (UMAP needs more points).
- Progress and cancellation reach into UMAP's epoch loop: while a map is computed, `umap.layouts.tqdm` is a
  wrapper that reports each epoch and checks `should_stop`.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from curation.errors import Cancelled, CurationError
from curation.geometry.vendi import vendi_score
from curation.workspace.arrays import atomic_write_text, load_array, save_array
from curation.workspace.db import Workspace

if TYPE_CHECKING:
    from curation.geometry.embed_cache import EmbeddingStore

Progress = Callable[[int, int, str], None]
StopCheck = Callable[[], bool]
MIN_UMAP_ROWS = 16
# Above this many rows UMAP starts from PCA, not its spectral embedding: on pools full of near-copies the
# Laplacian's eigengap is tiny and the eigensolver stalls (a 100k pool of Dolly rows with ~6 noisy copies each:
# no result after 17 min; PCA start, 50 epochs: 10 s). Below it the spectral start finishes in seconds.
SPECTRAL_MAX_ROWS = 20_000
EXACT_KNN_MAX_ROWS = 50_000
KNN_NPROBE = 24  # of 4 sqrt(N) IVF lists: recall@15 ~0.95 on MiniLM-like clustered vectors (tests, bench)
PREVIEW_EPOCHS = 50
METHODS = ("auto", "umap", "pca")
MAPS_DIR = "maps"


@dataclass(frozen=True)
class MapConfig:
    method: Literal["auto", "umap", "pca"] = "auto"  # auto: UMAP, or PCA below MIN_UMAP_ROWS rows
    n_neighbors: int = 15
    min_dist: float = 0.1
    preview: bool = False  # PREVIEW_EPOCHS epochs instead of UMAP's default
    n_epochs: int = 0  # > 0 overrides both
    seed: int = 42  # UMAP random_state (deterministic maps; one thread, which is what 2 shared cores allow)
    n_clusters: int = 0  # k-means clusters for colouring; 0: about sqrt(n / 2), between 2 and 20

    def epochs(self) -> int | None:
        if self.n_epochs > 0:
            return self.n_epochs
        return PREVIEW_EPOCHS if self.preview else None


@dataclass(frozen=True)
class PoolMap:
    key: str
    coords: np.ndarray  # float32 [n, 2]; row i is the pool's row i
    clusters: np.ndarray  # int64 [n]
    text_keys: np.ndarray  # uint64 [n]: embedding-cache key of each row's text
    meta: dict[str, Any]  # store, spec, field, ids_hash, n, config, method, seconds, created

    @property
    def preview(self) -> bool:
        return bool(self.meta.get("config", {}).get("preview"))


def ids_hash(ids: Sequence[str]) -> str:
    """Identity of a pool *in row order* (a map's rows must line up with the pool's)."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def map_key(source: str, ids_digest: str, config: MapConfig) -> str:
    payload = json.dumps({"source": source, "ids": ids_digest, "config": asdict(config)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# -- layouts ----------------------------------------------------------------------------------------------
def knn_graph(X: np.ndarray, k: int, *, progress: Progress | None = None, should_stop: StopCheck | None = None,
              exact_max_rows: int = EXACT_KNN_MAX_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """(indices int64 [n, k], cosine distances float32 [n, k], nearest first) of each row's k nearest rows,
    itself included: exact up to `exact_max_rows` rows; above, candidates from an 8-bit IVF index, re-scored
    and re-ordered against the float32 rows (see the module notes)."""
    from curation.geometry.index import IndexConfig, build_index, knn

    if len(X) <= exact_max_rows:
        sims, idx = knn(X, X, k, metric="ip", progress=progress, should_stop=should_stop)
    else:
        if progress is not None:
            progress(0, len(X), "k-NN graph: training the IVF index")
        index = build_index(X, IndexConfig(kind="ivf_sq8", metric="ip", nprobe=KNN_NPROBE))
        _, idx = knn(X, index, k, metric="ip", progress=progress, should_stop=should_stop)
        del index
        missing = idx < 0  # fewer than k rows in the probed lists (tiny lists only); UMAP needs k valid ids
        if missing.any():
            rows = np.flatnonzero(missing.any(axis=1))
            idx[rows] = exact_neighbours(X, rows, k)
        sims = exact_similarities(X, idx)
        order = np.argsort(-sims, axis=1, kind="stable")
        idx, sims = np.take_along_axis(idx, order, axis=1), np.take_along_axis(sims, order, axis=1)
    return idx.astype(np.int64), np.clip(1.0 - sims, 0.0, 2.0).astype(np.float32)


def exact_neighbours(X: np.ndarray, rows: np.ndarray, k: int, block: int = 65_536) -> np.ndarray:
    """int64 [len(rows), k]: the k nearest rows of X to each of X[rows], by a blocked scan (a flat FAISS index
    would copy all of X for a handful of rows)."""
    query = np.asarray(X[rows], dtype=np.float32)
    best_sims = np.full((len(rows), k), -np.inf, dtype=np.float32)
    best_idx = np.zeros((len(rows), k), dtype=np.int64)
    for start in range(0, len(X), block):
        sims = np.concatenate([best_sims, query @ np.asarray(X[start:start + block]).T], axis=1)
        block_ids = np.broadcast_to(np.arange(start, start + sims.shape[1] - k), (len(rows), sims.shape[1] - k))
        ids = np.concatenate([best_idx, block_ids], axis=1)
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_sims, best_idx = np.take_along_axis(sims, top, axis=1), np.take_along_axis(ids, top, axis=1)
    return best_idx


def exact_similarities(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """float32 [n, k]: the inner product of each row with each of its listed neighbours (index.row_dots)."""
    from curation.geometry.index import row_dots

    n, k = idx.shape
    return row_dots(X, np.repeat(np.arange(n), k), X, idx.ravel()).reshape(n, k)


PCA_BLOCK = 65_536  # rows per float64 block: a 1M x 384 pool never becomes one N x d float64 copy (3 GB)


def pca_2d(X: np.ndarray) -> np.ndarray:
    """The two leading principal components (float32 [n, 2]; zeros where there is no second direction).

    Through the d x d covariance, accumulated in float64 blocks, not an SVD of the centred N x d matrix: the
    same components (up to sign, fixed here so the largest loading is positive) in O(d^2) extra memory."""
    X = np.asarray(X)
    n = len(X)
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2:
        return out
    blocks = range(0, n, PCA_BLOCK)
    mean = sum(X[s:s + PCA_BLOCK].sum(axis=0, dtype=np.float64) for s in blocks) / n
    cov = np.zeros((X.shape[1], X.shape[1]))
    for s in blocks:
        centred = X[s:s + PCA_BLOCK].astype(np.float64) - mean
        cov += centred.T @ centred
    values, vectors = np.linalg.eigh(cov)  # ascending
    values, vectors = values[::-1][:2], vectors[:, ::-1][:, :2]
    keep = values > values[0] * 1e-12 if values[0] > 0 else np.zeros(len(values), bool)
    vectors = vectors * np.sign(vectors[np.abs(vectors).argmax(axis=0), range(vectors.shape[1])])
    for s in blocks:
        projected = (X[s:s + PCA_BLOCK].astype(np.float64) - mean) @ vectors
        out[s:s + PCA_BLOCK, :len(values)] = np.where(keep, projected, 0.0)
    return out


@contextmanager
def _epoch_hook(report: Callable[[int, int], None]) -> Iterator[None]:
    """Route UMAP's per-epoch progress bar through `report` (which may raise Cancelled)."""
    import umap.layouts as layouts

    original = layouts.tqdm

    def tracked(iterable, **_kwargs):
        total = len(iterable)
        for n, item in enumerate(iterable):
            report(n, total)
            yield item
        report(total, total)

    layouts.tqdm = tracked
    try:
        yield
    finally:
        layouts.tqdm = original


def umap_init(n: int) -> str:
    """UMAP's starting layout for n rows (see SPECTRAL_MAX_ROWS)."""
    return "spectral" if n <= SPECTRAL_MAX_ROWS else "pca"


def umap_2d(X: np.ndarray, config: MapConfig = MapConfig(), *, progress: Progress | None = None,
            should_stop: StopCheck | None = None) -> np.ndarray:
    """UMAP (cosine) of unit rows with a FAISS k-NN graph. Raises Cancelled between epochs when asked."""
    k = max(2, min(config.n_neighbors, len(X) - 1))
    knn_idx, knn_dist = knn_graph(X, k, progress=progress, should_stop=should_stop)
    if progress is not None:
        progress(0, 1, "loading umap (the first map in a fresh worker compiles it: ~30 s)")
    import umap

    def report(epoch: int, total: int) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("map cancelled")
        if progress is not None:
            progress(epoch, total, f"UMAP layout: epoch {epoch}/{total}")

    init: str | np.ndarray = umap_init(len(X))
    data = X
    if init == "pca":  # see the module notes: UMAP's copies of X were the 1M map job's peak memory
        init = pca_start(X, config.seed)
        data = np.zeros((len(X), 1), dtype=np.float32)
    reducer = umap.UMAP(n_neighbors=k, min_dist=config.min_dist, metric="cosine", n_epochs=config.epochs(),
                        random_state=config.seed, precomputed_knn=(knn_idx, knn_dist, None), verbose=False,
                        init=init)
    with warnings.catch_warnings(), _epoch_hook(report):
        warnings.simplefilter("ignore")  # "no search index" and "n_jobs overridden by random_state": expected
        coords = reducer.fit_transform(data)
    return np.asarray(coords, dtype=np.float32)


def pca_start(X: np.ndarray, seed: int) -> np.ndarray:
    """UMAP's "pca" start, from `pca_2d`: scaled to a largest coordinate of 10, plus N(0, 1e-4) noise so no two
    points coincide (umap's own noisy_scale_coords)."""
    coords = pca_2d(X)
    peak = float(np.abs(coords).max())
    if peak > 0:
        coords *= 10.0 / peak
    noise = np.random.RandomState(seed).normal(scale=1e-4, size=coords.shape)
    return (coords + noise).astype(np.float32)


def layout(X: np.ndarray, config: MapConfig = MapConfig(), *, progress: Progress | None = None,
           should_stop: StopCheck | None = None) -> tuple[np.ndarray, str]:
    """(coords float32 [n, 2], the method used) for embeddings X."""
    from curation.geometry.index import unit_rows

    if config.method not in METHODS:
        raise CurationError(f"unknown map method {config.method!r}; use one of {', '.join(METHODS)}")
    X = unit_rows(X)
    if config.method == "pca" or (config.method == "auto" and len(X) < MIN_UMAP_ROWS):
        return pca_2d(X), "pca"
    if len(X) < MIN_UMAP_ROWS:
        raise CurationError(f"a UMAP map needs at least {MIN_UMAP_ROWS} samples, the pool has {len(X)}; use pca")
    return umap_2d(X, config, progress=progress, should_stop=should_stop), "umap"


COLOUR_FIT_ROWS = 50_000  # k-means for the map's colours is fitted on at most this many rows (kmeans_sampled)


def cluster_labels(X: np.ndarray, n_clusters: int = 0, seed: int = 42) -> np.ndarray:
    """k-means labels over the embeddings, for colouring the map (a handful of regions, not Small2Large's 1000)."""
    from curation.methods.kernels.clusters import kmeans_sampled

    k = n_clusters or int(np.clip(round(np.sqrt(len(X) / 2)), 2, 20))
    return kmeans_sampled(X, min(k, len(X)), seed, COLOUR_FIT_ROWS) if len(X) > 2 else np.zeros(len(X), np.int64)


# -- the cache ------------------------------------------------------------------------------------------
def _folder(ws: Workspace, key: str) -> Path:
    return ws.root / MAPS_DIR / key


def load(ws: Workspace, key: str) -> PoolMap | None:
    folder = _folder(ws, key)
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return PoolMap(key=key, coords=load_array(folder / "coords.npy"), clusters=load_array(folder / "clusters.npy"),
                   text_keys=load_array(folder / "keys.npy"), meta=meta)


def available(ws: Workspace) -> list[dict[str, Any]]:
    """Metadata of every cached map, newest first."""
    root = ws.root / MAPS_DIR
    metas = [json.loads(p.read_text(encoding="utf-8")) for p in root.glob("*/meta.json")] if root.exists() else []
    return sorted(metas, key=lambda m: -m["created"])


def current(ws: Workspace, ids: Sequence[str]) -> PoolMap | None:
    """The map to show for a pool with these ids: the newest full UMAP map, else the newest UMAP preview, else
    the newest PCA first look (services/map_queue.py queues one before UMAP, which is slow on a cold start)."""
    digest = ids_hash(ids)
    matching = [m for m in available(ws) if m["ids_hash"] == digest]
    matching.sort(key=lambda m: (_tier(m), -m["created"]))
    return load(ws, matching[0]["key"]) if matching else None


def _tier(meta: dict[str, Any]) -> int:
    """0 full UMAP, 1 UMAP preview, 2 PCA, 3 PCA flagged preview: a lower tier always wins, then the newest."""
    return 2 * (meta.get("method") == "pca") + bool(meta.get("config", {}).get("preview"))


def build(ws: Workspace, X: np.ndarray, *, ids: Sequence[str], text_keys: np.ndarray, source: str,
          store: dict[str, Any] | None = None, config: MapConfig = MapConfig(), progress: Progress | None = None,
          should_stop: StopCheck | None = None) -> PoolMap:
    """The map of embeddings X (row i = ids[i]) from embedding `source`: from the cache, else computed and saved."""
    if len(X) != len(ids) or len(text_keys) != len(ids):
        raise CurationError(f"{len(X)} embeddings and {len(text_keys)} keys for {len(ids)} samples")
    key = map_key(source, ids_hash(ids), config)
    cached = load(ws, key)
    if cached is not None:
        return cached
    started = time.time()
    coords, method = layout(X, config, progress=progress, should_stop=should_stop)
    if progress is not None:
        progress(1, 1, "clustering for colours")
    clusters = cluster_labels(X, config.n_clusters, config.seed)
    vendi = vendi_score(X)  # the pool's, shown beside the map: computed here, not on the page's first view
    folder = _folder(ws, key)
    save_array(folder / "coords.npy", coords)
    save_array(folder / "clusters.npy", clusters.astype(np.int64))
    save_array(folder / "keys.npy", np.asarray(text_keys, np.uint64))
    meta = {"key": key, "source": source, **(store or {}), "ids_hash": ids_hash(ids), "n": len(ids),
            "config": asdict(config), "method": method, "vendi": vendi, "seconds": round(time.time() - started, 2),
            "created": time.time()}
    atomic_write_text(folder / "meta.json", json.dumps(meta, indent=1))
    return PoolMap(key=key, coords=coords, clusters=clusters, text_keys=np.asarray(text_keys, np.uint64), meta=meta)


def pool_map(ws: Workspace, *, embed_config: Any = None, field: str = "text", config: MapConfig = MapConfig(),
             progress: Progress | None = None, should_stop: StopCheck | None = None) -> PoolMap:
    """The workspace pool's map: embeds what is not embedded yet (cached), then lays it out (cached)."""
    from curation.geometry.embed import EmbedConfig, Encoder, embed_pool, sample_text, store_spec
    from curation.geometry.embed_cache import text_keys
    from curation.workspace import samples

    embed_config = embed_config or EmbedConfig()
    ids = samples.ids(ws)
    if not ids:
        raise CurationError("the pool is empty: import data before drawing a map")
    spec = store_spec(embed_config) or Encoder(embed_config).spec  # a hub model: its revision needs the weights
    keys = text_keys(sample_text(record, field) for _, record in samples.iter_records(ws))
    source = f"{spec.folder_name}/{field}"
    cached = load(ws, map_key(source, ids_hash(ids), config))
    if cached is not None:
        return cached
    X = embed_pool(ws, embed_config, field=field, progress=progress, should_stop=should_stop)
    store = {"store": f"embeddings/{spec.folder_name}", "spec": asdict(spec), "field": field}
    return build(ws, X, ids=ids, text_keys=keys, source=source, store=store, config=config, progress=progress,
                 should_stop=should_stop)


def embeddings(ws: Workspace, pool_map_: PoolMap) -> np.ndarray | None:
    """The map's embeddings read from the workspace cache without loading a model (None when not cached)."""
    from curation.geometry.embed_cache import EmbeddingStore, StoreSpec

    store, spec = pool_map_.meta.get("store"), pool_map_.meta.get("spec")
    if not store or not spec or not (ws.root / store / "meta.json").exists():
        return None
    try:
        return EmbeddingStore(ws.root / store, StoreSpec(**spec)).get(pool_map_.text_keys)
    except CurationError:
        return None


def default_store(ws: Workspace, model: str | None = None) -> EmbeddingStore | None:
    """The workspace's embedding cache of `model` (default: the project's embedder), found from its meta.json
    without loading the model; the newest when several revisions are cached. None when there is none."""
    from curation.geometry.embed import DEFAULT_MODEL
    from curation.geometry.embed_cache import EmbeddingStore, StoreSpec

    root = ws.root / "embeddings"
    metas = sorted(root.glob("*/meta.json"), key=lambda p: -p.stat().st_mtime) if root.exists() else []
    for meta_path in metas:
        spec = StoreSpec(**json.loads(meta_path.read_text(encoding="utf-8")))
        if spec.model == (model or DEFAULT_MODEL):
            return EmbeddingStore(meta_path.parent, spec)
    return None


def embedded_share(ws: Workspace, text_keys: np.ndarray, model: str | None = None) -> float:
    """Share of these texts (by embedding-cache key) that the embedder's cache holds already."""
    store = default_store(ws, model)
    if store is None or not len(text_keys):
        return 0.0
    return float(store.contains(np.asarray(text_keys, np.uint64)).mean())
