"""decontaminate: reject the pool samples that duplicate rows of an evaluation file (undo: `undo --origin
decontaminate`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from curation.cli import ProgressPrinter, add_command
from curation.cli.data import cli_actor
from curation.cli.geometry import _config as embed_config_of
from curation.cli.geometry import _model_args as add_model_args
from curation.errors import CurationError
from curation.evaluation import decontamination
from curation.workspace import Workspace, samples

SNIPPET_CHARS = 60


def register(sub: Any) -> None:
    p = add_command(sub, "decontaminate", cmd_decontaminate,
                    "Reject the pool samples that duplicate rows of an evaluation file (exact or near duplicates),"
                    " so a benchmark stays out of the training data. Undo: undo --origin decontaminate.")
    p.add_argument("eval_file", metavar="EVAL_FILE", help="the evaluation set: any format import reads")
    p.add_argument("--cosine", type=float, default=decontamination.DecontaminationConfig.cosine,
                   help="near duplicates: cosine at or above this (default 0.9)")
    p.add_argument("--schema", metavar="NAME", help="the eval file's schema (default: detected)")
    p.add_argument("--no-exact", action="store_true", help="near duplicates only (skip identical-text matching)")
    p.add_argument("--dry-run", action="store_true", help="show the pairs, reject nothing")
    p.add_argument("--limit-pairs", type=int, default=20, metavar="N", help="pairs to print (default 20)")
    p.add_argument("--json", action="store_true", help="print the pairs and the outcome as JSON")
    add_model_args(p, default_field="text")


def cmd_decontaminate(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    if args.limit_pairs < 0:
        raise CurationError(f"--limit-pairs must be 0 or more, not {args.limit_pairs}")
    eval_set = decontamination.read_eval_file(args.eval_file, schema=args.schema)
    config = decontamination.DecontaminationConfig(cosine=args.cosine, field=args.field, exact=not args.no_exact)
    bar = ProgressPrinter("checking")
    try:
        pairs = decontamination.find_contamination(ws, eval_set.records, config=config, eval_lines=eval_set.lines,
                                                   embed_config=embed_config_of(args), progress=bar)
    finally:
        bar.close()
    rejected = 0 if args.dry_run else decontamination.reject_contaminated(ws, pairs, eval_set.name,
                                                                          actor=cli_actor())
    contaminated = len({p.sample_id for p in pairs})
    if args.json:
        print(json.dumps({"eval_file": eval_set.name, "cosine": args.cosine, "dry_run": args.dry_run,
                          "pairs": [p.__dict__ for p in pairs], "contaminated": contaminated,
                          "rejected": rejected}, indent=2))
        return 0
    shown = pairs[: args.limit_pairs]
    if shown:
        print("eval line  sample id         cosine  exact  eval text | sample text")
    for pair in shown:
        eval_text = _snippet(eval_set.records[pair.eval_index].prompt)
        sample = _snippet(samples.get(ws, pair.sample_id).prompt)
        print(f"{pair.eval_line:9d}  {pair.sample_id}  {pair.cosine:6.3f}  {'yes' if pair.exact else 'no ':5}"
              f"  {eval_text} | {sample}")
    if len(pairs) > len(shown):
        print(f"... {len(pairs) - len(shown)} more pairs (--limit-pairs N shows more)")
    summary = (f"{len(pairs)} pairs at cosine >= {args.cosine} between {len(eval_set.records)} rows of"
               f" {eval_set.name} and the pool; {contaminated} samples contaminated")
    if args.dry_run:
        print(f"{summary}; dry run: nothing rejected")
    else:
        print(f"{summary}; rejected {rejected} (undo: python -m curation undo --origin {decontamination.ORIGIN})")
    return 0


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"
