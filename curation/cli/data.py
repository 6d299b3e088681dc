"""Data commands: import, info, export, decide, undo."""

from __future__ import annotations

import argparse
import json
from typing import Any

from curation.cli import ProgressPrinter, add_command
from curation.formats import exporter, importer, schemas
from curation.workspace import Workspace, decisions, samples


def register(sub: Any) -> None:
    p = add_command(sub, "import", cmd_import,
                    "Import a JSONL/JSON/CSV/TSV/Parquet file, a save_to_disk folder or a hub dataset name.")
    p.add_argument("source", help="file, folder, or Hugging Face dataset name")
    p.add_argument("--schema", metavar="NAME",
                   help=f"override the detected schema: {', '.join(schemas.SCHEMAS)} (or openai, chatml, trl, vicuna)")
    p.add_argument("--strict", action="store_true", help="stop at the first problem (default: skip and report)")
    p.add_argument("--split", default="train", help="split of a hub dataset (default: train)")
    p.add_argument("--json", action="store_true", help="print the import report as JSON")

    p = add_command(sub, "info", cmd_info, "Counts per source, decisions and length statistics of the pool.")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = add_command(sub, "export", cmd_export,
                    "Export the curated set (a run's iteration and/or decisions) as JSONL or Parquet.")
    p.add_argument("out", help="output file (.jsonl or .parquet)")
    p.add_argument("--format", dest="fmt", choices=exporter.FORMATS, default="messages",
                   help="alpaca | messages | sharegpt (JSONL) or parquet (default: messages)")
    p.add_argument("--parquet-schema", choices=("alpaca", "messages", "sharegpt"), default="messages",
                   help="row schema inside a Parquet file (default: messages)")
    p.add_argument("--run", type=int, help="export this run's selection")
    p.add_argument("--iteration", type=int, help="iteration of --run (default: the last completed)")
    p.add_argument("--decisions", choices=exporter.DECISION_FILTERS, default="not_rejected",
                   help="not_rejected (default), approved only, or any")
    p.add_argument("--provenance", action="store_true", help="add a _curation column: why each row was chosen")
    p.add_argument("--write-rejected", action="store_true", help="also write the rejected samples beside it")

    p = add_command(sub, "decide", cmd_decide, "Record a decision (approve, reject, clear, pin, unpin) on samples.")
    p.add_argument("action", choices=("approve", "reject", "clear", "pin", "unpin"))
    p.add_argument("ids", nargs="+", help="sample ids")
    p.add_argument("--reason", default="", help="why (kept in the decision log)")

    add_command(sub, "undo", cmd_undo, "Undo the most recent human decision (a whole bulk action at once).")


def cmd_import(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    report = importer.import_source(ws, args.source, schema=args.schema, strict=args.strict, hub_split=args.split,
                                    progress=ProgressPrinter("reading"))
    if args.json:
        print(json.dumps(report.__dict__, indent=2, default=str))
    else:
        print(report.summary())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    st = samples.stats(ws)
    counts = decisions.counts(ws)
    imports = importer.list_imports(ws)
    if args.json:
        print(json.dumps({"stats": st.__dict__, "decisions": counts, "imports": imports}, indent=2, default=str))
        return 0
    print(f"workspace {ws.root}")
    print(f"samples: {st.samples} distinct ({st.occurrences} rows imported, {st.multi_turn} multi-turn)")
    for source, n in st.by_source.items():
        print(f"  {n:>8}  {source}")
    for label, d in (("prompt chars", st.prompt_chars), ("response chars", st.response_chars)):
        if d:
            print(f"{label}: mean {d['mean']:.0f}, median {d['median']:.0f}, p90 {d['p90']:.0f},"
                  f" min {d['min']:.0f}, max {d['max']:.0f}")
    print("decisions: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for imp in imports:
        print(f"import {imp['import_id']}: {imp['source']} ({imp['schema']}): {imp['rows_read']} read,"
              f" {imp['new_samples']} new, {imp['duplicates']} duplicates, {imp['skipped']} skipped")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    spec = exporter.ExportSpec(fmt=args.fmt, parquet_schema=args.parquet_schema, run_id=args.run,
                               iteration=args.iteration, decisions=args.decisions, provenance=args.provenance,
                               write_rejected=args.write_rejected)
    result = exporter.export(ws, args.out, spec)
    print(f"wrote {result.count} samples to {result.path} (manifest {result.manifest_path.name})")
    if result.rejected_path:
        print(f"rejected samples in {result.rejected_path}")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    decisions.record(ws, args.ids, args.action, origin="human", reason=args.reason, actor="cli")
    print(f"{args.action}: {len(args.ids)} sample(s)")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    undone = decisions.undo_last(ws, origin="human")
    print(f"undid the last decision on {len(undone)} sample(s)" if undone else "nothing to undo")
    return 0
