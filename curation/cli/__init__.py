"""`python -m curation`: one module per command group, each exposing `register(subparsers)`.

A command is a function `run(args) -> int | None`, attached with `parser.set_defaults(func=run)`. User errors
(`CurationError`) print one line on stderr and exit 2: never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from curation import __version__
from curation.errors import CurationError

# Command groups in the order --help lists them. A group whose module is missing is skipped, so the CLI
# works while parts of the project are still being built.
GROUPS = ("data", "geometry", "model", "select", "jobs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m curation",
        description="Curate instruction-tuning data with the model in the loop.",
    )
    parser.add_argument("--version", action="version", version=f"curation {__version__}")
    parser.add_argument(
        "--workspace", "-w", default=os.environ.get("CURATION_WORKSPACE", "workspace"),
        help="workspace folder (default: $CURATION_WORKSPACE or ./workspace)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        try:
            module = importlib.import_module(f"curation.cli.{group}")
        except ModuleNotFoundError as exc:
            if exc.name == f"curation.cli.{group}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def add_command(sub, name: str, func, help_text: str) -> argparse.ArgumentParser:
    """Register a command; `help` doubles as its description."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(func=func)
    return parser


class ProgressPrinter:
    """A one-line progress bar on stderr for long commands (silent when stderr is not a terminal and quiet)."""

    def __init__(self, label: str, *, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self._last = -1

    def __call__(self, done: int, total: int, message: str = "") -> None:
        pct = int(100 * done / total) if total else 0
        if pct == self._last and done != total:
            return
        self._last = pct
        bar = "#" * (pct // 4)
        end = "\n" if total and done >= total else "\r"
        self.stream.write(f"{self.label} [{bar:<25}] {pct:3d}% {done}/{total} {message}".rstrip() + end)
        self.stream.flush()
