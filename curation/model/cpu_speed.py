"""Which CPU speed-up is adopted for which CPU capability, and the bar an option must meet (issue 14).

An option is adopted for a capability only when `bench/bench_cpu_speed.py` measured it at >= 1.3x the fp32
scoring throughput with Spearman >= 0.99 against fp32 for both NLL and IFD on Dolly rows. The figures
it recorded are `MEASURED` (bench/README.md, "CPU speed", has the full table). Only bf16 autocast passed,
and only where the CPU has native bf16; its switch is `decide_precision`'s autocast rule
(`ScoreConfig(autocast="off")`, `score --fp32`), which this module's verdict must agree with (tested).
Int8 dynamic quantisation is fast enough but loses the ranking (Spearman ~0.8-0.9); ONNX Runtime (1.01x)
and torch.compile's steady state (1.11x, after ~160 s of compiling) keep it but are not fast enough; so a CPU
without native bf16 keeps plain fp32, and training stays fp32 there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from curation.errors import CurationError

Capability = Literal["native_bf16", "fp32_only"]
CAPABILITIES: tuple[Capability, ...] = ("native_bf16", "fp32_only")
MIN_SPEEDUP = 1.3
MIN_SPEARMAN = 0.99


@dataclass(frozen=True)
class Measured:
    """One option's figures against fp32 scoring on one kind of CPU."""

    option: str
    capability: Capability
    speedup: float  # samples/s over the fp32 path's
    spearman_nll: float
    spearman_ifd: float


def meets_bar(speedup: float, spearman_nll: float, spearman_ifd: float) -> bool:
    """The adoption bar: fast enough, and the NLL and IFD rankings kept (NaN figures never pass)."""
    return speedup >= MIN_SPEEDUP and spearman_nll >= MIN_SPEARMAN and spearman_ifd >= MIN_SPEARMAN


def capability(native_bf16: bool) -> Capability:
    return "native_bf16" if native_bf16 else "fp32_only"


# Recorded by bench/bench_cpu_speed.py on an Intel Xeon with AMX (2 cores, SmolLM2-135M, chat template, max
# length 256, NLL + IFD, the first 500 Dolly rows; torch.compile on the first 100). A CPU without native bf16
# runs the fp32 path, so the rows measured with autocast off stand for it; bf16 autocast is no option there
# (emulated bf16 is slower). ONNX Runtime and torch.compile keep the scores exactly but are not faster.
MEASURED: tuple[Measured, ...] = (
    Measured("bf16_autocast", "native_bf16", 2.08, 0.99995, 0.99968),
    Measured("int8_dynamic_per_tensor", "fp32_only", 1.59, 0.872, 0.795),
    Measured("int8_dynamic_per_channel", "fp32_only", 1.43, 0.890, 0.808),
    Measured("onnx_runtime", "fp32_only", 1.01, 1.0, 1.0),
    Measured("torch_compile_steady_state", "fp32_only", 1.11, 1.0, 1.0),
)


def adopted(cap: str, measured: tuple[Measured, ...] = MEASURED) -> tuple[str, ...]:
    """The options adopted for a CPU capability: those whose figures there meet the bar, in recorded order."""
    if cap not in CAPABILITIES:
        raise CurationError(f"unknown CPU capability {cap!r}; use {' or '.join(CAPABILITIES)}")
    return tuple(m.option for m in measured
                 if m.capability == cap and meets_bar(m.speedup, m.spearman_nll, m.spearman_ifd))
