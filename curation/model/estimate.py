"""How long will it take? Seconds for scoring or a training round, from measured throughput.

Work is proportional to tokens x parameters. The constants are "token-parameters per second" measured with
bench/bench_scoring.py and bench/bench_training.py (SmolLM2-135M on 2 busy CPU cores, bf16 autocast); other
models scale by their parameter count. They are only the fallback: a measured `tokens_per_second` replaces them,
either this machine's calibration (`curation.model.calibration`, which `estimate_for` and the run estimates in
`curation.methods.estimate` read when it is cached) or TrainResult.tokens_per_second from a previous round.
"""

from __future__ import annotations

from collections.abc import Sequence

from curation.model.formatting import Formatter
from curation.model.loading import LoadedModel
from curation.records import Record

DEFAULT_PARAMETERS = 134.5e6  # SmolLM2-135M
# tokens/s x parameters, measured on the 2-core CI machine (see bench/README.md, "Model engine")
CPU_SCORE_RATE = 1_400 * DEFAULT_PARAMETERS  # forward only, bf16 autocast, length-bucketed batches
CPU_TRAIN_RATE = 330 * DEFAULT_PARAMETERS  # LoRA forward + backward, bf16 autocast, batch 8 x <=256 tokens
GPU_SPEEDUP = 40.0  # a rough figure for a single modern GPU in bf16; measure on yours
DIRECT_CONTEXT_TOKENS = 30  # template tokens around the response in IFD's direct pass


def estimate_seconds(
    n_samples: int,
    mean_tokens: float,
    *,
    task: str = "score",
    epochs: int = 1,
    ifd: bool = True,
    mean_response_tokens: float | None = None,
    n_parameters: float = DEFAULT_PARAMETERS,
    device: str = "cpu",
    tokens_per_second: float | None = None,
) -> float:
    """Seconds to score `n_samples` (task="score") or train on them for `epochs` (task="train").

    `mean_tokens` is per sample after formatting and truncation; scoring with `ifd` adds the direct pass
    (the response plus a few template tokens).
    """
    if task not in ("score", "train"):
        raise ValueError("task must be 'score' or 'train'")
    tokens = n_samples * mean_tokens
    if task == "score" and ifd:
        response = mean_response_tokens if mean_response_tokens is not None else mean_tokens / 2
        tokens += n_samples * (response + DIRECT_CONTEXT_TOKENS)
    if task == "train":
        tokens *= epochs
    if tokens_per_second:
        return tokens / tokens_per_second
    rate = CPU_SCORE_RATE if task == "score" else CPU_TRAIN_RATE
    if device != "cpu":
        rate *= GPU_SPEEDUP
    return tokens * n_parameters / rate


def estimate_for(lm: LoadedModel, records: Sequence[Record], *, task: str = "score", max_length: int = 512,
                 epochs: int = 1, ifd: bool = True, tokens_per_second: float | None = None,
                 lora: bool = True) -> float:
    """Same, measuring the records' token counts with the model's tokenizer and template; priced with this
    machine's cached calibration for the model when there is one (a training call then adds its set-up)."""
    from curation.model.calibration import key_for, rates_for

    if not records:
        return 0.0
    formatted = Formatter(lm.tokenizer, lm.template, max_length).format(records)
    mean_tokens = sum(len(f.input_ids) for f in formatted) / len(formatted)
    mean_response = sum(f.n_response for f in formatted) / len(formatted)
    fixed = 0.0
    if tokens_per_second is None:
        rates = rates_for(key_for(lm.base, lora=lora))
        if rates is not None:
            tokens_per_second = rates.score_tokens_per_s if task == "score" else rates.train_tokens_per_s
            fixed = rates.warmup_s if task == "score" else rates.train_setup_s
    return fixed + estimate_seconds(len(records), mean_tokens, task=task, epochs=epochs, ifd=ifd,
                                    mean_response_tokens=mean_response, n_parameters=lm.n_parameters,
                                    device=lm.device.type, tokens_per_second=tokens_per_second)


def describe_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
