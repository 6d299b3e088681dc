"""What a report run computes: pool and held-out sizes, budgets, the training recipe and the evaluation's
statistics (full and quick)."""

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
    dolly_rows: int = 200  # the Dolly pool: its first rows that fit max_length whole
    alpaca_rows: int = 200  # the Alpaca-subset pool: likewise (the file is in hashed-id order)
    evaluated_pools: tuple[str, ...] = ("dolly", "alpaca")  # pools whose selections are fine-tuned and scored
    heldout_rows: int = 540  # Dolly rows after the pool's that fit whole, not in it (>= 500 once decontaminated)
    self_instruct_rows: int = 175  # the self-instruct seed tasks: the file's first 175 rows
    budgets_pct: tuple[float, ...] = (5.0,)  # in the order they are evaluated
    max_length: int = 512  # tokens, for every training, scoring and embedding call
    train_seeds: int = 3  # each selection fine-tuned with seeds 0..S-1
    random_subsets: int = 5  # same-size random subsets, each trained once (seed r mod S), paired by seed
    token_matched: tuple[str, ...] = ("longest",)  # methods also compared with token-matched random subsets
    eval_epochs: int = 2  # fine-tuning the evaluated models
    train_batch: int = 8
    de_rounds: int = 3  # DiverseEvol rounds: the 5% run passes through 1.7% and 3.3%
    de_epochs: int = 2
    iterit_epochs: int = 2
    iterit_seeds: tuple[int, ...] = (0, 1, 2)  # IterIT's own in-run model, one per run seed
    bootstrap_resamples: int = 2000

    def budgets(self, n: int) -> list[int]:
        """Sample counts: the library's own percent budgets (floor(p N), exact in decimal)."""
        return [max(1, sample_count(Budget("percent", p), n)) for p in self.budgets_pct]


FULL = Settings(name="full")
QUICK = Settings(name="quick", dolly_rows=60, alpaca_rows=40, heldout_rows=12, self_instruct_rows=8,
                 budgets_pct=(20.0,), max_length=128, evaluated_pools=("dolly", "alpaca"), train_seeds=2,
                 random_subsets=2, eval_epochs=1, de_rounds=1,
                 de_epochs=1, iterit_epochs=1, iterit_seeds=(0, 1), bootstrap_resamples=200)


def cache_dir(settings: Settings) -> Path:
    """$BENCH_CACHE/report-<name> (default /tmp/bench_cache): workspaces, models, results; resumable."""
    return Path(os.environ.get("BENCH_CACHE", "/tmp/bench_cache")) / f"report-{settings.name}"
