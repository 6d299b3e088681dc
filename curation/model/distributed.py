"""Several processes (`accelerate launch` / `torchrun`) without code changes: who am I, and sum across us.

Training splits each optimizer step's micro-batches across processes and sums gradients before the step, so
every process keeps identical weights and the result equals a single process running the whole batch.
Scoring splits the batches and sums the per-sample accumulators. With one process everything is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from curation.errors import CurationError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @staticmethod
    def current() -> World:
        launched = int(os.environ.get("WORLD_SIZE", "1"))
        if launched > 1 and not torch.distributed.is_initialized():
            from accelerate import PartialState

            # initialises the process group the launcher described; without cpu=True accelerate only
            # builds one where an accelerator is present, and every process would train alone on all data
            PartialState(cpu=not torch.cuda.is_available())
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return World(torch.distributed.get_rank(), torch.distributed.get_world_size())
        if launched > 1:
            raise CurationError(f"launched as {launched} processes (WORLD_SIZE) but no process group formed")
        return World()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def sum(self, value: float) -> float:
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=_device())
        torch.distributed.all_reduce(t)
        return float(t.item())

    def sum_array(self, array: np.ndarray) -> np.ndarray:
        if self.size == 1:
            return array
        t = torch.from_numpy(np.ascontiguousarray(array)).to(_device())
        torch.distributed.all_reduce(t)
        return t.cpu().numpy()

    def all_reduce_grads(self, params: Any) -> None:
        if self.size == 1:
            return
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            torch.distributed.all_reduce(p.grad)


def _device():
    backend = torch.distributed.get_backend()
    return torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
