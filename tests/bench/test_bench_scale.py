"""bench/bench_scale.py end to end at a tiny size: a 15,500-row pool of Dolly rows and their variants, with
random unit vectors standing in for the cached MiniLM vectors (no model runs). The figures it reports are
checked against the workspace it built: the rows exported, the variants' cosine to their originals (set by the
noise's sigma), K-Center's k and the Vendi score computed here from the d x d covariance's eigenvalues."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from curation.geometry import maps
from curation.geometry.embed import sample_text
from curation.geometry.embed_cache import text_keys
from curation.workspace import Workspace, samples
from tests.shared_data import DOLLY

ROOT = Path(__file__).resolve().parents[2]
ROWS = 15_500  # 511 rows beyond Dolly's 14,989: variants with noisy vectors
BASE_ROWS, DIM = 14_989, 384


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    if not DOLLY.exists():
        pytest.skip("../shared/data/dolly-15k is not there")
    cache = tmp_path_factory.mktemp("bench_cache")
    rng = np.random.default_rng(3)
    for field in ("text", "prompt"):
        base = rng.standard_normal((BASE_ROWS, DIM)).astype(np.float32)
        np.save(cache / f"dolly_{field}_minilm_rows.npy", base / np.linalg.norm(base, axis=1, keepdims=True))
    out = cache / "figures.json"
    env = {**os.environ, "BENCH_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "bench/bench_scale.py", "--rows", str(ROWS), "--stages",
                           "import,embed,kcenter,vendi,export", "--no-write", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())[str(ROWS)]
    assert not [stage for stage, r in figures.items() if "error" in r], figures
    return cache, figures, done.stdout


def test_every_row_is_imported_and_exported_once(bench_run):
    cache, figures, _ = bench_run
    exported = (cache / "scale" / str(ROWS) / "export.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(exported) == ROWS
    assert len({line for line in exported}) == ROWS  # distinct rows, as the pool promises
    assert figures["export"]["rows"] == ROWS
    assert figures["import"]["rows_per_s"] == pytest.approx(ROWS / figures["import"]["seconds"])


def test_variants_sit_at_cosine_097_and_originals_keep_their_vectors(bench_run):
    cache, figures, _ = bench_run
    ws = Workspace(cache / "scale" / str(ROWS) / "ws")
    base = np.load(cache / "dolly_text_minilm_rows.npy")
    keys = text_keys(sample_text(record, "text") for _, record in samples.iter_records(ws))
    store = maps.default_store(ws)
    assert store is not None
    X = store.get(keys)
    np.testing.assert_allclose(X[:BASE_ROWS], base, atol=1e-6)
    cosine = np.einsum("nd,nd->n", X[BASE_ROWS:], base[: ROWS - BASE_ROWS])
    # E[cos] = 1 / sqrt(1 + d sigma^2) = 0.97 by the choice of sigma; 511 variants average it to +-0.001
    assert cosine.mean() == pytest.approx(0.97, abs=0.003)
    assert figures["embed"]["text_variant_cosine"] == pytest.approx(cosine.mean(), abs=1e-6)
    assert "prompt_variant_cosine" in figures["embed"]


def test_kcenter_and_vendi_figures_match_the_workspace_vectors(bench_run):
    cache, figures, stdout = bench_run
    assert figures["kcenter"]["k"] == ROWS // 100
    ws = Workspace(cache / "scale" / str(ROWS) / "ws")
    store = maps.default_store(ws)
    assert store is not None
    X = store.get(text_keys(sample_text(record, "text") for _, record in samples.iter_records(ws))).astype(np.float64)
    eig = np.linalg.eigvalsh(X.T @ X / len(X))  # the nonzero spectrum of the N x N cosine kernel / N
    eig = eig[eig > 1e-12]
    assert figures["vendi"]["vendi"] == pytest.approx(float(np.exp(-(eig * np.log(eig)).sum())), rel=1e-6)
    assert f"### {ROWS:,} rows" in stdout and "| export, rows/s |" in stdout
