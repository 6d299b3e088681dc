"""Where training happens: an export made one line away from a fine-tuning run.

- LLaMA-Factory reads datasets through a `dataset_info.json` beside them: `llama_factory_entry` is the entry for
  an export (file name, formatting and the column/tag mapping of its schema) and `write_dataset_info` merges it
  into the file beside the export, keeping the entries already there.
- `save_to_disk` writes a `datasets` folder (`datasets.load_from_disk` reads it back); `push_to_hub` uploads the
  export as a hub dataset (needs the network and a token: offline it fails with one clear line).

Each returns what it wrote; `record_targets` adds that list to the export's manifest (which keeps naming the
data file's hash, so `curation.formats.manifest.verify` still holds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curation.errors import CurationError
from curation.workspace.arrays import atomic_write_text

_SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                  "system_tag": "system"}
_OPENAI_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                "system_tag": "system"}


def llama_factory_entry(data_file: Path, schema: str) -> dict[str, Any]:
    """The dataset_info.json entry for an exported file of `schema` (alpaca, dolly, sharegpt or messages)."""
    entry: dict[str, Any] = {"file_name": data_file.name}
    if schema in ("alpaca", "dolly"):
        entry["columns"] = {"prompt": "instruction", "query": "input" if schema == "alpaca" else "context",
                            "response": "output" if schema == "alpaca" else "response", "system": "system",
                            "history": "history"}
    elif schema == "sharegpt":
        entry.update(formatting="sharegpt", columns={"messages": "conversations", "system": "system"},
                     tags=_SHAREGPT_TAGS)
    elif schema == "messages":
        entry.update(formatting="sharegpt", columns={"messages": "messages"}, tags=_OPENAI_TAGS)
    else:
        raise CurationError(f"LLaMA-Factory reads alpaca, sharegpt or messages rows, not {schema!r}")
    return entry


def write_dataset_info(data_file: Path, schema: str, name: str) -> Path:
    """Add (or replace) entry `name` in the dataset_info.json beside `data_file`; other entries are kept."""
    info_path = data_file.parent / "dataset_info.json"
    info: dict[str, Any] = {}
    if info_path.exists():
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CurationError(f"{info_path}: not valid JSON ({exc.msg} at line {exc.lineno}); fix or move it "
                                "before writing the LLaMA-Factory entry") from None
        if not isinstance(info, dict):
            raise CurationError(f"{info_path}: expected a JSON object of dataset entries")
    info[name] = llama_factory_entry(data_file, schema)
    atomic_write_text(info_path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return info_path


def _as_dataset(data_file: Path) -> Any:
    from datasets import Dataset

    if data_file.suffix == ".parquet":
        return Dataset.from_parquet(str(data_file))
    return Dataset.from_json(str(data_file))


def save_to_disk(data_file: Path, folder: Path) -> Path:
    """The export as a `datasets` save_to_disk folder (written beside, then renamed into place)."""
    if folder.exists():
        raise CurationError(f"{folder} exists: choose another folder or remove it")
    tmp = folder.with_name(f".{folder.name}.partial")
    _as_dataset(data_file).save_to_disk(str(tmp))
    tmp.rename(folder)
    return folder


def push_to_hub(data_file: Path, repo: str, *, private: bool = False) -> str:
    """Upload the export as hub dataset `repo`; returns its address. Offline or without a token: one clear line."""
    import os

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise CurationError(f"cannot push to {repo}: the hub is switched off here (HF_HUB_OFFLINE=1)")
    try:
        _as_dataset(data_file).push_to_hub(repo, private=private)
    except Exception as exc:  # network, auth, permissions: the library's own message says which
        raise CurationError(f"cannot push to {repo}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    return f"https://huggingface.co/datasets/{repo}"


def record_targets(data_file: Path, targets: list[dict[str, str]]) -> None:
    """Name in the export's manifest where the export went besides its file (atomic rewrite of the manifest)."""
    from curation.formats.manifest import dumps, manifest_path

    path = manifest_path(data_file)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["targets"] = [*manifest.get("targets", []), *targets]
    atomic_write_text(path, dumps(manifest, indent=1) + "\n")
