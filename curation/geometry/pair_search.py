"""Which near-duplicate search runs where: FAISS, or the exact torch all-pairs search on the CPU or a GPU.

The exact search (`curation.geometry.all_pairs.similar_pairs`) is torch: low-precision blocks, float64 re-check.
On a CUDA device it is exact at any pool size whose fp16 copies fit in GPU memory, and needs no faiss-gpu (a
135 MB wheel a GPU machine often lacks), so there "auto" stays exact where the CPU switches to FAISS IVF
above `APPROX_ABOVE` rows. Device names: "auto" (CUDA when torch sees one), "cpu", "cuda", "cuda:1", ..., and
"torch": the exact torch search on the CPU at every size (no FAISS at all; what tests and faiss-less
machines use).
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.errors import CurationError

METHODS = ("auto", "exact", "flat", "ivf")
# the CPU's exact search is quadratic (bench/bench_dedup_scale.py, 2 cores, floor 0.85: 100k rows 19.5 s exact
# against IVF 12.8 s at recall 1.0; a million ~50 min exact, 8 min IVF): IVF from here up
APPROX_ABOVE = 200_000
_GPU_BLOCK_MB = 1024  # similarity block per step on a GPU: fewer, larger matmuls (the CPU keeps 128 MB)


@dataclass(frozen=True)
class SearchPlan:
    method: str  # "exact" (torch), "flat" or "ivf" (FAISS)
    device: str  # where the exact search runs: "cpu", "cuda", "cuda:1", ...
    block_mb: int


def plan_search(n: int, d: int, *, method: str = "auto", device: str = "auto",
                approx_above: int = APPROX_ABOVE) -> SearchPlan:
    """The search for n unit rows of dimension d (pure apart from asking torch about CUDA)."""
    if method not in METHODS:
        raise CurationError(f"unknown search method {method!r}; use one of {', '.join(METHODS)}")
    where = _resolve(device)
    gpu = where.startswith("cuda")
    if method == "auto":
        if gpu:
            method = "exact" if _fits_on_gpu(n, d, where) else "ivf"
        else:
            method = "exact" if n <= approx_above or device == "torch" else "ivf"
    return SearchPlan(method=method, device=where, block_mb=_GPU_BLOCK_MB if gpu else 128)


def _resolve(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device in ("cpu", "torch"):
        return "cpu"
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise CurationError(f"device {device!r} asked for, but torch sees no CUDA device")
        return device
    raise CurationError(f"unknown device {device!r}; use auto, cpu, torch, cuda or cuda:N")


def _fits_on_gpu(n: int, d: int, device: str) -> bool:
    """Two fp16 copies of X (rows and transposed) plus one block, within half the free memory."""
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return 2 * n * d * 2 + _GPU_BLOCK_MB * 2**20 <= free // 2
