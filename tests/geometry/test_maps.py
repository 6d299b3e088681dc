"""2-D maps: PCA for tiny pools, UMAP that keeps neighbourhoods, cancellation between epochs, the workspace cache,
and the map job end to end with the real embedder."""

from __future__ import annotations

import numpy as np
import pytest

from curation.errors import Cancelled, CurationError
from curation.formats import importer
from curation.geometry import maps
from curation.geometry.embed_cache import text_keys
from curation.services import jobs
from curation.workspace import samples
from tests.shared_data import DOLLY, write_jsonl_head


def clustered(n_clusters: int = 8, per: int = 50, dim: int = 64, spread: float = 0.35, seed: int = 0):
    """Unit vectors around random centres: (X float32, labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), per)
    X = centres[labels] / np.sqrt(dim) + spread * rng.normal(size=(len(labels), dim)) / np.sqrt(dim)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), labels


def neighbours(Y: np.ndarray, k: int) -> np.ndarray:
    d = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1)[:, :k]


def test_tiny_pools_get_a_pca_map_equal_to_sklearns():
    from sklearn.decomposition import PCA

    X, _ = clustered(n_clusters=2, per=5, dim=16)
    coords, method = maps.layout(X)
    assert method == "pca" and coords.shape == (10, 2) and coords.dtype == np.float32
    reference = PCA(n_components=2).fit_transform(X / np.linalg.norm(X, axis=1, keepdims=True))
    for c in range(2):  # principal axes are defined up to sign
        sign = np.sign(np.dot(coords[:, c], reference[:, c]))
        np.testing.assert_allclose(coords[:, c] * sign, reference[:, c], atol=1e-5)
    assert maps.pca_2d(X[:1]).tolist() == [[0.0, 0.0]]
    with pytest.raises(CurationError, match="at least"):
        maps.layout(X, maps.MapConfig(method="umap"))


def test_pca_in_blocks_equals_sklearn_and_a_line_has_no_second_axis(monkeypatch):
    """The blocked covariance path (blocks of 7 rows here, 65,536 in use) against sklearn's SVD-based PCA."""
    from sklearn.decomposition import PCA

    monkeypatch.setattr(maps, "PCA_BLOCK", 7)
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(50, 12)) * np.linspace(3, 0.1, 12) + 5).astype(np.float32)
    coords = maps.pca_2d(X)
    reference = PCA(n_components=2).fit_transform(X.astype(np.float64))
    for c in range(2):
        sign = np.sign(np.dot(coords[:, c], reference[:, c]))
        np.testing.assert_allclose(coords[:, c] * sign, reference[:, c], atol=1e-4)
    line = np.outer(np.arange(20, dtype=np.float32), rng.normal(size=8).astype(np.float32))
    flat = maps.pca_2d(line)
    np.testing.assert_allclose(np.abs(flat[:, 0]), np.abs(np.linalg.norm(line - line.mean(0), axis=1)), rtol=1e-4)
    assert not flat[:, 1].any()


def test_large_pools_start_umap_from_pca():
    assert maps.umap_init(maps.SPECTRAL_MAX_ROWS) == "spectral"
    assert maps.umap_init(maps.SPECTRAL_MAX_ROWS + 1) == "pca"


@pytest.mark.slow
@pytest.mark.parametrize("start", ["spectral", "pca"])
def test_umap_keeps_clusters_and_neighbourhoods_and_stops_between_epochs(start, monkeypatch):
    X, labels = clustered()
    if start == "pca":  # the large-pool start, on this small pool
        monkeypatch.setattr(maps, "SPECTRAL_MAX_ROWS", len(X) - 1)
    assert maps.umap_init(len(X)) == start
    reports = []
    coords = maps.umap_2d(X, maps.MapConfig(n_epochs=100), progress=lambda d, t, m: reports.append((d, t, m)))
    assert coords.shape == (len(X), 2) and np.isfinite(coords).all()
    near = neighbours(coords, 10)
    same_cluster = (labels[near] == labels[:, None]).mean()
    assert same_cluster > 0.95  # regions of the map are the clusters of the input
    input_near = neighbours(X, 15)
    keep = np.mean([len(set(near[i]) & set(input_near[i])) / 10 for i in range(len(X))])
    shuffled = np.random.default_rng(1).permutation(len(X))
    chance = np.mean([len(set(near[shuffled][i]) & set(input_near[i])) / 10 for i in range(len(X))])
    assert keep > 0.4 and keep > 5 * chance  # input neighbours stay neighbours (perf notes: ~0.48 on real data)
    assert reports[-1][0] == reports[-1][1] == 100 and "epoch" in reports[-1][2]

    calls = {"n": 0}

    def stop_after_ten() -> bool:
        calls["n"] += 1
        return calls["n"] > 10

    with pytest.raises(Cancelled):
        maps.umap_2d(X, maps.MapConfig(n_epochs=200), should_stop=stop_after_ten)
    import umap.layouts

    assert umap.layouts.tqdm.__name__ != "tracked"  # the epoch hook is removed again, even after a cancel


