"""`curation app`: start the Streamlit app on a workspace, as `label-studio start` or `lilac start` do."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from curation.cli import add_command
from curation.errors import CurationError

APP_SCRIPT = Path(__file__).resolve().parents[2] / "app.py"  # the checkout's app (the project installs editable)


def register(sub: Any) -> None:
    p = add_command(sub, "app", cmd_app, "Start the app in the browser on this workspace (127.0.0.1 by default).")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: only this machine; the app shows your data)")


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The `streamlit run` command line for `args` (flags override .streamlit/config.toml, so any cwd works)."""
    return [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), "--server.address", args.host,
            "--server.port", str(args.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--browser.serverAddress", args.host]


def cmd_app(args: argparse.Namespace) -> int:
    if not APP_SCRIPT.exists():
        raise CurationError(f"the app script is not at {APP_SCRIPT}: run `curation app` from a checkout "
                            "installed with `pip install -e .` (scripts/setup.sh does)")
    env = {**os.environ, "CURATION_WORKSPACE": str(Path(args.workspace).resolve())}
    print(f"curation app on http://{args.host}:{args.port}  (workspace {env['CURATION_WORKSPACE']}; Ctrl-C stops)",
          file=sys.stderr)
    return subprocess.call(streamlit_command(args), cwd=APP_SCRIPT.parent, env=env)
