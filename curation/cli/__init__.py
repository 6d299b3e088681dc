"""`python -m curation`: one module per command group, each exposing `register(subparsers)`.

A command is a function `run(args) -> int | None`, attached with `parser.set_defaults(func=run)`. User errors
(`CurationError`) print one line on stderr and exit 2: never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any, TextIO

from curation import __version__
from curation.errors import CurationError

# Command groups in the order --help lists them; each is a module curation/cli/<group>.py.
GROUPS = ("data", "geometry", "model", "select", "evaluation", "decontaminate", "jobs", "app")


def _workspace_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--workspace", "-w", default=default,
                        help="workspace folder (default: $CURATION_WORKSPACE or ./workspace)")


# `--workspace` works before or after the command: every command's parser takes it too, without a default of its
# own (SUPPRESS), so a value given before the command is not overwritten by the subparser.
_COMMON = argparse.ArgumentParser(add_help=False)
_workspace_option(_COMMON, argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m curation",
        description="Curate instruction-tuning data with the model in the loop.",
    )
    parser.add_argument("--version", action="version", version=f"curation {__version__}")
    _workspace_option(parser, os.environ.get("CURATION_WORKSPACE", "workspace"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"curation.cli.{group}").register(sub)
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
    except sqlite3.DatabaseError as exc:  # a workspace damaged after it opened: still one line, never a traceback
        print(f"error: the workspace database failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def add_command(sub: Any, name: str, func: Callable[..., Any], help_text: str) -> argparse.ArgumentParser:
    """Register a command; `help` doubles as its description."""
    parser = sub.add_parser(name, help=help_text, description=help_text, parents=[_COMMON])
    parser.set_defaults(func=func)
    return parser


class ProgressPrinter:
    """A progress bar with rate and ETA (tqdm) on stderr for long commands; one bar per (label, total)."""

    def __init__(self, label: str, *, stream: TextIO | None = None, unit: str = "it") -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.unit = unit
        self._bar: Any = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        from tqdm import tqdm

        if self._bar is None or self._bar.total != total:
            self.close()
            self._bar = tqdm(total=total or None, desc=self.label, unit=self.unit, file=self.stream,
                             dynamic_ncols=True, mininterval=0.5, leave=True)
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)
        if message:
            self._bar.set_postfix_str(message[:60], refresh=False)
        if total and done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