def test_build_caches_per_embedding_pool_and_settings(ws, monkeypatch):
    X, _ = clustered(n_clusters=3, per=10, dim=16)
    ids = [f"{i:016x}" for i in range(len(X))]
    keys = text_keys(ids)
    calls = []
    real_layout = maps.layout
    monkeypatch.setattr(maps, "layout", lambda *a, **k: calls.append(1) or real_layout(*a, **k))
    config = maps.MapConfig(method="pca")
    first = maps.build(ws, X, ids=ids, text_keys=keys, source="model-a/text", config=config)
    second = maps.build(ws, X, ids=ids, text_keys=keys, source="model-a/text", config=config)
    assert len(calls) == 1  # the second call is a cache hit
    assert second.key == first.key
    np.testing.assert_array_equal(second.coords, first.coords)
    np.testing.assert_array_equal(second.clusters, first.clusters)
    np.testing.assert_array_equal(second.text_keys, keys)
    assert maps.load(ws, first.key).meta["n"] == len(X)

    other_model = maps.build(ws, X, ids=ids, text_keys=keys, source="model-b/text", config=config)
    preview = maps.build(ws, X, ids=ids, text_keys=keys, source="model-a/text",
                         config=maps.MapConfig(method="pca", preview=True))
    reordered = maps.build(ws, X[::-1], ids=ids[::-1], text_keys=keys[::-1], source="model-a/text", config=config)
    assert len(calls) == 4 and len({first.key, other_model.key, preview.key, reordered.key}) == 4
    assert maps.current(ws, ids).key == other_model.key  # newest full map of this pool wins over the preview
    assert maps.current(ws, ids[:-1]) is None  # another pool: no map
    with pytest.raises(CurationError, match="embeddings"):
        maps.build(ws, X[:-1], ids=ids, text_keys=keys, source="s", config=config)


@pytest.mark.slow
def test_the_map_job_embeds_lays_out_and_reuses_its_cache(ws):
    from curation.geometry.embed import EmbedConfig, embed_pool

    importer.import_source(ws, str(write_jsonl_head(DOLLY, ws.root.parent / "dolly-40.jsonl", 40)))
    job = jobs.get(ws, jobs.submit(ws, "umap", {"field": "text", "map": {"preview": True}}))
    jobs.run_pending(ws)
    job = jobs.get(ws, job.job_id)
    assert job.status == "done", job.error
    assert job.result["rows"] == 40 and job.result["method"] == "umap" and job.result["preview"]
    pool_map = maps.current(ws, samples.ids(ws))
    assert pool_map is not None and pool_map.key == job.result["key"] and pool_map.coords.shape == (40, 2)
    X = embed_pool(ws, EmbedConfig())  # all cached: the same vectors the map was drawn from
    np.testing.assert_array_equal(maps.embeddings(ws, pool_map), X)
    assert maps.embedded_share(ws, pool_map.text_keys) == 1.0
    again = maps.pool_map(ws, config=maps.MapConfig(preview=True))
    assert again.key == pool_map.key and again.meta["created"] == pool_map.meta["created"]


def test_knn_graph_above_the_exact_limit_is_an_ivf_graph_close_to_brute_force():
    """Above exact_max_rows the graph comes from IVF: every id valid, each row its own first neighbour, the
    distances those of the ids returned, and recall@15 against a brute-force numpy graph >= 0.95."""
    X, _ = clustered(n_clusters=40, per=100, dim=48, spread=0.6, seed=3)
    k = 15
    idx, dist = maps.knn_graph(X, k, exact_max_rows=1_000)
    assert idx.shape == (len(X), k) and (idx >= 0).all() and (idx < len(X)).all()
    assert (idx[:, 0] == np.arange(len(X))).mean() > 0.999
    np.testing.assert_allclose(dist, 1.0 - np.einsum("nd,nkd->nk", X, X[idx]), atol=1e-5)
    assert (np.diff(dist, axis=1) >= 0).all()  # re-scored candidates come nearest first
    sims = X @ X.T
    truth = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(idx, truth, strict=True)])
    assert recall >= 0.95, recall
    exact_idx, _ = maps.knn_graph(X, k, exact_max_rows=len(X))
    exact_recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(exact_idx, truth, strict=True)])
    assert exact_recall > 0.999


