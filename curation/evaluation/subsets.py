"""The training subsets of an evaluation: the selection and same-size (or same-token) random subsets.

Every subset is cut down to rows that can be trained at the evaluation's max length *before* its size is fixed,
so the selection and each random subset train on the same number of samples (or tokens) instead of the trainer
dropping a different number from each. Trained tokens are counted exactly as the trainer counts them: the tokens
inside the labelled spans (every assistant turn, or the final one) after truncation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from curation.errors import CurationError
from curation.records import Record


def trained_tokens(tokenizer: Any, template: str, records: Sequence[Record], *, max_length: int,
                   train_on: str = "all_assistant") -> np.ndarray:
    """Per record: the tokens that would carry loss when trained at `max_length` (0: not trainable)."""
    from curation.model.formatting import OK, Formatter

    out = np.zeros(len(records), np.int64)
    for i, f in enumerate(Formatter(tokenizer, template, max_length).format(records)):
        if f.status != OK:
            continue
        spans = f.labels if train_on == "all_assistant" else f.labels[-1:]
        out[i] = sum(b - a for a, b in spans)
    return out


def random_subset(candidates: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` distinct candidates, uniformly at random, in draw order."""
    candidates = np.asarray(candidates, np.int64)
    if size > len(candidates):
        raise CurationError(f"a random subset of {size} needs {size} trainable candidates; the pool has "
                            f"{len(candidates)}")
    return candidates[rng.permutation(len(candidates))[:size]]


def token_matched_subset(candidates: np.ndarray, tokens: np.ndarray, target: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Candidates in a random order, grown one at a time until their tokens come closest to `target`.

    The non-empty shuffled prefix whose token total is nearest `target` (the shorter one on a tie): within
    one row's tokens of it. `tokens` is indexed by candidate value (per pool row)."""
    candidates = np.asarray(candidates, np.int64)
    order = candidates[rng.permutation(len(candidates))]
    totals = np.cumsum(tokens[order])
    if len(order) == 0 or totals[-1] < target:
        raise CurationError(f"the trainable pool holds {int(totals[-1]) if len(order) else 0} tokens, fewer than "
                            f"the selection's {target}")
    k = int(np.searchsorted(totals, target))  # first prefix reaching the target (k + 1 rows)
    if k > 0 and target - totals[k - 1] <= totals[k] - target:
        return order[:k]
    return order[: k + 1]
