"""Export a curated set as JSONL (alpaca, messages, sharegpt) or Parquet, with a manifest, atomically.

Which samples: a run's iteration (its selection, in pick order) and/or the human decisions. With nothing chosen,
every sample that is not rejected. The manifest beside the file says what was exported and how to reproduce it;
the two are published as a checkable pair (curation.formats.manifest, `verify`). An existing file is replaced
only when asked (`overwrite`), and keeps its mode; the JSON written is strict (NaN and infinities as null).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curation import __version__
from curation.errors import CurationError
from curation.formats import schemas
from curation.formats.manifest import (
    Verified,
    dumps,
    manifest_path,
    new_file_mode,
    pending_path,
    verify,
)
from curation.workspace import decisions, runs, samples
from curation.workspace.arrays import sha256_file
from curation.workspace.db import Workspace

__all__ = ["ExportResult", "ExportSpec", "Verified", "choose_ids", "export", "suffix_warning", "verify"]

FORMATS = ("alpaca", "messages", "sharegpt", "parquet")
SUFFIXES = {"alpaca": (".jsonl", ".ndjson"), "messages": (".jsonl", ".ndjson"), "sharegpt": (".jsonl", ".ndjson"),
            "parquet": (".parquet", ".pq")}
DECISION_FILTERS = ("not_rejected", "approved", "any")
PROVENANCE_KEY = "_curation"


@dataclass(frozen=True)
class ExportSpec:
    fmt: str = "messages"                 # alpaca | messages | sharegpt | parquet
    parquet_schema: str = "messages"      # row schema inside a Parquet file
    run_id: int | None = None
    iteration: int | None = None          # None: the run's last completed iteration
    decisions: str = "not_rejected"       # not_rejected | approved | any
    provenance: bool = False              # add a `_curation` column: id, rank, why chosen, decision
    write_rejected: bool = False          # also write the rejected samples beside the export


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest_path: Path
    count: int
    rejected_path: Path | None
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)  # a suffix that contradicts the format, ...


def choose_ids(ws: Workspace, spec: ExportSpec) -> tuple[list[str], dict[str, Any]]:
    """The ids to export, in order (pick order for a run), and a description of the choice."""
    if spec.decisions not in DECISION_FILTERS:
        raise CurationError(f"unknown decision filter {spec.decisions!r}; use {', '.join(DECISION_FILTERS)}")
    rejected = set(decisions.ids_with(ws, status="rejected"))
    approved = set(decisions.ids_with(ws, status="approved"))
    info: dict[str, Any] = {"decisions": spec.decisions}
    if spec.run_id is not None:
        it = runs.iteration(ws, spec.run_id, spec.iteration)
        base = it.selected
        info.update(run_id=spec.run_id, iteration=it.iteration)
    else:
        base = samples.ids(ws)
    if spec.decisions == "not_rejected":
        chosen = [s for s in base if s not in rejected]
    elif spec.decisions == "approved":
        chosen = [s for s in base if s in approved]
    else:
        chosen = list(base)
    return chosen, info


def suffix_warning(out: Path, fmt: str) -> str | None:
    """A warning when the file's suffix says another format than the one written (importing it again would
    misread it), else None."""
    if out.suffix.lower() in SUFFIXES.get(fmt, ()):
        return None
    kind = "Parquet" if fmt == "parquet" else f"JSON lines ({fmt} schema)"
    return (f"{out.name}: the suffix {out.suffix or '(none)'!r} does not match the format {fmt!r}, which writes "
            f"{kind}; name it {out.stem}{SUFFIXES[fmt][0]} so it is read back as what it is")


def export(ws: Workspace, out: str | Path, spec: ExportSpec = ExportSpec(), *,
           overwrite: bool = False) -> ExportResult:
    """Write the chosen set to `out` with its manifest. Refuses to replace an existing file unless `overwrite`."""
    if spec.fmt not in FORMATS:
        raise CurationError(f"unknown format {spec.fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out).expanduser()
    rejected_path = out.with_name(out.stem + ".rejected" + out.suffix) if spec.write_rejected else None
    ids, choice = choose_ids(ws, spec)
    if not ids:
        raise CurationError("nothing to export: the chosen set is empty")
    for target in (out, rejected_path):
        if target is not None:
            _check_target(target, overwrite)
    warning = suffix_warning(out, spec.fmt)
    try:
        manifest = _publish(ws, out, rejected_path, spec, ids, choice)
    except OSError as exc:
        raise CurationError(f"cannot write {out}: {exc.strerror or exc}") from None
    return ExportResult(out, manifest_path(out), len(ids), rejected_path, manifest, [warning] if warning else [])


def _check_target(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise CurationError(f"cannot write {path}: it is a folder; give a file name inside it")
    if path.parent.exists() and not path.parent.is_dir():
        raise CurationError(f"cannot write {path}: {path.parent} is a file, not a folder")
    if path.exists() and not overwrite:
        raise CurationError(f"{path} already exists: choose another name, or replace it (--overwrite)")


def _step(name: str) -> None:
    """Called after each step of publishing an export (the kill test waits here); does nothing."""


def _publish(ws: Workspace, out: Path, rejected_path: Path | None, spec: ExportSpec, ids: list[str],
             choice: dict[str, Any]) -> dict[str, Any]:
    """Write the data (and rejected) files to temporary names, then publish them with the manifest in the order
    curation.formats.manifest documents: the new manifest as `.next`, the rejected file, the data, the manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    row_schema = spec.parquet_schema if spec.fmt == "parquet" else spec.fmt
    temps: list[Path] = []
    published = False
    try:
        data_tmp = _temp_beside(out, temps)
        _write(ws, data_tmp, ids, spec.fmt, row_schema, _provenance(ws, spec, ids) if spec.provenance else {})
        rejected_tmp = None
        if rejected_path is not None:
            rejected_ids = decisions.ids_with(ws, status="rejected")
            rejected_tmp = _temp_beside(rejected_path, temps)
            _write(ws, rejected_tmp, rejected_ids, spec.fmt, row_schema,
                   _provenance(ws, ExportSpec(provenance=True), rejected_ids))
        _step("data written")
        manifest = _manifest(ws, out, data_tmp, spec, ids, choice, rejected_path, rejected_tmp)
        pending_tmp = _temp_beside(pending_path(out), temps)
        pending_tmp.write_text(dumps(manifest, indent=2), encoding="utf-8")
        _finish(pending_tmp, manifest_path(out))
        os.replace(pending_tmp, pending_path(out))
        _step("manifest published as .next")
        if rejected_tmp is not None and rejected_path is not None:
            _finish(rejected_tmp, rejected_path)
            os.replace(rejected_tmp, rejected_path)
            _step("rejected file published")
        _finish(data_tmp, out)
        os.replace(data_tmp, out)
        published = True
        _step("data published")
        os.replace(pending_path(out), manifest_path(out))
        _step("manifest published")
        return manifest
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if not published:  # the old pair stands: a `.next` manifest for data never published would only confuse
            pending_path(out).unlink(missing_ok=True)


