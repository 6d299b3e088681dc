"""The Explore map at 15k, 200k and 1M points: figure bytes and build time (drawn sample + density image), the
full figure's bytes for comparison, and lasso resolution time against every point.

    flock /tmp/cpu.lock .venv/bin/python bench/bench_map.py [--no-write]

Writes its block into the "## Explore map (issue 12)" section of bench/README.md (the rest of it is by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.geometry import lasso  # noqa: E402
from curation.services import map_figure, plots  # noqa: E402

DOLLY = ROOT.parent / "shared" / "data" / "dolly-15k" / "dolly-15k.jsonl"
README = ROOT / "bench" / "README.md"
SECTION = "## Explore map (issue 12)"
SIZES = (15_000, 200_000, 1_000_000)


def hover_labels() -> np.ndarray:
    rows = [json.loads(line) for line in DOLLY.read_text(encoding="utf-8").splitlines()[:5000]]
    return np.array(plots.hover_texts([r["instruction"] for r in rows], [r["output"] for r in rows]), dtype=object)


def star(points: int, centre: tuple[float, float], radius: float) -> tuple[list[float], list[float]]:
    """A concave lasso of `points` vertices, like a hand-drawn one."""
    angles = np.linspace(0, 2 * np.pi, points, endpoint=False)
    r = radius * (0.6 + 0.4 * np.cos(5 * angles))
    return (centre[0] + r * np.cos(angles)).tolist(), (centre[1] + r * np.sin(angles)).tolist()


def measure(n: int, labels: np.ndarray) -> dict[str, float]:
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    colours = {"colour": np.array([f"source {i % 5}" for i in range(n)], dtype=object), "colour_label": "source"}

    def hover_of(rows: np.ndarray) -> list[str]:
        return labels[np.asarray(rows) % len(labels)].tolist()

    started = time.perf_counter()
    figure, drawn = map_figure.pool_map_figure(coords, colours, hover_of)
    spec = figure.to_json()
    build = time.perf_counter() - started
    out = {"n": n, "drawn": len(drawn), "mb": len(spec) / 1e6, "build_s": build}
    if n <= 200_000:  # the old figure (every point): 316 MB at 1M, not worth building again
        full = plots.map_figure(coords, colours["colour"], hover=hover_of(np.arange(n)), colour_label="source")
        out["full_mb"] = len(full.to_json()) / 1e6
    xs, ys = star(300, (0.2, -0.1), 1.2)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        rows = lasso.selected_rows(coords, lassos=[(xs, ys)])
        times.append(time.perf_counter() - started)
    out["lasso_s"], out["lassoed"] = statistics.median(times), len(rows)
    return out


def write_section(markdown: str) -> None:
    """Replace (or add) this script's block in its section of bench/README.md, leaving the rest alone."""
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    begin, end = "<!-- map:figures -->", "<!-- /map:figures -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    README.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/README.md alone")
    args = parser.parse_args()
    labels = hover_labels()
    results = []
    for n in SIZES:
        r = measure(n, labels)
        results.append(r)
        print(r, flush=True)
    def full(r: dict[str, float]) -> str:
        return f"{r['full_mb']:.1f}" if "full_mb" in r else "not built (316 in the issue)"

    rows = "\n".join(f"| {r['n']:,} | {r['drawn']:,} | {r['mb']:.1f} | {full(r)} | {r['build_s']:.2f}"
                     f" | {r['lasso_s'] * 1000:.0f} ({r['lassoed']:,} inside) |" for r in results)
    markdown = f"""Produced by `flock /tmp/cpu.lock .venv/bin/python bench/bench_map.py` on {platform.machine()},
{os.cpu_count()} cores shared (load {os.getloadavg()[0]:.1f} at the start), Python {platform.python_version()}.

The map draws at most `map_figure.MAX_DRAWN` points (stratified: every colour group keeps some) over a
{map_figure.DENSITY_BINS}x{map_figure.DENSITY_BINS} density image of all of them; a lasso is resolved on the
server against every point. *figure MB*: `len(fig.to_json())` with Dolly's hover labels, what a rerun sends;
*every point MB*: the figure that draws every point (the page's figure before issue 12). *build s*: drawn sample,
hover, density and JSON. *lasso ms*: a 300-vertex concave lasso against every point (median of 3).

| points | drawn | figure MB | every point MB | build s | lasso ms |
|---|---|---|---|---|---|
{rows}
"""
    print(markdown)
    if not args.no_write:
        write_section(markdown)
        print(f"wrote the map section of {README}")


if __name__ == "__main__":
    main()
