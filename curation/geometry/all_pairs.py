"""The exact all-pairs search for near duplicates: every pair of unit rows with cosine >= t, faster than FAISS's
flat range search.

It multiplies upper-triangle blocks in bf16 (fp16 on CUDA) with fp32 accumulation, keeps candidates at t - eps,
where eps bounds the low-precision error (3u + d 2^-23 for unit rows, u the unit round-off), and re-checks each
candidate in float64. Nothing at or above t can be missed; every pair returned is verified. On a CPU without
native bf16 it multiplies in fp32.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np

from curation.errors import Cancelled

Progress = Callable[[int, int, str], None]


def similar_pairs(X: np.ndarray, threshold: float, *, device: str = "auto", block_mb: int = 128,
                  progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, cosine) for every pair i < j of unit rows with cosine >= threshold, exactly (see module doc).

    Memory above X: one block of the similarity matrix (`block_mb`) plus a low-precision copy of X.
    """
    import torch

    X = np.ascontiguousarray(X, dtype=np.float32)
    n, d = X.shape
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    low = _low_precision(dev)
    unit = {torch.bfloat16: 2.0 ** -8, torch.float16: 2.0 ** -11, torch.float32: 2.0 ** -24}[low]
    eps = 3 * unit + unit * unit + d * 2.0 ** -23 + 1e-6  # inputs, products, output rounding, accumulation
    candidate = threshold - eps
    xl = torch.from_numpy(X).to(dev).to(low)
    xlt = xl.T.contiguous()
    bytes_per = 2 if low != torch.float32 else 4
    block = int(max(64, min(4096, block_mb * 2**20 // max(1, n * bytes_per))))
    bits = _as_int16_bits(candidate, low) if low != torch.float32 and candidate > 0 else None
    total_work, done_work = n * (n + 1) / 2, 0.0
    out_i, out_j, out_s = [], [], []
    with torch.inference_mode(), _fp32_accumulation(dev):
        for a in range(0, n, block):
            if should_stop is not None and should_stop():
                raise Cancelled("duplicate search cancelled")
            b = min(a + block, n)
            S = xl[a:b] @ xlt[:, a:]  # rows a..b against columns a..n: the upper triangle, block by block
            S[:, : b - a].triu_(1)  # drop the diagonal and below (zero is under any positive threshold)
            if bits is not None:  # positive 16-bit floats order like their bit patterns: an int16 compare
                view = S.view(torch.int16)
                rows = torch.nonzero(view.amax(dim=1) >= bits).flatten()
                r, c = torch.nonzero(view[rows] >= bits, as_tuple=True)
                r = rows[r]
            else:
                r, c = torch.nonzero(S >= candidate, as_tuple=True)
            gi, gj = (r + a).cpu().numpy(), (c + a).cpu().numpy()
            upper = gj > gi
            gi, gj, sims = _verify(X, gi[upper], gj[upper], threshold)
            out_i.append(gi)
            out_j.append(gj)
            out_s.append(sims)
            done_work += (b - a) * (n - a) - (b - a) ** 2 / 2
            if progress is not None:
                progress(int(done_work), int(total_work), "duplicate search")
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_s)


def _verify(X: np.ndarray, i: np.ndarray, j: np.ndarray, threshold: float,
            chunk: int = 16384) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep candidate pairs whose float64 cosine is >= threshold."""
    keep_i, keep_j, keep_s = [], [], []
    for s in range(0, len(i), chunk):
        ii, jj = i[s:s + chunk], j[s:s + chunk]
        sims = np.einsum("nd,nd->n", X[ii].astype(np.float64), X[jj].astype(np.float64))
        ok = sims >= threshold
        keep_i.append(ii[ok])
        keep_j.append(jj[ok])
        keep_s.append(sims[ok].astype(np.float32))
    if not keep_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate(keep_i).astype(np.int64), np.concatenate(keep_j).astype(np.int64),
            np.concatenate(keep_s))


@contextmanager
def _fp32_accumulation(dev):
    """cuBLAS may reduce fp16 products in fp16 unless told not to; the error margin assumes fp32 sums."""
    import torch

    if dev.type != "cuda":
        yield
        return
    flag = torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = flag


def _low_precision(dev):
    import torch

    if dev.type == "cuda":
        return torch.float16
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


def _as_int16_bits(value: float, dtype: Any) -> int:
    """Bit pattern (as int16) of the largest 16-bit float <= value, so `bits >= it` keeps all >= value."""
    import torch

    t = torch.tensor(value, dtype=torch.float32).to(dtype)
    if float(t) > value:  # rounded up: step one ulp down
        t = torch.tensor(int(t.view(torch.int16)) - 1, dtype=torch.int16).view(dtype)
    return int(t.view(torch.int16))
