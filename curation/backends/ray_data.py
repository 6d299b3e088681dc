"""The Ray backend: per-sample passes as Ray Data `map_batches` over a pool of actors.

Each actor loads its model once (`EmbedActor`: the sentence encoder; `LMActor`: a causal LM described by
`model_ref`) and runs the same in-process functions on its batches (`Encoder.encode`, `score_records`,
`embed_records`), so the numbers are the in-process path's. Actors only compute: results come back to the
driver, which writes the workspace stores as before (embed_texts, score_samples), each key once. An actor
that dies is restarted by Ray and its batch retried (Ray Data's actor pools set max_restarts and
max_task_retries to -1); a batch's rows are counted on arrival and a duplicate is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from curation.backends.config import BackendConfig
from curation.errors import Cancelled, CurationError
from curation.records import Record, record_from_json, record_to_json

Progress = Callable[[int, int, str], None]
INSTALL = "install ray: pip install -r requirements-ray.txt"
_RESULT_ARRAYS = ("status", "nll", "n_tokens", "ppl", "nll_direct", "n_tokens_direct", "ppl_direct", "ifd",
                  "truncated")


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise CurationError(f"the Ray backend needs Ray; {INSTALL}") from None
    return ray


def connect(config: BackendConfig) -> Any:
    """Join (address auto / ray://...) or start (local) the cluster once per process."""
    ray = import_ray()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        try:
            ray.init(**kwargs) if config.address == "local" else ray.init(address=config.address, **kwargs)
        except ConnectionError as exc:
            raise CurationError(f"cannot reach the Ray cluster at {config.address!r}: {exc}") from exc
        ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def _device() -> str:
    import ray

    return "cuda" if ray.get_gpu_ids() else "cpu"


class EmbedActor:
    """The sentence encoder, loaded once per actor; batches of {"idx", "text"} -> {"idx", "vec"}."""

    def __init__(self, config: Any, spec: Any):
        from dataclasses import replace

        from curation.geometry.embed import Encoder

        self.encoder = Encoder(replace(config, device=_device()))
        if spec is not None and self.encoder.spec != spec:
            raise CurationError(f"a worker's encoder {self.encoder.spec} does not match the cache {spec}")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"idx": batch["idx"], "vec": self.encoder.encode([str(t) for t in batch["text"]])}


class LMActor:
    """A causal LM, loaded once per actor; batches of {"idx", "record"} -> score arrays or pooled states."""

    def __init__(self, ref: dict[str, Any], task: dict[str, Any]):
        from curation.backends import model_ref

        self.lm = model_ref.load(ref, _device())
        self.task = task

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import json

        from curation.model.scoring import embed_records, score_records

        records = [record_from_json(json.loads(str(r))) for r in batch["record"]]
        if self.task["kind"] == "embed":
            vec = embed_records(self.lm, records, pooling=self.task["pooling"], max_length=self.task["max_length"])
            return {"idx": batch["idx"], "vec": vec}
        result = score_records(self.lm, records, config=self.task["config"], sample_ids=["-"] * len(records))
        out = {"idx": batch["idx"], **{k: np.asarray(getattr(result, k)) for k in _RESULT_ARRAYS}}
        out.update({f"emb_{p}": v for p, v in result.embeddings.items()})
        out.update({f"unc_{k}": v for k, v in result.uncertainty.items()})
        return out


