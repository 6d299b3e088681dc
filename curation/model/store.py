"""Scores in the workspace, keyed by (model key, setup, sample id): computed once per set of weights.

Numbers go to the `sample_scores` table (fp32 values as REAL; NULL where a sample is unscorable, with the
reason in `status`). Pooled hidden states go to float32 arrays under
`model_embeddings/<model dir>/`: a matrix and the sample ids of its rows, named by a small pointer file
(`<setup>-<pooling>.json`) that is replaced last, so readers always see a matching pair.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from curation.model.distributed import World
from curation.model.loading import LoadedModel
from curation.model.scoring import UNCERTAINTY, ScoreConfig, ScoreResult, score_records
from curation.workspace import samples
from curation.workspace.arrays import atomic_write_text, load_array, save_array
from curation.workspace.db import Workspace

_COLUMNS = ("status", "truncated", "nll", "n_tokens", "ppl", "nll_direct", "n_tokens_direct", "ppl_direct", "ifd",
            *UNCERTAINTY)


def setup_key(lm: LoadedModel, config: ScoreConfig) -> str:
    payload = json.dumps(config.fingerprint(config.template_for(lm)), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def model_dir(model_key: str) -> str:
    """A folder name for a model key: readable slug plus a hash (keys hold paths and '::')."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key.rsplit("/", 1)[-1])[:60]
    return f"{slug}-{hashlib.sha256(model_key.encode()).hexdigest()[:10]}"


def score_samples(
    ws: Workspace,
    lm: LoadedModel,
    sample_ids: Sequence[str] | None = None,
    *,
    config: ScoreConfig = ScoreConfig(),
    recompute: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    compute: Callable[..., ScoreResult] | None = None,
) -> ScoreResult:
    """Scores of workspace samples (all of them by default) under `lm`'s current weights, cached.

    Only samples missing something that `config` asks for are run through the model. `compute` stands in
    for `score_records` (a backend's, `curation.backends`); this process still writes the store.
    """
    ids = list(samples.ids(ws) if sample_ids is None else dict.fromkeys(sample_ids))
    setup = setup_key(lm, config)
    todo = ids if recompute else _missing(ws, lm.model_key, setup, ids, config)
    if todo:
        records = samples.get_many(ws, todo)
        result = (compute or score_records)(lm, [records[i] for i in todo], config=config, sample_ids=todo,
                                            progress=progress, should_stop=should_stop)
        if World.current().is_main:  # every process holds the full result; one writes it
            _write(ws, result, setup)
    return load_scores(ws, lm.model_key, ids, setup=setup, poolings=config.pooling)


def _missing(ws: Workspace, model_key: str, setup: str, ids: list[str], config: ScoreConfig) -> list[str]:
    need = []
    if config.nll:
        need.append("n_tokens")
    if config.ifd:
        need.append("n_tokens_direct")
    if config.uncertainty:
        need.append("entropy")
    have: set[str] = set()
    for chunk in _chunks(ids):
        cond = " AND ".join([f"({c} IS NOT NULL OR status != 'ok')" for c in need] or ["1"])
        rows = ws.query(f"SELECT sample_id FROM sample_scores WHERE model_key = ? AND setup = ? AND {cond}"
                        f" AND sample_id IN ({','.join('?' * len(chunk))})", (model_key, setup, *chunk))
        have.update(r[0] for r in rows)
    for pooling in config.pooling:
        stored = _stored_ids(ws, model_key, setup, pooling)
        have &= stored
    return [i for i in ids if i not in have]


def _write(ws: Workspace, result: ScoreResult, setup: str) -> None:
    now = time.time()
    rows = []
    for i, sid in enumerate(result.sample_ids):
        values = {"status": str(result.status[i]), "truncated": int(result.truncated[i])}
        ok = result.status[i] == "ok"
        for name in ("nll", "ppl", "nll_direct", "ppl_direct", "ifd"):
            v = float(getattr(result, name)[i])
            values[name] = v if ok and np.isfinite(v) else None
        for name in ("n_tokens", "n_tokens_direct"):
            v = int(getattr(result, name)[i])
            values[name] = v if ok and v > 0 else None
        for name in UNCERTAINTY:
            arr = result.uncertainty.get(name)
            values[name] = float(arr[i]) if arr is not None and ok else None
        rows.append((result.model_key, setup, sid, *[values[c] for c in _COLUMNS], now))
    marks = ",".join("?" * (len(_COLUMNS) + 4))
    # keep values a narrower earlier pass stored (e.g. IFD) when this pass did not compute them
    update = ", ".join(f"{c} = COALESCE(excluded.{c}, {c})" if c not in ("status", "truncated")
                       else f"{c} = excluded.{c}" for c in _COLUMNS)
    with ws.transaction() as conn:
        conn.executemany(
            f"INSERT INTO sample_scores(model_key, setup, sample_id, {', '.join(_COLUMNS)}, created) VALUES ({marks})"
            f" ON CONFLICT(model_key, setup, sample_id) DO UPDATE SET {update}, created = excluded.created", rows)
    for pooling, matrix in result.embeddings.items():
        _merge_embeddings(ws, result.model_key, setup, pooling, list(result.sample_ids), matrix)


