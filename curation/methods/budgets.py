"""Budgets in samples, percent of the pool, or tokens, and how they become an exact target.

Samples and percent give an exact count: every method returns exactly that many rows. A token budget takes
a method's picks in pick order until the next one would not fit (the selection is a prefix of the method's
order, so it is as faithful to the method as a sample budget). Percent rounds down, as IterIT's k = floor(r N).

`apportion` is the exact per-group allocation (largest remainder, with caps) that learning percentage and
cluster-random use instead of the reference's per-cluster ceilings, which overshoot up to 2x.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from curation.errors import CurationError

Kind = Literal["samples", "percent", "tokens"]
_TOKENS = re.compile(r"^(\d+(?:\.\d+)?)\s*([km]?)\s*(?:tok|toks|token|tokens)$", re.IGNORECASE)
_SAMPLES = re.compile(r"^(\d+(?:\.\d+)?)\s*([km]?)$", re.IGNORECASE)
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000}


@dataclass(frozen=True)
class Budget:
    kind: Kind
    value: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Budget:
        return Budget(data["kind"], float(data["value"]))

    def __str__(self) -> str:
        if self.kind == "percent":
            return f"{self.value:g}%"
        return f"{int(self.value)} tokens" if self.kind == "tokens" else f"{int(self.value)}"


def parse_budget(text: str | int | float | Budget) -> Budget:
    """'1000' (samples), '5%' (percent of the pool), '200k tokens' / '200000tok' (tokens)."""
    if isinstance(text, Budget):
        return text
    if isinstance(text, int | float):
        return Budget("samples", float(text))
    s = str(text).strip().replace(",", "").replace("_", "")
    if s.endswith("%"):
        try:
            value = float(s[:-1])
        except ValueError:
            raise CurationError(f"budget {text!r}: write a percentage like 5%") from None
        if not 0 < value <= 100:
            raise CurationError(f"budget {text!r}: a percentage must be in (0, 100]")
        return Budget("percent", value)
    for pattern, kind in ((_TOKENS, "tokens"), (_SAMPLES, "samples")):
        m = pattern.match(s)
        if m:
            value = float(m.group(1)) * _SCALE[m.group(2).lower()]
            if value != int(value) or value < 1:
                raise CurationError(f"budget {text!r}: needs a whole number of {kind} >= 1")
            return Budget(kind, value)  # type: ignore[arg-type]
    raise CurationError(f"cannot read budget {text!r}: use a count (1000), a percentage (5%) or tokens (200k tokens)")


@dataclass(frozen=True, eq=False)
class Target:
    """A budget resolved against a pool. `n` is exact, except for token budgets where it is an upper bound."""

    n: int
    n_plan: int  # the count a method plans its rounds with (= n, or the expected count for tokens)
    max_tokens: int | None = None
    tokens: np.ndarray | None = None  # per-row tokens (token budgets only)

    def take(self, order: np.ndarray) -> np.ndarray:
        """The part of a pick order that the budget keeps."""
        order = np.asarray(order, dtype=np.int64)
        if self.max_tokens is None or self.tokens is None:
            return order[: self.n]
        used = np.cumsum(self.tokens[order])
        return order[: int(np.searchsorted(used, self.max_tokens, side="right"))]

    def scaled(self, size: int) -> Target:
        """The target of an intermediate round that should hold `size` of the final `n_plan` samples."""
        if self.max_tokens is None:
            return Target(n=size, n_plan=size)
        share = min(1.0, size / max(self.n_plan, 1))
        return Target(n=self.n, n_plan=size, max_tokens=int(self.max_tokens * share), tokens=self.tokens)


def sample_count(budget: Budget, n_pool: int, *, tokens_per_sample: float | None = None) -> int:
    """How many samples `budget` means in a pool of `n_pool`: the one rule every caller uses.

    Samples: the count itself. Percent: floor(value x n_pool / 100) in exact decimal arithmetic, so 18.4% of
    375 is 69 (in floats 375 x 18.4 / 100 = 68.99999...). Tokens: only an expectation,
    floor(value / tokens_per_sample); the exact count depends on which samples a method picks (see `resolve`).
    Not capped at the pool: `resolve` reports a budget the pool cannot meet.
    """
    if budget.kind == "samples":
        return int(budget.value)
    if budget.kind == "percent":
        # str() of a float is its shortest repr ("18.4"), i.e. the number the user typed
        return int(math.floor(Decimal(str(budget.value)) * n_pool / 100))
    if tokens_per_sample is None:
        raise ValueError("a token budget's sample count needs tokens_per_sample")
    return int(budget.value // max(float(tokens_per_sample), 1.0))


def resolve(budget: Budget, tokens: np.ndarray, *, required: np.ndarray, excluded: np.ndarray) -> Target:
    """Turn a budget into a target for a pool with `tokens` per row, checking it can be met."""
    n_pool = len(tokens)
    available = n_pool - int(excluded.sum())
    if budget.kind == "tokens":
        return _resolve_tokens(int(budget.value), np.asarray(tokens, np.int64), required, excluded)
    n = sample_count(budget, n_pool)
    if n < 1:
        raise CurationError(f"budget {budget} of a {n_pool}-sample pool selects nothing; raise it")
    if n > available:
        raise CurationError(f"budget {budget} = {n} samples, but only {available} samples are not rejected")
    if len(required) > n:
        raise CurationError(f"{len(required)} approved or pinned samples exceed the budget of {n}; "
                            "raise the budget or unpin some")
    return Target(n=n, n_plan=n)


def _resolve_tokens(max_tokens: int, tokens: np.ndarray, required: np.ndarray, excluded: np.ndarray) -> Target:
    fixed = int(tokens[required].sum())
    if fixed > max_tokens:
        raise CurationError(f"approved or pinned samples hold {fixed} tokens, more than the budget of "
                            f"{max_tokens}; raise the budget or unpin some")
    free = ~excluded.copy()
    free[required] = False
    spare = max_tokens - fixed
    by_size = np.sort(tokens[free])
    upper = int(np.searchsorted(np.cumsum(by_size), spare, side="right"))  # the most samples that could fit
    mean = float(by_size.mean()) if len(by_size) else 1.0
    expected = min(upper, int(spare / max(mean, 1.0)))
    if upper + len(required) < 1:
        raise CurationError(f"no sample fits in {max_tokens} tokens")
    return Target(n=upper + len(required), n_plan=max(1, expected + len(required)), max_tokens=max_tokens,
                  tokens=tokens)


def apportion(total: int, weights: np.ndarray, caps: np.ndarray | None = None) -> np.ndarray:
    """Integer shares of `total` proportional to `weights`, each at most its cap, summing exactly to `total`.

    Largest remainder (Hamilton): floor of each exact share, then one more to the largest fractional parts
    (ties to the lower index). Groups that hit their cap keep it and the rest is shared again among the others.
    """
    weights = np.asarray(weights, dtype=np.float64)
    caps = np.full(len(weights), total, np.int64) if caps is None else np.asarray(caps, np.int64)
    if total > caps.sum():
        raise CurationError(f"cannot allocate {total} among groups holding only {int(caps.sum())}")
    out = np.zeros(len(weights), np.int64)
    fixed = np.zeros(len(weights), bool)
    while True:
        free = ~fixed & (caps > 0)
        remaining = total - int(out[fixed].sum())
        w = np.where(free, weights, 0.0)
        if w.sum() <= 0:
            w = free.astype(np.float64)  # no weight left: share evenly among groups with room
        share = remaining * w / w.sum() if w.sum() > 0 else np.zeros(len(w))
        alloc = np.floor(share + 1e-9).astype(np.int64)
        extra = remaining - int(alloc.sum())
        if extra > 0:
            frac = np.where(free, share - alloc, -1.0)
            alloc[np.argsort(-frac, kind="stable")[:extra]] += 1
        over = free & (alloc > caps)
        if not over.any():
            out[~fixed] = alloc[~fixed]
            return out
        out[over] = caps[over]
        fixed |= over
