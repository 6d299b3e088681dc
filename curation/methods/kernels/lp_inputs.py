"""Precomputed inputs for learning percentage: perplexity trajectories and cluster ids from a file.

For scores computed elsewhere (a GPU cluster, a published dump converted out of its pickle). Formats, never
pickle:
- `.npy` in pool row order: trajectories float [N, E+1], clusters int [N] (loaded with allow_pickle=False);
- `.json`: a list in row order, or an object keyed by sample id, source id (the row's own "id" field) or row
  index: {"3f2a...": [P0, P1, P2, P3], ...} / {"3f2a...": 17, ...};
- `.jsonl`: one object per line with a key ("sample_id", "id" or "row") and "ppl" (a list) or "cluster";
- `.csv`: a key column ("sample_id", "id" or "row") and columns p0..pE (or ppl_0.., epoch_0..) or "cluster".
Every pool sample needs a value; keys the pool does not have are ignored (a dump of the full dataset serves a
slice of it).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from curation.errors import InputError
from curation.records import Record

KEYS = ("sample_id", "id", "row")
_PCOL = re.compile(r"^(?:p|ppl_?|epoch_?)(\d+)$", re.IGNORECASE)


class _Keys:
    """Maps a file's key (sample id, source id or row index) to a pool row."""

    def __init__(self, ids: list[str], records: list[Record]):
        self.n = len(ids)
        self.by_id = {s: i for i, s in enumerate(ids)}
        self.by_source = {str(r.extra["id"]): i for i, r in enumerate(records) if "id" in r.extra}

    def row(self, key: Any, source: str, line: int | None) -> int | None:
        k = str(key)
        if k in self.by_id:
            return self.by_id[k]
        if k in self.by_source:
            return self.by_source[k]
        if re.fullmatch(r"\d+", k):
            i = int(k)
            if i >= self.n:
                return None  # a row of a larger dataset: not in this pool
            return i
        return None


def load_trajectories(path: str | Path, ids: list[str], records: list[Record]) -> np.ndarray:
    """float64 [N, E+1] perplexities P_0..P_E per pool row; NaN where a sample was unscorable."""
    values = _load(Path(path), ids, records, "trajectory")
    width = {len(v) for v in values.values()}
    if len(width) != 1 or min(width) < 2:
        raise InputError("every trajectory needs the same number (>= 2) of perplexities, found lengths "
                         f"{sorted(width)}", source=str(path))
    out = np.empty((len(ids), width.pop()), np.float64)
    for row, v in values.items():
        out[row] = v
    # NaN marks a sample the scorer could not score (as this method's own recorded trajectories do): it stays
    # unscorable and is never picked as hard. An infinite perplexity is a broken dump, not a fact about a sample.
    if np.isinf(out).any():
        bad = int(np.flatnonzero(np.isinf(out).any(axis=1))[0])
        raise InputError(f"sample {ids[bad]} has an infinite perplexity (use NaN for unscorable)", source=str(path))
    return out


def load_clusters(path: str | Path, ids: list[str], records: list[Record]) -> np.ndarray:
    """int64 [N] cluster ids, renumbered 0..K-1 in order of first appearance."""
    values = _load(Path(path), ids, records, "cluster")
    raw = np.array([values[i][0] for i in range(len(ids))], dtype=np.float64)
    if not np.all(raw == np.round(raw)):
        raise InputError("cluster ids must be whole numbers", source=str(path))
    _, first, inverse = np.unique(raw.astype(np.int64), return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse].astype(np.int64)


def _load(path: Path, ids: list[str], records: list[Record], what: str) -> dict[int, list[float]]:
    if not path.exists():
        raise InputError("no such file", source=str(path))
    keys = _Keys(ids, records)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        values = _from_npy(path, len(ids), what)
    elif suffix == ".json":
        values = _from_json(path, keys, what)
    elif suffix == ".jsonl":
        values = _from_jsonl(path, keys, what)
    elif suffix == ".csv":
        values = _from_csv(path, keys, what)
    else:
        raise InputError(f"unsupported {what} file type {suffix!r}: use .npy, .json, .jsonl or .csv (never pickle)",
                         source=str(path))
    missing = [i for i in range(len(ids)) if i not in values]
    if missing:
        raise InputError(f"{len(missing)} pool samples have no {what} (first: {ids[missing[0]]})", source=str(path))
    return values


def _vector(value: Any, what: str, source: str, line: int | None) -> list[float]:
    try:
        return [float(value)] if what == "cluster" else [float(v) for v in value]
    except (TypeError, ValueError):
        raise InputError(f"cannot read {what} value {value!r}", source=source, line=line) from None


def _from_npy(path: Path, n: int, what: str) -> dict[int, list[float]]:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"cannot read array: {exc}", source=str(path)) from None
    want = 1 if what == "cluster" else 2
    if arr.ndim != want or len(arr) != n:
        raise InputError(f"expected a {want}-D array with {n} rows (pool row order), got shape {arr.shape}",
                         source=str(path))
    return {i: (np.atleast_1d(arr[i]).astype(np.float64).tolist()) for i in range(n)}


def _from_json(path: Path, keys: _Keys, what: str) -> dict[int, list[float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", source=str(path), line=exc.lineno) from None
    if isinstance(data, list):
        if len(data) != keys.n:
            raise InputError(f"a JSON list must hold one {what} per pool row ({keys.n}), not {len(data)}",
                             source=str(path))
        return {i: _vector(v, what, str(path), None) for i, v in enumerate(data)}
    if not isinstance(data, dict):
        raise InputError("expected a JSON list or object", source=str(path))
    out = {}
    for k, v in data.items():
        row = keys.row(k, str(path), None)
        if row is not None:
            out[row] = _vector(v, what, str(path), None)
    return out


def _from_jsonl(path: Path, keys: _Keys, what: str) -> dict[int, list[float]]:
    out = {}
    field = "cluster" if what == "cluster" else "ppl"
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg}", source=str(path), line=line_no) from None
            key = next((obj[k] for k in KEYS if k in obj), None)
            if key is None or field not in obj:
                raise InputError(f"each line needs one of {', '.join(KEYS)} and {field!r}", source=str(path),
                                 line=line_no)
            row = keys.row(key, str(path), line_no)
            if row is not None:
                out[row] = _vector(obj[field], what, str(path), line_no)
    return out


def _from_csv(path: Path, keys: _Keys, what: str) -> dict[int, list[float]]:
    out = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        key_col = next((k for k in KEYS if k in header), None)
        if what == "cluster":
            value_cols = ["cluster"] if "cluster" in header else []
        else:
            numbered = sorted((int(m.group(1)), c) for c in header if (m := _PCOL.match(c)))
            value_cols = [c for _, c in numbered]
        if key_col is None or not value_cols:
            want = "cluster" if what == "cluster" else "p0, p1, ... (or ppl_0.., epoch_0..)"
            raise InputError(f"needs a key column ({', '.join(KEYS)}) and {want}", source=str(path), line=1)
        for line_no, rec in enumerate(reader, 2):
            row = keys.row(rec[key_col], str(path), line_no)
            if row is not None:
                values = [rec[c] for c in value_cols]
                out[row] = _vector(values[0] if what == "cluster" else values, what, str(path), line_no)
    return out
