"""What the Duplicates page says about a saved scan: its caption, each group member's verdict, the groups in
the order and pages they are shown in. Pure formatting over `dedup_scan.SavedScan` and `dedup.plan`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curation.geometry import dedup
from curation.geometry.dedup_scan import SavedScan

KEEPERS = {"longest": "the longest response", "first": "the first seen"}


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def scan_caption(saved: SavedScan) -> str:
    """"Scan of 330 samples (prompt, near and exact, floor 0.85) from 2026-12-01 22:40; 2 pairs marked
    keep-both." (plain text: escape it before a Markdown element)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved.created))
    kind = "near and exact" if saved.near else "exact only"
    marks = f"; {saved.n_distinct} pairs marked keep-both" if saved.n_distinct else ""
    return f"Scan of {saved.pool.scan.n:,} samples ({saved.field}, {kind}, floor {saved.floor:.2f}) from {when}{marks}."


def member_label(row: int, drops: Mapping[int, dedup.Drop], protected: np.ndarray) -> str:
    """A group member's verdict as Markdown: dropped (and why), protected (approved or pinned) or kept."""
    if row in drops:
        d = drops[row]
        why = "exact duplicate of" if d.exact else f"cosine {d.cosine:.3f} to"
        return f":red[**drop**] · {why} the kept one"
    if protected[row]:
        return ":blue[**protected**] · approved or pinned"
    return ":green[**keep**]"


def ordered(groups: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The largest groups first; equal sizes by their first row."""
    return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def n_pages(n_groups: int, per_page: int) -> int:
    return -(-n_groups // per_page)


@dataclass(frozen=True)
class GroupOnPage:
    number: int  # from 1, in the order shown
    rows: list[int]
    ids: list[str]


@dataclass(frozen=True)
class Preview:
    """A scan at one threshold and keeper rule: the counts, the plan (what "apply to all" rejects, by row) and
    the groups, largest first."""

    count: dedup.ThresholdCount
    drops: list[dedup.Drop]
    by_row: dict[int, dedup.Drop]
    groups: list[np.ndarray]
    ids: list[str]

    def tiles(self) -> list[tuple[str, str]]:
        c = self.count
        return [("Groups", f"{c.groups:,}"), ("Samples in groups", f"{c.in_groups:,}"),
                ("Would be rejected", f"{c.dropped:,}"), ("Pairs", f"{c.pairs:,}")]

    def page(self, page_no: int, per_page: int) -> list[GroupOnPage]:
        """The groups on page `page_no` (from 1; clamped to the last page)."""
        page_no = max(1, min(page_no, n_pages(len(self.groups), per_page)))
        start = (page_no - 1) * per_page
        return [GroupOnPage(number, [int(r) for r in g], [self.ids[int(r)] for r in g])
                for number, g in enumerate(self.groups[start:start + per_page], start=start + 1)]


def preview(saved: SavedScan, threshold: float, keeper: str) -> Preview:
    """What the page shows at `threshold` (approved and pinned samples are never planned for rejection)."""
    pool = saved.pool
    drops = dedup.plan(pool.scan, threshold, X=pool.X, keeper=keeper, response_chars=pool.response_chars,
                       protected=pool.protected)
    return Preview(count=pool.scan.preview([threshold])[0], drops=drops, by_row={d.row: d for d in drops},
                   groups=ordered(pool.scan.groups(threshold)), ids=list(pool.ids))


def confirm_text(n_drops: int, n_groups: int, threshold: float, keeper: str) -> str:
    """The question "Apply to all" asks before rejecting."""
    return (f"Reject {n_drops:,} samples in {n_groups:,} groups at cosine ≥ {threshold:.3f}, keeping "
            f"{KEEPERS[keeper]} of each (approved and pinned samples are never rejected)? One undo takes it back.")


def threshold_key(floor: float) -> str:
    """Session key of the threshold slider: one per scan floor (a new floor's slider starts fresh). The Data
    page's near-duplicate filter reads it too."""
    return f"dup_threshold_{round(floor * 1000)}"


def default_threshold(floor: float) -> float:
    return float(max(floor, 0.95))


def threshold_in(state: Mapping[str, Any], floor: float) -> float:
    """The threshold the Duplicates page's slider is at in this session (its default before it is moved)."""
    return float(state.get(threshold_key(floor), default_threshold(floor)))