def test_rows_the_ivf_lists_leave_short_get_exact_neighbours_from_a_blocked_scan():
    X, _ = clustered(n_clusters=5, per=60, dim=16, seed=6)
    rows = np.array([0, 17, 299])
    got = maps.exact_neighbours(X, rows, 7, block=50)  # several blocks, the last one short
    truth = np.argsort(-(X[rows].astype(np.float64) @ X.T.astype(np.float64)), axis=1)[:, :7]
    assert [set(a) for a in got] == [set(b) for b in truth]


def test_the_knn_index_stores_8_bit_codes():
    from curation.geometry.index import IndexConfig, build_index

    X, _ = clustered(n_clusters=10, per=100, dim=48, seed=4)
    index = build_index(X, IndexConfig(kind="ivf_sq8", nlist=8))
    assert index.code_size == X.shape[1] and index.ntotal == len(X)  # one byte a dimension, not four


@pytest.mark.slow
def test_large_pool_umap_on_a_stand_in_gives_the_layout_of_the_full_data(monkeypatch):
    """Above SPECTRAL_MAX_ROWS umap_2d hands UMAP a one-column stand-in for X (it copies X otherwise): the
    layout is the one UMAP computes from the real rows, the same graph and the same start."""
    import umap

    X, _ = clustered(per=40, seed=5)
    monkeypatch.setattr(maps, "SPECTRAL_MAX_ROWS", len(X) - 1)
    config = maps.MapConfig(n_epochs=30)
    coords = maps.umap_2d(X, config)
    idx, dist = maps.knn_graph(X, config.n_neighbors)
    reference = umap.UMAP(n_neighbors=config.n_neighbors, min_dist=config.min_dist, metric="cosine",
                          n_epochs=30, random_state=config.seed, precomputed_knn=(idx, dist, None),
                          init=maps.pca_start(X, config.seed)).fit_transform(X)
    np.testing.assert_array_equal(coords, reference)
    start = maps.pca_start(X, 0)
    assert abs(np.abs(start).max() - 10.0) < 1e-3 and len(np.unique(start, axis=0)) == len(X)


def test_map_colours_fit_on_a_sample_and_give_every_row_its_nearest_centre(monkeypatch):
    """Above COLOUR_FIT_ROWS the colours' k-means is fitted on a seeded sample and every row takes its nearest
    centre: checked against sklearn fitted on those rows and a float64 brute-force assignment; at or below it,
    the labels are plain k-means over every row."""
    from sklearn.cluster import KMeans

    from curation.methods.kernels.clusters import kmeans

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 16)).astype(np.float32) * 3
    X = (centres[rng.integers(0, 6, 3000)] + rng.normal(size=(3000, 16))).astype(np.float32)
    assert np.array_equal(maps.cluster_labels(X, 6, seed=5), kmeans(X, 6, 5))  # 3,000 <= 50,000 rows
    monkeypatch.setattr(maps, "COLOUR_FIT_ROWS", 500)
    labels = maps.cluster_labels(X, 6, seed=5)
    rows = np.sort(np.random.default_rng(5).choice(len(X), 500, replace=False))
    fitted = KMeans(n_clusters=6, random_state=5, n_init="auto").fit(X[rows]).cluster_centers_.astype(np.float64)
    distances = ((X.astype(np.float64)[:, None, :] - fitted[None]) ** 2).sum(-1)
    nearest = distances.argmin(1)
    margin = np.sort(distances, 1)[:, 1] - distances.min(1)
    clear = margin > 1e-3  # float32 ties aside
    assert clear.mean() > 0.99 and np.array_equal(labels[clear], nearest[clear])


def test_unit_rows_are_used_as_they_are_and_others_normalised():
    from curation.geometry.index import normalize, unit_rows

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert unit_rows(U) is U  # no copy of a million unit rows
    for other in (X, U.astype(np.float64), np.asfortranarray(U)):
        out = unit_rows(other)
        assert out is not other and out.dtype == np.float32 and out.flags.c_contiguous
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(out, normalize(other), atol=1e-7)
    with pytest.raises(CurationError, match="zero vector"):
        unit_rows(np.vstack([U, np.zeros((1, 8), np.float32)]))
