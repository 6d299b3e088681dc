"""What a report run computes: slice sizes, budgets and the scaled-down training recipe (full and quick)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from curation.methods.budgets import Budget, sample_count

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
DOLLY = DATA / "dolly-15k" / "dolly-15k.jsonl"
ALPACA = DATA / "alpaca-52k-subset" / "alpaca-52k-subset.jsonl"
SELF_INSTRUCT = DATA / "self-instruct-seed" / "self-instruct-seed.jsonl"
REPORT = REPO / "bench" / "REPORT.md"


@dataclass(frozen=True)
class Settings:
    name: str
    dolly_rows: int = 400  # the Dolly pool: its first rows
    alpaca_rows: int = 240  # the Alpaca-subset pool: its first rows (the file is in hashed-id order)
    heldout_rows: int = 100  # Dolly rows after the pool, minus any whose content is in the pool
    self_instruct_rows: int = 100  # evenly spaced over the 427 rows (seed tasks and user-oriented); 0 = all
    budgets_pct: tuple[float, ...] = (5.0, 10.0)
    random_seeds: tuple[int, ...] = (0, 1, 2)
    max_length: int = 128  # tokens, for every scoring, embedding and training call
    de_rounds: int = 3  # DiverseEvol rounds: the 10% run passes through 2.5, 5 and 7.5%
    de_epochs: int = 2
    iterit_epochs: int = 2
    train_epochs: int = 2  # fine-tuning the evaluated models on each subset
    transfer_layers: tuple[int, int] = (5, 15)  # the smaller selector: SmolLM2-135M's first 5 + last 15 of 30
    train_batch: int = 8

    def budgets(self, n: int) -> list[int]:
        """Sample counts: the library's own percent budgets (floor(p N), exact in decimal)."""
        return [max(1, sample_count(Budget("percent", p), n)) for p in self.budgets_pct]


FULL = Settings(name="full")
QUICK = Settings(name="quick", dolly_rows=64, alpaca_rows=48, heldout_rows=8, self_instruct_rows=8,
                 budgets_pct=(10.0, 20.0), random_seeds=(0, 1, 2), max_length=64, de_rounds=1, de_epochs=1,
                 iterit_epochs=1, train_epochs=1)


def cache_dir(settings: Settings) -> Path:
    """$BENCH_CACHE/report-<name> (default /tmp/bench_cache): workspaces, models, results; resumable."""
    return Path(os.environ.get("BENCH_CACHE", "/tmp/bench_cache")) / f"report-{settings.name}"
