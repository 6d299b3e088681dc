"""The contract every selection method follows: one `Selector` protocol, the pool it sees, what a step returns.

A run is a sequence of iterations (DiverseEvol rounds, IterIT epochs, one step for one-shot methods). The runner
calls `Selector.step` once per iteration and persists the returned `Step` before calling the next, so a step
must be a pure function of (pool, config, target, constraints, seed, iteration, the previous persisted
iteration): that is what makes a killed run resume to the same selection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

# configs are built by curation.configs; these stay importable from here for pages/select.py and the CLI
from curation.configs import choices_of as choices_of
from curation.configs import help_of as help_of
from curation.errors import Cancelled
from curation.methods.budgets import Target
from curation.records import Record

Progress = Callable[[int, int, str], None]

# score components every iteration's scores frame carries (NaN where a method has no such notion)
COMPONENTS = ("complexity", "diversity", "learning_percentage", "distance_to_selected")


@dataclass(frozen=True)
class Pool:
    """The samples a run selects from, in workspace row order (row i of every array is `ids[i]`)."""

    ids: list[str]
    records: list[Record]
    tokens: np.ndarray  # int64 [N]: tokens per sample (prompt + response), for token budgets and metrics

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def response_chars(self) -> np.ndarray:
        return np.fromiter((len(r.response) for r in self.records), dtype=np.int64, count=len(self.records))


@dataclass(frozen=True)
class Constraints:
    """Human decisions as hard constraints: required rows are always selected, excluded rows never."""

    required: np.ndarray  # int64 rows, sorted (approved or pinned samples)
    excluded: np.ndarray  # bool [N] (rejected samples)

    @staticmethod
    def none(n: int) -> Constraints:
        return Constraints(np.zeros(0, np.int64), np.zeros(n, bool))

    def candidates(self) -> np.ndarray:
        """bool [N]: rows a method may pick (neither required, already in, nor excluded)."""
        mask = ~self.excluded.copy()
        mask[self.required] = False
        return mask


@dataclass(frozen=True)
class Previous:
    """The last persisted iteration, as a step sees it when it continues (or resumes) a run."""

    iteration: int
    order: np.ndarray  # int64 rows in pick order
    scores: pd.DataFrame | None
    checkpoint: str  # name of the checkpoint trained after that iteration ("" when none)


@dataclass
class StepContext:
    """Everything a step may use. `engine` does all model work (a fake one in the fast tests)."""

    pool: Pool
    config: Any
    target: Target
    constraints: Constraints
    engine: Any  # curation.methods.engines.base.Engine
    seed: int
    state_dir: Path  # run-private folder for arrays a step wants to keep (clusters, trajectories)
    checkpoint_name: Callable[[int], str]  # workspace checkpoint name for the model of an iteration
    progress: Progress | None = None
    should_stop: Callable[[], bool] | None = None

    def rng(self, iteration: int, stream: int = 0) -> np.random.Generator:
        """A generator that depends only on (seed, iteration, stream): resumed steps draw the same numbers."""
        return np.random.default_rng([self.seed, iteration, stream])

    def check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Cancelled("selection cancelled")

    def report(self, done: int, total: int, message: str) -> None:
        if self.progress is not None:
            self.progress(done, total, message)


@dataclass
class Step:
    """What one iteration produced. `order` starts with the required rows; `reasons` explain each pick."""

    order: np.ndarray  # int64 rows in pick order, exactly the budget
    reasons: list[str]  # one per entry of `order`
    gains: np.ndarray  # float [len(order)]: the score each pick won with (NaN for required rows)
    components: dict[str, np.ndarray] = field(default_factory=dict)  # per-sample arrays [N]
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint: str = ""


class Selector(Protocol):
    """A selection method. Stateless: tunables live in the config, learned state in the persisted iterations.
    Register one with `curation.methods.registry.register` (docs/methods.md, "Adding a method")."""

    name: ClassVar[str]
    title: ClassVar[str]  # one line for menus
    config_cls: ClassVar[type]  # a frozen dataclass; its type hints are the schema (curation.configs)
    uses_model: ClassVar[bool]  # trains or scores with a causal LM (slow; needs the model engine)

    def n_iterations(self, config: Any, target: Target) -> int: ...

    def step(self, ctx: StepContext, iteration: int, previous: Previous | None) -> Step: ...


# -- helpers shared by the methods ----------------------------------------------------------------------
def required_prefix(ctx: StepContext) -> tuple[list[int], list[str]]:
    """The pick order's head: required rows, each with its reason."""
    rows = [int(r) for r in ctx.constraints.required]
    return rows, ["required: approved or pinned by a reviewer"] * len(rows)


def finish(ctx: StepContext, picks: np.ndarray, reasons: list[str], gains: np.ndarray,
           **kwargs: Any) -> Step:
    """Required rows then the method's picks, cut to the budget (exact count, or the token prefix)."""
    head, head_reasons = required_prefix(ctx)
    order = np.concatenate([np.asarray(head, np.int64), np.asarray(picks, np.int64)])
    keep = len(ctx.target.take(order))
    all_reasons = head_reasons + list(reasons)
    all_gains = np.concatenate([np.full(len(head), np.nan), np.asarray(gains, np.float64)])
    return Step(order=order[:keep], reasons=all_reasons[:keep], gains=all_gains[:keep], **kwargs)


def picks_needed(ctx: StepContext, target: Target | None = None) -> int:
    """How many rows a method must pick on top of the required ones (an upper bound for token budgets)."""
    target = target or ctx.target
    available = int(ctx.constraints.candidates().sum())
    need = target.n - len(ctx.constraints.required)
    return max(0, min(need, available))
