"""Data commands: import, info, export, decide, undo."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from curation.cli import ProgressPrinter, add_command
from curation.errors import CurationError
from curation.formats import exporter, importer, schemas
from curation.formats.text_lines import MAX_LINE_BYTES
from curation.workspace import Workspace, decisions, samples


def register(sub: Any) -> None:
    p = add_command(sub, "import", cmd_import,
                    "Import a JSONL/JSON/CSV/TSV/Parquet file, a save_to_disk folder or a hub dataset name.")
    p.add_argument("source", help="file, folder, or Hugging Face dataset name")
    p.add_argument("--schema", metavar="NAME",
                   help=f"override the detected schema: {', '.join(schemas.SCHEMAS)} (or openai, chatml, trl, vicuna)")
    p.add_argument("--strict", action="store_true", help="stop at the first problem (default: skip and report)")
    p.add_argument("--split", default="train", help="split of a hub dataset (default: train)")
    p.add_argument("--max-line-mib", type=float, default=MAX_LINE_BYTES / (1 << 20), metavar="MIB",
                   help="longest line (JSON array element, CSV field) to read, in MiB; longer ones are skipped"
                        f" as line_too_long (default: {MAX_LINE_BYTES >> 20})")
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
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists (default: refuse)")
    p.add_argument("--llama-factory", metavar="NAME",
                   help="also write a LLaMA-Factory dataset_info.json entry NAME beside the export")
    p.add_argument("--save-to-disk", metavar="DIR", help="also write a datasets save_to_disk folder")
    p.add_argument("--push-to-hub", metavar="REPO", help="also upload the export as hub dataset REPO (needs network)")
    p.add_argument("--private", action="store_true", help="with --push-to-hub: a private dataset")

    p = add_command(sub, "decide", cmd_decide, "Record a decision (approve, reject, clear, pin, unpin) on samples.")
    p.add_argument("action", choices=("approve", "reject", "clear", "pin", "unpin"))
    p.add_argument("ids", nargs="+", help="sample ids")
    p.add_argument("--reason", default="", help="why (kept in the decision log)")

    p = add_command(sub, "undo", cmd_undo,
                    "Undo your most recent decision made from the command line (a whole bulk action at once).")
    p.add_argument("--actor", default="", metavar="ACTOR",
                   help="whose decision: any (anyone's latest), or an actor such as app:3f9a1c2b or cli:ana "
                        "(default: cli:<your user name>)")
    p.add_argument("--origin", default="human", metavar="ORIGIN",
                   help="which kind of decision: human (default), or a tool's such as dedup or decontaminate,"
                        " whose latest is undone whoever ran it (unless --actor)")


def cmd_import(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    if not args.max_line_mib > 0:
        raise CurationError(f"--max-line-mib must be positive, not {args.max_line_mib}")
    bar = ProgressPrinter("reading")
    try:
        report = importer.import_source(ws, args.source, schema=args.schema, strict=args.strict,
                                        hub_split=args.split, progress=bar,
                                        max_line_bytes=int(args.max_line_mib * (1 << 20)))
    finally:
        bar.close()  # before an error is printed: an open bar would print its last state after it
    if args.json:
        print(json.dumps(report.__dict__, indent=2, default=str))
    else:
        print(report.summary())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
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
    result = exporter.export(ws, args.out, spec, overwrite=args.overwrite)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {result.count} samples to {result.path} (manifest {result.manifest_path.name})")
    if result.rejected_path:
        print(f"rejected samples in {result.rejected_path}")
    _export_targets(args, result.path)
    return 0


def _export_targets(args: argparse.Namespace, data: Path) -> None:
    """Where training happens: LLaMA-Factory's dataset_info.json, a save_to_disk folder, the hub."""
    from curation.formats import export_targets

    schema = args.parquet_schema if args.fmt == "parquet" else args.fmt
    done: list[dict[str, str]] = []
    if args.llama_factory:
        info = export_targets.write_dataset_info(data, schema, args.llama_factory)
        done.append({"kind": "llama_factory", "path": str(info), "name": args.llama_factory})
        print(f"LLaMA-Factory entry {args.llama_factory!r} in {info} (dataset: {args.llama_factory})")
    if args.save_to_disk:
        folder = export_targets.save_to_disk(data, Path(args.save_to_disk).expanduser().resolve())
        done.append({"kind": "save_to_disk", "path": str(folder)})
        print(f"save_to_disk folder {folder}")
    if args.push_to_hub:
        url = export_targets.push_to_hub(data, args.push_to_hub, private=args.private)
        done.append({"kind": "hub", "repo": args.push_to_hub, "url": url, "private": str(args.private).lower()})
        print(f"pushed to {url}")
    if done:
        export_targets.record_targets(data, done)


def cli_actor() -> str:
    """The decision log's name for this user at the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "cli:unknown"


def cmd_decide(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    decisions.record(ws, args.ids, args.action, origin="human", reason=args.reason, actor=cli_actor())
    print(f"{args.action}: {len(args.ids)} sample(s)")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from curation.services.review_queue import ago

    ws = Workspace(args.workspace, create=False)
    me = cli_actor()
    mine_by_default = args.origin == "human"  # a tool's decisions name the tool, or whoever ran it, as actor
    actor = None if args.actor == "any" or (not args.actor and not mine_by_default) else (args.actor or me)
    pending = decisions.pending_undo(ws, origin=args.origin, actor=actor)
    undone = decisions.undo_last(ws, origin=args.origin, actor=actor, by=me) if pending else []
    if not pending or not undone:
        print("nothing to undo" if actor is None else f"nothing of {actor}'s to undo (--actor any: anyone's)")
        return 0
    print(f"undid {pending.action} of {len(undone)} sample(s) by {pending.actor}, {ago(pending.time)}")
    return 0