def _temp_beside(path: Path, temps: list[Path]) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    temps.append(Path(name))
    return Path(name)


def _finish(tmp: Path, target: Path) -> None:
    """Give `tmp` the mode `target` has (or the umask's) and make its bytes durable before it is renamed."""
    os.chmod(tmp, new_file_mode(target))
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())


def _rows(ws: Workspace, ids: list[str], schema: str, provenance: dict[str, dict]) -> Iterator[dict[str, Any]]:
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        recs = samples.get_many(ws, chunk)
        for sid in chunk:
            row = schemas.from_record(recs[sid], schema)
            if provenance:
                row[PROVENANCE_KEY] = provenance.get(sid, {"id": sid})
            yield row


def _write(ws: Workspace, path: Path, ids: list[str], fmt: str, schema: str, provenance: dict[str, dict]) -> None:
    if fmt == "parquet":
        pq.write_table(_arrow_table(list(_rows(ws, ids, schema, provenance))), path)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            for row in _rows(ws, ids, schema, provenance):
                fh.write(dumps(row) + "\n")


def _arrow_table(rows: list[dict]) -> pa.Table:
    """Rows as an Arrow table. A column Arrow cannot type (an extra field that is a number in one row and text in
    another, say) is stored as JSON text and named in the file's metadata, rather than failing the export."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    columns, as_json = {}, [PROVENANCE_KEY] if PROVENANCE_KEY in names else []
    for name in names:
        values = [row.get(name) for row in rows]
        if name not in as_json:
            try:
                columns[name] = pa.array(values)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                as_json.append(name)
        columns[name] = pa.array([None if v is None else dumps(v) for v in values], type=pa.string())
    table = pa.table(columns) if columns else pa.table({})
    return table.replace_schema_metadata({"curation.json_columns": json.dumps(as_json)})


def _provenance(ws: Workspace, spec: ExportSpec, ids: list[str]) -> dict[str, dict]:
    """Why each sample is in the export: rank and score components of the run, and its human decision."""
    states = decisions.states(ws)
    out: dict[str, dict] = {}
    scores_by_id: dict[str, dict] = {}
    it = None
    if spec.run_id is not None:
        it = runs.iteration(ws, spec.run_id, spec.iteration)
        frame = runs.scores(ws, it)
        if frame is not None and "sample_id" in frame:
            wanted = set(ids)
            sub = frame[frame["sample_id"].isin(wanted)]
            scores_by_id = {r["sample_id"]: {k: v for k, v in r.items() if k != "sample_id" and pd.notna(v)}
                            for r in sub.to_dict("records")}
    rank = {s: i for i, s in enumerate(it.selected)} if it else {}
    for sid in ids:
        st = states.get(sid)
        entry: dict[str, Any] = {"id": sid}
        if it is not None:
            entry.update(run_id=spec.run_id, iteration=it.iteration, rank=rank.get(sid))
            entry.update(scores_by_id.get(sid, {}))
        if st is not None:
            entry.update(decision=st.status, pinned=st.pinned, decision_reason=st.reason, decided_by=st.origin)
        out[sid] = entry
    return out


def _manifest(ws: Workspace, out: Path, data: Path, spec: ExportSpec, ids: list[str], choice: Any,
              rejected_path: Path | None, rejected_data: Path | None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "file": out.name,
        "sha256": sha256_file(data),
        "format": spec.fmt,
        "row_schema": spec.parquet_schema if spec.fmt == "parquet" else spec.fmt,
        "count": len(ids),
        "pool": {"hash": samples.pool_hash(ws), "samples": samples.count(ws)},
        "decision_counts": decisions.counts(ws),
        "selection": choice,
        "spec": asdict(spec),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "curation_version": __version__,
        "workspace": str(ws.root),
    }
    if rejected_path is not None and rejected_data is not None:
        manifest["rejected_file"] = rejected_path.name
        manifest["rejected_sha256"] = sha256_file(rejected_data)
    if spec.run_id is not None:
        run = runs.get(ws, spec.run_id)
        it = runs.iteration(ws, spec.run_id, spec.iteration)
        manifest["run"] = {"run_id": run.run_id, "name": run.name, "method": run.method, "config": run.config,
                           "budget": run.budget, "seed": run.seed, "models": run.models,
                           "pool_hash": run.pool_hash, "iteration": it.iteration, "metrics": it.metrics,
                           "checkpoint": it.checkpoint}
    return manifest
