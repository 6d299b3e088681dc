"""The Data page's filter form as values: what the run-selection box offers, and the `browse.Filter` the
widgets' values describe (the widgets themselves are drawn by pages/_filters.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from curation.services import browse

PINNED = {"any": None, "pinned": True, "not pinned": False}
RunOption = tuple[str, int | None]  # (kind, run_id): all, any, not_any, in, not_in
_RUN_NAMES = {"all": "any sample", "any": "selected by any run", "not_any": "not selected by any run",
              "in": "selected by {}", "not_in": "not selected by {}"}


def run_options(runs: Sequence[tuple[int, str, list[int]]]) -> tuple[list[RunOption], dict[int, list[int]]]:
    """(kind, run_id) choices for the selection filter (from `browse.run_choices`), and each run's completed
    iterations."""
    options: list[RunOption] = [("all", None)]
    if runs:
        options += [("any", None), ("not_any", None)]
        for run_id, _, _ in runs:
            options += [("in", run_id), ("not_in", run_id)]
    return options, {run_id: its for run_id, _, its in runs}


def run_option_label(option: RunOption, labels: dict[int, str]) -> str:
    kind, run_id = option
    return _RUN_NAMES[kind].format(labels.get(run_id, "") if run_id is not None else "")


def intersect(id_sets: Iterable[Sequence[str] | None]) -> tuple[str, ...] | None:
    """Samples in every given set, sorted (None entries do not restrict; None when none restricts)."""
    chosen: set[str] | None = None
    for ids in id_sets:
        if ids is not None:
            chosen = set(ids) if chosen is None else chosen & set(ids)
    return None if chosen is None else tuple(sorted(chosen))


def build_filter(*, text: str = "", match: str = "words", sources: Sequence[str] = (), statuses: Sequence[str] = (),
                 length: tuple[int, int] | None = None, bounds: tuple[int, int] = (0, 0), pinned: str = "any",
                 decided_by: Sequence[str] = (), exact: bool = False, run: RunOption = ("all", None),
                 iteration: int | None = None, ids: tuple[str, ...] | None = None) -> browse.Filter:
    """The filter the form's values describe; a length range at the pool's bounds does not restrict."""
    lo, hi = bounds
    low, high = length if length is not None else bounds
    kind, run_id = run
    return browse.Filter(
        text=text, match="substring" if match == "substring" else "words", sources=tuple(sources),
        statuses=tuple(statuses),
        min_response_chars=low if low > lo else None, max_response_chars=high if high < hi else None,
        pinned=PINNED[pinned], decided_by=tuple(decided_by), exact_duplicates=exact,
        run_id=run_id, iteration=iteration, in_selection=kind in ("in", "any"), any_run=kind in ("any", "not_any"),
        ids=ids)
