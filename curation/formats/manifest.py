"""An export's manifest: strict JSON, its place beside the data, and `verify`, the check that the two belong together.

The data file and its manifest are published as a pair a reader can check (docs/formats.md, "Export"): the
manifest names the data file's sha256; it is first published as `<data>.manifest.json.next`, then the data file
replaces the old one, then the `.next` file replaces the old manifest. Every rename is atomic, so whenever a
process stops, one of the two manifests on disk describes the data on disk, and `verify` finds it.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from curation.workspace.arrays import sha256_file

MANIFEST_SUFFIX = ".manifest.json"
PENDING_SUFFIX = ".next"  # the new manifest, published before the data it describes

Stale = Literal["data", "manifest", "rejected_file"]


def manifest_path(data: Path) -> Path:
    return data.with_name(data.name + MANIFEST_SUFFIX)


def pending_path(data: Path) -> Path:
    return data.with_name(data.name + MANIFEST_SUFFIX + PENDING_SUFFIX)


def dumps(value: Any, **kwargs: Any) -> str:
    """JSON that strict parsers (jq, JavaScript, Go) accept: NaN and infinities become null."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str, **kwargs)
    except ValueError:  # a non-finite float somewhere: rare, so only then walk the value
        return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False, default=str, **kwargs)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def new_file_mode(path: Path) -> int:
    """The mode a file written at `path` gets: the existing file's, else what the umask allows (as open() would)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # reading the umask means setting it: put it straight back
        os.umask(umask)
        return 0o666 & ~umask


@dataclass(frozen=True)
class Verified:
    ok: bool
    stale: Stale | None  # which file does not match: the data, the manifest (missing or unreadable), the rejected
    message: str
    manifest: Path | None = None  # the manifest that describes the data (the `.next` one after an interruption)


def verify(path: str | os.PathLike[str]) -> Verified:
    """Whether the export at `path` and a manifest beside it belong together (sha256 of the data and of the
    rejected file it names). A reader should use the manifest this returns."""
    data = Path(path)
    if not data.is_file():
        return Verified(False, "data", f"{data}: no such export file")
    candidates = [p for p in (pending_path(data), manifest_path(data)) if p.is_file()]
    if not candidates:
        return Verified(False, "manifest", f"{data}: no manifest beside it ({manifest_path(data).name})")
    digest = sha256_file(data)
    for candidate in candidates:
        try:
            manifest = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(manifest, dict) or manifest.get("sha256") != digest:
            continue
        rejected = manifest.get("rejected_file")
        if rejected:
            rejected_path = data.with_name(rejected)
            if not rejected_path.is_file() or sha256_file(rejected_path) != manifest.get("rejected_sha256"):
                return Verified(False, "rejected_file", f"{rejected_path}: does not match the manifest "
                                                        f"{candidate.name} (changed, or from another export)",
                                candidate)
        return Verified(True, None, f"{data}: matches {candidate.name}", candidate)
    if not any(_readable(c) for c in candidates):
        return Verified(False, "manifest", f"{manifest_path(data)}: not a readable manifest")
    return Verified(False, "data", f"{data}: its sha256 matches no manifest beside it (changed after the export, "
                                   "or the manifest is from another one): export it again")


def _readable(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False
