"""Queueing the Explore map: embed the pool, lay it out with PCA at once, then with UMAP.

UMAP's first run in a fresh worker pays ~30 s of import and numba compilation, so a user would wait a minute
for a map of a few hundred rows. The PCA layout of the same cached embeddings takes a fraction of a second; it is
a job of its own so that it finishes, and the page redraws with it, while UMAP is still working. `maps.current`
ranks a finished UMAP map above it, so the PCA map is replaced as soon as UMAP is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation.services import jobs
from curation.workspace.db import Workspace

MAP_JOB_KINDS = ("embed", "umap")


@dataclass(frozen=True)
class QueuedMap:
    embed_job: int
    first_look_job: int
    map_job: int


def map_job_params(*, preview: bool, method: str = "umap") -> dict[str, Any]:
    return {"field": "text", "map": {"method": method} if method == "pca" else {"preview": preview}}


def queue_map(ws: Workspace, *, preview: bool = False, backend: dict[str, str] | None = None) -> QueuedMap:
    """Queue (once: identical queued or running jobs are reused) the embedding, the PCA first look and the map.

    `backend` (curation.backends.BackendConfig.to_models()) runs the embedding on Ray; the map is the same."""
    embed = {"config": {}, "field": "text", **({"backend": backend} if backend else {})}
    return QueuedMap(embed_job=jobs.submit_once(ws, "embed", embed),
                     first_look_job=jobs.submit_once(ws, "umap", map_job_params(preview=preview, method="pca")),
                     map_job=jobs.submit_once(ws, "umap", map_job_params(preview=preview)))
