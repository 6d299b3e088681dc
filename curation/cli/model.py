"""Model commands: score (NLL, PPL, IFD, pooled states into the workspace) and train (a fine-tuning round).

torch and transformers are imported inside the commands, so other commands stay fast to start.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from curation.backends import add_ray_arguments, from_args, resolve_backend
from curation.cli import ProgressPrinter, add_command
from curation.errors import CurationError
from curation.workspace import Workspace


def register(sub: Any) -> None:
    p = add_command(sub, "score", cmd_score,
                    "Score samples with a model: response NLL, perplexity, IFD, optional pooled hidden states.")
    _model_args(p)
    _sample_args(p)
    p.add_argument("--max-length", type=int, default=512, help="tokens per sample (default 512)")
    p.add_argument("--no-ifd", action="store_true", help="skip the response-alone pass (no IFD; ~1.4x faster)")
    p.add_argument("--pooling", action="append", choices=("mean", "response", "last"), default=[],
                   help="also store pooled last hidden states (repeatable)")
    p.add_argument("--uncertainty", action="store_true", help="also mean max logit, margin and entropy")
    p.add_argument("--batch-tokens", type=int, default=4096, help="padded tokens per forward pass")
    p.add_argument("--recompute", action="store_true", help="ignore scores already stored for these weights")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast (exact fp32; the same as --autocast off)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_ray_arguments(p)

    p = add_command(sub, "train", cmd_train,
                    "Fine-tune a model on samples for some epochs (LoRA by default) and save a checkpoint.")
    _model_args(p)
    _sample_args(p)
    p.add_argument("--save", required=True, metavar="NAME", help="checkpoint name to save under")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--lr", type=float, help="learning rate (default 2e-4 LoRA, 2e-5 full)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--full", action="store_true", help="train every weight instead of a LoRA adapter")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--estimate", action="store_true", help="only print how long it would take")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="HF model name or folder (default: SmolLM2-135M-Instruct)")
    p.add_argument("--checkpoint", help="start from this workspace checkpoint instead")
    p.add_argument("--template", choices=("auto", "chat", "alpaca"), default="auto")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: a GPU when present)")
    p.add_argument("--dtype", choices=("auto", "fp32", "bf16"), default="auto",
                   help="weight dtype (default auto: fp32 everywhere; bf16 halves memory, and in `train` trains"
                        " pure bf16, which drops small updates)")
    p.add_argument("--autocast", choices=("auto", "bf16", "off"), default="auto",
                   help="bf16 autocast of fp32 weights (default auto: where the hardware has native bf16)")
    p.add_argument("--trust-remote-code", action="store_true", help="run code shipped with the model")


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ids-file", type=Path, help="file with one sample id per line (default: every sample)")
    p.add_argument("--status", choices=("approved", "pending", "rejected"), help="only samples with this decision")
    p.add_argument("--limit", type=int, help="at most this many samples (in pool order)")


def _load(args: argparse.Namespace, ws: Workspace) -> Any:
    from curation import model

    if args.checkpoint:
        if args.model:
            raise CurationError("give --model or --checkpoint, not both (a checkpoint knows its base model)")
        return model.load_checkpoint(ws, args.checkpoint, device=args.device, dtype=args.dtype)
    return model.load_model(args.model, device=args.device, dtype=args.dtype,
                            trust_remote_code=args.trust_remote_code, template=args.template)


def _select_ids(args: argparse.Namespace, ws: Workspace) -> list[str]:
    from curation.workspace import decisions, samples

    ids = samples.ids(ws)
    if args.ids_file:
        try:
            wanted = [line.strip() for line in args.ids_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise CurationError(f"cannot read {args.ids_file}: {exc.strerror}") from None
        known = set(ids)
        unknown = [(n + 1, s) for n, s in enumerate(wanted) if s not in known]
        if unknown:
            raise CurationError(f"{args.ids_file}:{unknown[0][0]}: no sample with id {unknown[0][1]}")
        ids = wanted
    if args.status:
        if args.status == "pending":
            decided = set(decisions.ids_with(ws, status="approved")) | set(decisions.ids_with(ws, status="rejected"))
            ids = [s for s in ids if s not in decided]
        else:
            chosen = set(decisions.ids_with(ws, status=args.status))
            ids = [s for s in ids if s in chosen]
    if args.limit is not None:
        ids = ids[: args.limit]
    if not ids:
        raise CurationError(f"no samples to use in {ws.root} (import data first, or widen the selection)")
    return ids


def cmd_score(args: argparse.Namespace) -> int:
    from curation import model

    ws = Workspace(args.workspace)
    ids = _select_ids(args, ws)
    lm = _load(args, ws)
    config = model.ScoreConfig(max_length=args.max_length, ifd=not args.no_ifd, pooling=tuple(args.pooling),
                               uncertainty=args.uncertainty, batch_tokens=max(args.batch_tokens, args.max_length),
                               autocast="off" if args.fp32 else args.autocast)
    started = time.perf_counter()
    result = model.score_samples(ws, lm, ids, config=config, recompute=args.recompute,
                                 progress=ProgressPrinter("scoring"),
                                 compute=resolve_backend(from_args(args), ws_root=ws.root).score_fn())
    # score_samples returns what the store holds (seconds 0): the wall time of this command's scoring is ours
    result = dataclasses.replace(result, seconds=time.perf_counter() - started)
    unscorable = result.unscorable()
    if args.json:
        print(json.dumps({"model_key": result.model_key, "samples": len(ids), "seconds": result.seconds,
                          "unscorable": unscorable,
                          "setup": model.setup_key(lm, config), "summary": result.summary()}, indent=2))
    else:
        print(f"model {result.model_key}: {result.summary()}")
        for sid, why in list(unscorable.items())[:10]:
            print(f"  unscorable {sid}: {why}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from curation import model
    from curation.workspace import samples

    ws = Workspace(args.workspace)
    ids = _select_ids(args, ws)
    records = samples.get_many(ws, ids)
    config = model.TrainConfig(epochs=args.epochs, max_steps=args.max_steps, learning_rate=args.lr,
                               batch_size=args.batch_size, grad_accum=args.grad_accum, max_length=args.max_length,
                               lora=not args.full, lora_r=args.lora_r,
                               gradient_checkpointing=args.gradient_checkpointing, dtype=args.dtype,
                               autocast=args.autocast)
    lm = _load(args, ws)
    ordered = [records[i] for i in ids]
    seconds = model.estimate_for(lm, ordered, task="train", max_length=args.max_length, epochs=args.epochs,
                                 lora=not args.full)
    print(f"training on {len(ids)} samples for {args.epochs} epoch(s): {model.describe_seconds(seconds)}")
    if args.estimate:
        return 0
    result = model.train(lm, ordered, config=config, seed=args.seed, progress=ProgressPrinter("training"))
    key = model.save_checkpoint(ws, lm, args.save, metadata={"sample_ids": ids, "seed": args.seed,
                                                             "losses": result.losses})
    first, last = result.losses[0], result.losses[-1]
    print(f"{result.steps} steps in {result.seconds:.0f} s ({result.tokens_per_second:.0f} tokens/s);"
          f" loss {first:.4f} -> {last:.4f}; saved checkpoint {args.save} ({key})")
    if result.skipped:
        print(f"skipped {len(result.skipped)} samples whose response does not fit in {args.max_length} tokens")
    return 0
