"""Export a curated set as JSONL (alpaca, messages, sharegpt) or Parquet, with a manifest, atomically.

Which samples: a run's iteration (its selection, in pick order) and/or the human decisions. With nothing chosen,
every sample that is not rejected. The manifest beside the file says what was exported and how to reproduce it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curation import __version__
from curation.errors import CurationError
from curation.formats import schemas
from curation.workspace import decisions, runs, samples
from curation.workspace.arrays import atomic_path, atomic_write_text
from curation.workspace.db import Workspace

FORMATS = ("alpaca", "messages", "sharegpt", "parquet")
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


def export(ws: Workspace, out: str | Path, spec: ExportSpec = ExportSpec()) -> ExportResult:
    if spec.fmt not in FORMATS:
        raise CurationError(f"unknown format {spec.fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out)
    ids, choice = choose_ids(ws, spec)
    if not ids:
        raise CurationError("nothing to export: the chosen set is empty")
    provenance = _provenance(ws, spec, ids) if spec.provenance else {}
    row_schema = spec.parquet_schema if spec.fmt == "parquet" else spec.fmt
    _write(ws, out, ids, spec.fmt, row_schema, provenance)
    rejected_path = None
    if spec.write_rejected:
        rejected_ids = decisions.ids_with(ws, status="rejected")
        rejected_path = out.with_name(out.stem + ".rejected" + out.suffix)
        _write(ws, rejected_path, rejected_ids, spec.fmt, row_schema,
               _provenance(ws, ExportSpec(provenance=True), rejected_ids))
    manifest = _manifest(ws, out, spec, ids, choice, rejected_path)
    manifest_path = out.with_name(out.name + ".manifest.json")
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False))
    return ExportResult(out, manifest_path, len(ids), rejected_path, manifest)


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
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            pq.write_table(_arrow_table(list(_rows(ws, ids, schema, provenance))), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for row in _rows(ws, ids, schema, provenance):
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


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
        columns[name] = pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                                  for v in values], type=pa.string())
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


def _manifest(ws: Workspace, out: Path, spec: ExportSpec, ids: list[str], choice: Any,
              rejected_path: Path | None) -> dict[str, Any]:
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    manifest: dict[str, Any] = {
        "file": out.name,
        "sha256": digest,
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
    if rejected_path is not None:
        manifest["rejected_file"] = rejected_path.name
    if spec.run_id is not None:
        run = runs.get(ws, spec.run_id)
        it = runs.iteration(ws, spec.run_id, spec.iteration)
        manifest["run"] = {"run_id": run.run_id, "name": run.name, "method": run.method, "config": run.config,
                           "budget": run.budget, "seed": run.seed, "models": run.models,
                           "pool_hash": run.pool_hash, "iteration": it.iteration, "metrics": it.metrics,
                           "checkpoint": it.checkpoint}
    return manifest