def load_scores(ws: Workspace, model_key: str, sample_ids: Sequence[str], *, setup: str,
                poolings: Sequence[str] = ()) -> ScoreResult:
    """Stored scores for `sample_ids` (status "missing" for samples never scored under this key)."""
    ids = list(sample_ids)
    pos = {s: i for i, s in enumerate(ids)}
    n = len(ids)
    floats = {c: np.full(n, np.nan, np.float32) for c in ("nll", "ppl", "nll_direct", "ppl_direct", "ifd",
                                                          *UNCERTAINTY)}
    ints = {c: np.zeros(n, np.int32) for c in ("n_tokens", "n_tokens_direct")}
    status = np.full(n, "missing", dtype="<U16")
    truncated = np.zeros(n, bool)
    have_unc = False
    for chunk in _chunks(ids):
        rows = ws.query(f"SELECT sample_id, {', '.join(_COLUMNS)} FROM sample_scores WHERE model_key = ? AND"
                        f" setup = ? AND sample_id IN ({','.join('?' * len(chunk))})", (model_key, setup, *chunk))
        for r in rows:
            i = pos[r["sample_id"]]
            status[i], truncated[i] = r["status"], bool(r["truncated"])
            for c in floats:
                if r[c] is not None:
                    floats[c][i] = r[c]
                    have_unc |= c in UNCERTAINTY
            for c in ints:
                ints[c][i] = r[c] or 0
    embeddings = {p: load_embeddings(ws, model_key, setup, p, ids) for p in poolings}
    return ScoreResult(sample_ids=tuple(ids), status=status, truncated=truncated, embeddings=embeddings,
                       uncertainty={c: floats[c] for c in UNCERTAINTY} if have_unc else {}, model_key=model_key,
                       nll=floats["nll"], ppl=floats["ppl"], nll_direct=floats["nll_direct"],
                       ppl_direct=floats["ppl_direct"], ifd=floats["ifd"], n_tokens=ints["n_tokens"],
                       n_tokens_direct=ints["n_tokens_direct"])


def _emb_folder(ws: Workspace, model_key: str) -> Path:
    return ws.path("model_embeddings", model_dir(model_key), "x").parent


def _emb_files(ws: Workspace, model_key: str, setup: str, pooling: str) -> tuple[Path, Path] | None:
    """(matrix, ids) named by the pointer file, which is replaced last: a crash never pairs mismatched files."""
    pointer = _emb_folder(ws, model_key) / f"{setup}-{pooling}.json"
    if not pointer.exists():
        return None
    names = json.loads(pointer.read_text(encoding="utf-8"))
    return pointer.parent / names["matrix"], pointer.parent / names["ids"]


def _stored_ids(ws: Workspace, model_key: str, setup: str, pooling: str) -> set[str]:
    files = _emb_files(ws, model_key, setup, pooling)
    return set(load_array(files[1]).tolist()) if files else set()


def load_embeddings(ws: Workspace, model_key: str, setup: str, pooling: str, sample_ids: Sequence[str]) -> np.ndarray:
    """float32 [len(sample_ids), hidden]; NaN rows for samples without a stored vector."""
    files = _emb_files(ws, model_key, setup, pooling)
    if files is None:
        return np.full((len(sample_ids), 0), np.nan, np.float32)
    matrix, stored = load_array(files[0], mmap=True), load_array(files[1]).tolist()
    row = {s: i for i, s in enumerate(stored)}
    found = [i for i, s in enumerate(sample_ids) if s in row]
    out = np.full((len(sample_ids), matrix.shape[1]), np.nan, np.float32)
    out[found] = matrix[[row[sample_ids[i]] for i in found]]
    return out


def _merge_embeddings(ws: Workspace, model_key: str, setup: str, pooling: str, ids: list[str],
                      matrix: np.ndarray) -> None:
    folder = _emb_folder(ws, model_key)
    old = _emb_files(ws, model_key, setup, pooling)
    if old is not None:
        old_ids = load_array(old[1]).tolist()
        new = set(ids)
        keep = [i for i, s in enumerate(old_ids) if s not in new]
        matrix = np.concatenate([load_array(old[0])[keep], matrix]) if keep else matrix
        ids = [old_ids[i] for i in keep] + ids
    version = uuid.uuid4().hex[:8]
    names = {"matrix": f"{setup}-{pooling}.{version}.npy", "ids": f"{setup}-{pooling}.{version}.ids.npy"}
    save_array(folder / names["matrix"], np.ascontiguousarray(matrix, dtype=np.float32))
    save_array(folder / names["ids"], np.array(ids, dtype="<U64"))
    atomic_write_text(folder / f"{setup}-{pooling}.json", json.dumps(names))
    atomic_write_text(folder / "model_key.txt", model_key + "\n")
    if old is not None:
        for path in old:
            path.unlink(missing_ok=True)


def _chunks(ids: Sequence[str], size: int = 900) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])
