"""Geometry commands: embed (cached sentence embeddings of the pool) and dedup (exact and near duplicates)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from curation.backends import add_ray_arguments, from_args, resolve_backend
from curation.cli import ProgressPrinter, add_command
from curation.errors import CurationError
from curation.geometry import dedup
from curation.geometry.embed import DEFAULT_MODEL, FIELDS, EmbedConfig, embed_pool
from curation.workspace import Workspace, samples

PREVIEW = (0.85, 0.9, 0.93, 0.95, 0.97, 0.99, 1.0)


def register(sub: Any) -> None:
    p = add_command(sub, "embed", cmd_embed,
                    "Embed every sample (cached in the workspace: only texts not embedded before cost time).")
    _model_args(p, default_field="text")
    add_ray_arguments(p)

    p = add_command(sub, "dedup", cmd_dedup,
                    "Find exact and near duplicates and reject all but one sample of each group.")
    p.add_argument("--threshold", type=float, default=0.95, help="cosine similarity for near duplicates (0.95)")
    p.add_argument("--keeper", choices=("longest", "first"), default="longest",
                   help="which sample of a group stays: longest response (default) or first seen")
    p.add_argument("--exact-only", action="store_true", help="identical texts only: no embedding model")
    p.add_argument("--method", choices=dedup.METHODS, default="auto",
                   help="near-duplicate search: exact (default up to 200k rows on a CPU), flat (FAISS), ivf")
    p.add_argument("--dry-run", action="store_true", help="report what would be dropped, record nothing")
    p.add_argument("--show", type=int, default=10, help="groups to print (default 10)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _model_args(p, default_field="prompt")


def _model_args(p: argparse.ArgumentParser, *, default_field: str) -> None:
    p.add_argument("--field", choices=FIELDS, default=default_field,
                   help=f"text compared: whole conversation or system+user turns (default {default_field})")
    p.add_argument("--model", default=DEFAULT_MODEL, help="Hugging Face encoder name or local folder")
    p.add_argument("--max-length", type=int, help="tokens per text (default: the model's setting)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--allow-download", action="store_true", help="let a hub model download (default: offline)")


def _config(args: argparse.Namespace) -> EmbedConfig:
    return EmbedConfig(model=args.model, max_length=args.max_length, device=args.device,
                       local_files_only=not args.allow_download)


def cmd_embed(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    if samples.count(ws) == 0:
        raise CurationError(f"workspace {ws.root} has no samples; import some first")
    start = time.perf_counter()
    config = _config(args)
    encode = resolve_backend(from_args(args)).encode_fn(config)
    X = embed_pool(ws, config, field=args.field, progress=ProgressPrinter("embedding"), encode=encode)
    print(f"{len(X)} samples embedded ({X.shape[1]} dims, field {args.field}) in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    if not 0 < args.threshold <= 1:
        raise CurationError(f"--threshold must be in (0, 1], got {args.threshold}")
    if samples.count(ws) == 0:
        raise CurationError(f"workspace {ws.root} has no samples; import some first")
    floor = min(args.threshold, PREVIEW[0])
    pool = dedup.scan_pool(ws, field=args.field, floor=floor, method=args.method, near=not args.exact_only,
                           embed_config=_config(args), progress=ProgressPrinter("scanning"))
    preview = pool.scan.preview(sorted({args.threshold, *(t for t in PREVIEW if t >= floor)}))
    outcome = dedup.apply(ws, pool, args.threshold, keeper=args.keeper, dry_run=args.dry_run)
    groups = pool.scan.groups(args.threshold)
    if args.json:
        print(json.dumps({
            "threshold": args.threshold, "dry_run": args.dry_run, "batch": outcome.batch,
            "preview": [c.__dict__ for c in preview],
            "dropped": [{"id": i, "reason": r} for i, r in zip(outcome.dropped_ids, outcome.reasons)],
        }, indent=2))
        return 0
    print("threshold  pairs  groups  dropped")
    for c in preview:
        print(f"{c.threshold:9.3f}  {c.pairs:5d}  {c.groups:6d}  {c.dropped:7d}")
    by_row = {d.row: d for d in outcome.drops}
    for group in groups[: args.show]:
        print(f"group of {len(group)}:")
        for row in group:
            text = samples.get(ws, pool.ids[row]).prompt.replace("\n", " ")[:70]
            mark = f"drop ({dedup.reason(by_row[row], pool.ids[by_row[row].keeper])})" if row in by_row else "keep"
            print(f"  {pool.ids[row]}  {mark}: {text}")
    verb = "would reject" if args.dry_run else "rejected"
    n_groups = len(groups)
    print(f"{n_groups} groups at cosine >= {args.threshold}; {verb} {len(outcome.dropped_ids)} samples"
          + ("" if args.dry_run or not outcome.batch else f" (decision batch {outcome.batch})"))
    return 0
