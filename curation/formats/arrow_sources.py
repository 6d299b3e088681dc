"""Rows from Arrow-backed inputs: Parquet files, `save_to_disk` folders and Hugging Face hub datasets.

Each function opens its input at once (so a bad input raises `InputError` before any row is read) and
returns (total rows, or 0 when unknown; an iterator of row dicts read in batches of `_BATCH`). Null
cells are left out of the row dicts: in a columnar file a null only means "this row has no such field"
(a column exists for every row as soon as one row has it).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from curation.errors import InputError

_BATCH = 1024
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?")
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_TRUE = ("1", "ON", "YES", "TRUE")

Rows = tuple[int, Iterator[dict[str, Any]]]


def looks_like_hub_name(name: str) -> bool:
    """`owner/name` or a bare `name`, as the hub spells dataset ids."""
    return bool(_HUB_NAME.fullmatch(name))


def parquet_rows(path: Path, src: str) -> Rows:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"is not a readable Parquet file ({exc})", source=src) from None
    # pandas stores a non-default index as __index_level_N__ columns: bookkeeping, not data
    columns = [name for name in parquet.schema_arrow.names if not name.startswith("__index_level_")]

    def rows() -> Iterator[dict[str, Any]]:
        done = 0
        try:
            # one reader per row group: a single reader over the whole file keeps buffers of the row
            # groups it has passed (pyarrow 26: +7 MB per 100k-row group), so memory grew with the file
            for group in range(parquet.num_row_groups):
                for batch in parquet.iter_batches(batch_size=_BATCH, row_groups=[group], columns=columns):
                    for row in batch.to_pylist():
                        done += 1
                        yield _present(row)
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise InputError(f"the Parquet file is damaged after row {done} ({exc})", source=src) from None
        finally:
            parquet.close()

    return parquet.metadata.num_rows, rows()


def disk_rows(path: Path, src: str, split: str) -> Rows:
    """A folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk` (memory-mapped)."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (OSError, ValueError, datasets.exceptions.DatasetsError) as exc:
        raise InputError(f"could not be read as a save_to_disk folder ({exc})", source=src) from None
    if isinstance(loaded, datasets.DatasetDict):
        if split in loaded:
            loaded = loaded[split]
        elif len(loaded) == 1:
            loaded = next(iter(loaded.values()))
        else:
            raise InputError(f"has no split {split!r}; its splits are {', '.join(loaded)}: choose one",
                             source=src)
    return len(loaded), _batched(loaded)


def hub_rows(name: str, split: str) -> Rows:
    """A hub dataset, streamed; offline, only a copy already in the local `datasets` cache."""
    import datasets

    errors = (OSError, ValueError, ImportError, RuntimeError, datasets.exceptions.DatasetsError)
    not_local = "is not a local file or folder, so it was taken as a Hugging Face dataset name, but"
    if _offline():
        try:  # offline, load_dataset reads its local cache and never touches the network
            cached = datasets.load_dataset(name, split=split)
        except errors:
            raise InputError(f"{not_local} HF_HUB_OFFLINE is set and it is not in the local cache, so it "
                             "cannot be loaded: import a local file instead", source=name) from None
        return len(cached), _batched(cached)
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    if not _resolves(host):  # fail in a moment instead of after half a minute of retries
        raise InputError(f"{not_local} the Hugging Face hub ({host}) cannot be reached from here: "
                         "import a local file instead", source=name)
    try:
        streamed = datasets.load_dataset(name, split=split, streaming=True)
    except errors as exc:
        raise InputError(f"{not_local} it could not be loaded from the hub: {_first_line(exc)}",
                         source=name) from None
    splits = getattr(streamed.info, "splits", None) or {}
    total = splits[split].num_examples if split in splits and splits[split].num_examples else 0
    return total, _guarded(iter(streamed), name, errors)


def _guarded(rows: Iterator[dict[str, Any]], name: str, errors: tuple[type[BaseException], ...]
             ) -> Iterator[dict[str, Any]]:
    """Streaming reads over the network as it goes: a dropped connection becomes an InputError."""
    done = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except errors as exc:
            raise InputError(f"reading from the hub failed after row {done}: {_first_line(exc)}",
                             source=name) from None
        done += 1
        yield _present(row)


def _batched(dataset: Any) -> Iterator[dict[str, Any]]:
    for batch in dataset.iter(batch_size=_BATCH):
        columns = list(batch)
        for i in range(len(batch[columns[0]]) if columns else 0):
            yield _present({column: batch[column][i] for column in columns})


def _present(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if value is not None}


def _offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("HF_DATASETS_OFFLINE", ""))
    return any(flag.strip().upper() in _TRUE for flag in flags)


def _resolves(host: str) -> bool:
    if any(os.environ.get(variable) for variable in _PROXY_VARIABLES):
        return True  # behind a proxy the proxy resolves names; let the hub client try
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
