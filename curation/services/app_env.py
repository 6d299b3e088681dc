"""How the app starts its job worker: whether it may, and the PYTHONPATH that lets the worker find the package.

The worker runs `python -m curation ...` from the server's working directory, which need not be the project
(`streamlit run /path/to/app.py`), so the project root goes first on its PYTHONPATH.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Tests drive the queue in-process (jobs.run_pending) and set this to "0" so no detached worker is spawned.
START_WORKER_ENV = "CURATION_START_WORKER"
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def worker_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(START_WORKER_ENV, "1") != "0"


def pythonpath_with(root: str, pythonpath: str) -> str:
    """`pythonpath` with `root` first (unchanged when it is already on it; empty entries dropped)."""
    paths = [p for p in pythonpath.split(os.pathsep) if p]
    return pythonpath if root in paths else os.pathsep.join([root, *paths])
