"""What a crash leaves in a workspace, removed when the workspace opens.

Two kinds, both safe to drop once abandoned:
- import staging files (`tmp/import-*.sqlite` and its journals): a live import holds an exclusive lock on
  `<stage>.lock` for its whole life (`curation.workspace.imports.Stage`), so a stage whose lock can be taken
  belongs to a dead import;
- partial atomic writes (`.<name>.<random>.tmp`, `curation.workspace.arrays.atomic_path`) anywhere inside the
  workspace, exports included; nothing outside the workspace is touched.
A leftover must also be older than `SAFE_AGE_S` (last modified): a writer still running keeps touching its
file, and a stage created a moment before its lock is never mistaken for an abandoned one.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

SAFE_AGE_S = 3600.0
STAGE_DIR = "tmp"
STAGE_GLOB = "import-*.sqlite"
LOCK_SUFFIX = ".lock"
_STAGE_SUFFIXES = ("", "-wal", "-shm", "-journal", LOCK_SUFFIX)
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")  # mkstemp(prefix=".<name>.", suffix=".tmp")


def lock_stage(stage: Path) -> int:
    """Hold `<stage>.lock` exclusively until the returned descriptor is closed (the stage is in use)."""
    fd = os.open(f"{stage}{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _stage_in_use(stage: Path) -> bool:
    try:
        fd = os.open(f"{stage}{LOCK_SUFFIX}", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock if we got it
    return False


def _old(path: Path, now: float, safe_age_s: float) -> bool:
    try:
        return now - path.stat().st_mtime > safe_age_s
    except FileNotFoundError:
        return False


def clean(root: Path, *, safe_age_s: float = SAFE_AGE_S) -> list[Path]:
    """Remove abandoned stages and partial writes under `root`; returns what was removed."""
    now, removed = time.time(), []
    stage_dir = root / STAGE_DIR
    if stage_dir.is_dir():
        for stage in stage_dir.glob(STAGE_GLOB):
            files = [Path(f"{stage}{s}") for s in _STAGE_SUFFIXES]
            if _stage_in_use(stage) or not all(_old(f, now, safe_age_s) for f in files if f.exists()):
                continue
            removed += [f for f in files if f.exists() and _remove(f)]
    for folder, _, names in os.walk(root):  # symlinked folders are not followed: they may lead outside
        for name in names:
            path = Path(folder) / name
            if _TEMP.match(name) and _old(path, now, safe_age_s) and _remove(path):
                removed.append(path)
    return removed


def _remove(path: Path) -> bool:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # not ours to delete (permissions): opening the workspace must not fail over it
        return False
    return True
