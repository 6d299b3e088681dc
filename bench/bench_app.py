"""Page rerun times of the app (AppTest, in-process) on the 15k-row Dolly pool, and the browse queries behind
them at 15k and at a synthetic 100k-row pool.

    flock /tmp/cpu.lock .venv/bin/python bench/bench_app.py [--rows 100000] [--repeats 7] [--no-write]

Writes its block into the "## App (issue 6)" section of bench/README.md (other blocks there are left alone).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.formats import importer  # noqa: E402
from curation.services import browse  # noqa: E402
from curation.workspace import Workspace, decisions  # noqa: E402

DOLLY = ROOT.parent / "shared" / "data" / "dolly-15k" / "dolly-15k.jsonl"
README = ROOT / "bench" / "README.md"
SECTION = "## App (issue 6)"


def timed(fn, repeats: int) -> float:
    """Median wall time of `fn` in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def synthetic_pool(folder: Path, rows: int) -> Path:
    """`rows` distinct rows: Dolly's rows, repeated with a variant tag so each is a new sample."""
    base = [json.loads(line) for line in DOLLY.read_text(encoding="utf-8").splitlines()]
    path = folder / f"synthetic-{rows}.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for i in range(rows):
            r = dict(base[i % len(base)])
            if i >= len(base):
                r["instruction"] = f"{r['instruction']} (variant {i // len(base)})"
            out.write(json.dumps(r) + "\n")
    return path


def page_reruns(workspace: Path, repeats: int) -> list[tuple[str, float]]:
    from streamlit.testing.v1 import AppTest

    os.environ["CURATION_WORKSPACE"] = str(workspace)
    os.environ["CURATION_START_WORKER"] = "0"
    app = str(ROOT / "app.py")
    out: list[tuple[str, float]] = []
    start = time.perf_counter()
    at = AppTest.from_file(app, default_timeout=120).run()
    out.append(("first run of the app (Start page, cold imports)", (time.perf_counter() - start) * 1000))
    at.switch_page("pages/data.py").run()
    out.append(("Data: rerun, whole pool, page 1", timed(at.run, repeats)))
    at.text_input(key="data_text").input("the water").run()
    out.append(("Data: rerun with a two-word text search", timed(at.run, repeats)))
    at.text_input(key="data_text").input("").run()
    at.multiselect(key="data_statuses").select("pending").run()
    at.selectbox(key="data_order").select("longest response").run()
    out.append(("Data: rerun, pending, ordered by response length", timed(at.run, repeats)))
    at.pagination[0].set_value(150).run()
    out.append(("Data: rerun on page 150 (offset 7,450)", timed(at.run, repeats)))
    at.switch_page("pages/review.py").run()
    out.append(("Review: rerun", timed(at.run, repeats)))
    out.append(("Review: approve (decision + rerun)",
                timed(lambda: at.button(key="review_approve").click().run(), repeats)))
    out.append(("Review: undo (decision + rerun)", timed(lambda: at.button(key="review_undo").click().run(),
                                                          repeats)))
    at.switch_page("pages/export.py").run()
    out.append(("Export: rerun (counts the export set)", timed(at.run, repeats)))
    assert not at.exception, [e.value for e in at.exception]
    return out


def queries(ws: Workspace, repeats: int) -> list[tuple[str, float]]:
    text = browse.Filter(text="the water")
    pending = browse.Filter(statuses=("pending",), min_response_chars=100, max_response_chars=1000)
    n = browse.count(ws)
    ids = browse.matching_ids(ws)[: n // 5]
    cases = [
        ("count, whole pool", lambda: browse.count(ws)),
        ("count, two-word text search", lambda: browse.count(ws, text)),
        ("page of 50, text search", lambda: browse.page(ws, text, limit=50)),
        ("status counts, length + status filter", lambda: browse.status_counts(ws, pending)),
        ("page of 50 at offset n/2", lambda: browse.page(ws, offset=n // 2, limit=50)),
        ("page of 50 ordered by response length", lambda: browse.page(ws, limit=50, order="longest response")),
        ("next in the review queue", lambda: browse.next_in_queue(ws, browse.Filter(statuses=("pending",)),
                                                                  after_row=n // 2)),
        ("ids matching a text search", lambda: browse.matching_ids(ws, text)),
    ]
    out = [(label, timed(fn, repeats)) for label, fn in cases]
    start = time.perf_counter()
    decisions.record(ws, ids, "approve")
    out.append(("bulk approve a fifth of the pool (one batch)", (time.perf_counter() - start) * 1000))
    start = time.perf_counter()
    decisions.undo_last(ws)
    out.append(("undo that bulk approve", (time.perf_counter() - start) * 1000))
    return out


def write_section(markdown: str) -> None:
    """Replace (or add) this script's block in the App section, leaving the section's other blocks alone."""
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n"
    begin, end = "<!-- app:reruns -->", "<!-- /app:reruns -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    start = text.index(SECTION) + len(SECTION)
    following = re.search(r"^## ", text[start:], flags=re.M)
    stop = start + following.start() if following else len(text)
    section = text[start:stop]
    if begin in section:
        section = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, section, flags=re.S)
    else:
        section = section.rstrip("\n") + f"\n\n{block}\n"
    README.write_text(text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[stop:] if following else ""),
                      encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="size of the synthetic pool for the queries")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/README.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ws15 = Workspace(tmp_path / "dolly")
        start = time.perf_counter()
        importer.import_source(ws15, DOLLY)
        print(f"imported Dolly ({browse.count(ws15):,} rows) in {time.perf_counter() - start:.1f} s")
        reruns = page_reruns(ws15.root, args.repeats)
        q15 = queries(ws15, args.repeats)
        big = Workspace(tmp_path / "big")
        importer.import_source(big, synthetic_pool(tmp_path, args.rows))
        reruns_big = page_reruns(big.root, args.repeats)
        qbig = queries(big, args.repeats)
    rerun_rows = "\n".join(f"| {a[0]} | {a[1]:,.0f} | {b[1]:,.0f} |" for a, b in zip(reruns, reruns_big))
    query_rows = "\n".join(f"| {a[0]} | {a[1]:,.1f} | {b[1]:,.1f} |" for a, b in zip(q15, qbig))
    command = f"flock /tmp/cpu.lock .venv/bin/python bench/bench_app.py --rows {args.rows}"
    markdown = f"""Produced by `{command}` (bench/bench_app.py).

Page reruns: `streamlit.testing.v1.AppTest` runs of the page script (the app's sidebar included), median of
{args.repeats} in ms, on the Dolly pool ({browse.count(ws15):,} samples) and on {args.rows:,} rows (Dolly's rows
repeated with a variant tag, so every row is a distinct sample): what the server spends per interaction before
the browser draws. Tables are paged on the server (`curation.services.browse`: a `COUNT(*)` and one `LIMIT/OFFSET` page
in SQLite), so no rerun loads the pool into a frame.

| page rerun | 15k ms | {args.rows // 1000}k ms |
|---|---|---|
{rerun_rows}

The queries behind the pages, median ms:

| query | 15k ms | {args.rows // 1000}k ms |
|---|---|---|
{query_rows}

Ordering by length sorts the matching rows on every rerun (no index on `samples.response_chars`), which is what
the slower Data rows above pay; an index in a schema migration would make deep pages in that order cheap.
"""
    print(markdown)
    if not args.no_write:
        write_section(markdown)
        print(f"wrote the App block of {README}")


if __name__ == "__main__":
    main()
