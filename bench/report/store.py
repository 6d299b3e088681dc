"""Results kept as JSON in the cache folder, written atomically after every unit of work (resumable runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curation.workspace.arrays import atomic_write_text


class ResultStore:
    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(self.data, indent=1, default=float))

    def __contains__(self, key: str) -> bool:
        return key in self.data