class RayBackend:
    kind = "ray"

    def __init__(self, config: BackendConfig, ws_root: Any = None):
        self.config, self.ws_root = config, ws_root
        import_ray()  # a missing install fails here, before any work

    # -- the hooks the stores call (embed_texts(encode=...), score_samples(compute=...)) ---------------
    def encode_fn(self, config: Any) -> Callable[..., np.ndarray]:
        from curation.geometry.embed import store_spec

        spec = store_spec(config)  # the workers' encoders are checked against the cache's spec
        return lambda texts, progress=None, should_stop=None: self.encode(
            config, texts, progress=progress, should_stop=should_stop, spec=spec)

    def score_fn(self) -> Callable[..., Any]:
        return self.score_records

    # -- the passes -------------------------------------------------------------------------------------
    def encode(self, config: Any, texts: Sequence[str], *, progress: Progress | None = None,
               should_stop: Callable[[], bool] | None = None, spec: Any = None) -> np.ndarray:
        """Sentence vectors for `texts`, float32 [n, dim], in input order (as `Encoder.encode`)."""
        rows = [{"idx": i, "text": t} for i, t in enumerate(texts)]
        got = self._run(rows, EmbedActor, {"config": config, "spec": spec}, "embedding", progress, should_stop)
        return _column(got, "vec", len(texts))

    def score_records(self, lm: Any, records: Sequence[Record], *, config: Any, sample_ids: Sequence[str] | None = None,
                      progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> Any:
        """`curation.model.scoring.score_records` on the actors: the same ScoreResult."""
        from curation.backends import model_ref
        from curation.model.scoring import ScoreResult

        started = time.time()
        got = self._run(_record_rows(records), LMActor, {"ref": model_ref.describe(lm, self.ws_root),
                                                         "task": {"kind": "score", "config": config}},
                        "scoring", progress, should_stop)
        n = len(records)
        arrays = {k: _column(got, k, n) for k in _RESULT_ARRAYS}
        arrays["status"] = arrays["status"].astype("<U16")
        ids = tuple(sample_ids) if sample_ids is not None else tuple(r.id for r in records)
        return ScoreResult(sample_ids=ids, **arrays, model_key=lm.model_key, seconds=time.time() - started,
                           embeddings={p: _column(got, f"emb_{p}", n) for p in config.pooling},
                           uncertainty={k[4:]: _column(got, k, n) for k in (got[0] if got else {})
                                        if k.startswith("unc_")})

    def embed_records(self, lm: Any, records: Sequence[Record], *, pooling: str = "mean", max_length: int = 512,
                      progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """`curation.model.scoring.embed_records` on the actors."""
        from curation.backends import model_ref

        task = {"kind": "embed", "pooling": pooling, "max_length": max_length}
        got = self._run(_record_rows(records), LMActor, {"ref": model_ref.describe(lm, self.ws_root), "task": task},
                        "embedding", progress, should_stop)
        return _column(got, "vec", len(records))

    # -- one Ray Data pass ------------------------------------------------------------------------------
    def _run(self, rows: list[dict[str, Any]], actor: type, kwargs: dict[str, Any], what: str,
             progress: Progress | None, should_stop: Callable[[], bool] | None) -> list[dict[str, np.ndarray]]:
        """Batches of results, each input row exactly once (order restored by `_column`)."""
        if not rows:
            return []
        ray = connect(self.config)
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else None
        batch = self.config.batch_rows
        ds = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // batch)))
        out = ds.map_batches(actor, fn_constructor_kwargs=kwargs, batch_size=batch, batch_format="numpy",
                             compute=ray.data.ActorPoolStrategy(size=self.config.actors), num_gpus=gpus,
                             num_cpus=self.config.cpus_per_actor)
        seen = np.zeros(len(rows), bool)
        got: list[dict[str, np.ndarray]] = []
        try:
            self._collect(out, seen, got, what, progress, should_stop)
        except ray.exceptions.RayError as exc:  # a worker's error arrives wrapped: keep its message, in one line
            cause = getattr(exc, "cause", None) or exc
            raise CurationError(f"the Ray {what} pass failed: {str(cause).strip().splitlines()[-1]}") from exc
        if not seen.all():
            raise CurationError(f"Ray returned {int(seen.sum())} of {len(rows)} rows during {what}")
        return got

    @staticmethod
    def _collect(out: Any, seen: np.ndarray, got: list[dict[str, np.ndarray]], what: str,
                 progress: Progress | None, should_stop: Callable[[], bool] | None) -> None:
        for part in out.iter_batches(batch_size=None, batch_format="numpy"):
            if should_stop is not None and should_stop():
                raise Cancelled(f"{what} cancelled after {int(seen.sum())} of {len(seen)} samples")
            idx = np.asarray(part["idx"], np.int64)
            if seen[idx].any():
                raise CurationError(f"Ray returned sample rows twice during {what}; nothing was stored")
            seen[idx] = True
            got.append(part)
            if progress is not None:
                progress(int(seen.sum()), len(seen), what)


def _record_rows(records: Sequence[Record]) -> list[dict[str, Any]]:
    """Rows longest first, so each batch holds similar lengths (little padding inside the actor)."""
    import json

    order = np.argsort([-len(r.text()) for r in records], kind="stable")
    return [{"idx": int(i), "record": json.dumps(record_to_json(records[i]))} for i in order]


def _column(got: list[dict[str, np.ndarray]], key: str, n: int) -> np.ndarray:
    """One result column over every batch, back in input order."""
    if not got:
        return np.zeros(0, np.float32)
    idx = np.concatenate([np.asarray(b["idx"], np.int64) for b in got])
    values = np.concatenate([np.asarray(b[key]) for b in got])
    out = np.empty((n, *values.shape[1:]), values.dtype)
    out[idx] = values
    return out
