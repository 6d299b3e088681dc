"""The evidence report. One command regenerates bench/REPORT.md and its PNG plots:

    flock /tmp/cpu.lock .venv/bin/python bench/run.py            # full: several hours on 2 CPU cores, resumable
    .venv/bin/python bench/run.py --quick                 # smoke run, ~10 min, writes /tmp/curation-report-quick/

Data from ../shared/data, the default models from their packages (HF_HUB_OFFLINE=1). Every selection run,
fine-tuned model and comparison is kept in $BENCH_CACHE/report-<mode>/ (default /tmp/bench_cache) the moment it
finishes, so an interrupted run picks up where it stopped; `--fresh` starts over. Stages that have not run (or
failed, or were skipped by --max-minutes) are marked "not run" in the report. The report's numbers are the
ones this script computed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.report import settings as S  # noqa: E402
from bench.report.document import write_report  # noqa: E402
from bench.report.store import ResultStore  # noqa: E402

# the largest budget of both pools first; later stages stop cleanly at --max-minutes (reported as not run)
STAGES = ("dolly", "eval_dolly_top", "alpaca", "eval_alpaca_top", "eval_dolly_rest", "eval_alpaca_rest", "summary")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, writes to /tmp (not bench/REPORT.md)")
    parser.add_argument("--out", type=Path, help="report file (default bench/REPORT.md, or /tmp/... with --quick)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"subset of {','.join(STAGES)}")
    parser.add_argument("--max-minutes", type=float, default=0.0,
                        help="do not start a stage after this many minutes (it is reported as not run)")
    parser.add_argument("--fresh", action="store_true", help="forget the cache and start over")
    parser.add_argument("--budgets", help="percent budgets, comma-separated, in the order they are evaluated"
                                          " (default: the settings' own, e.g. 5); the cache is shared, so a run"
                                          " with more budgets reuses what one with fewer computed")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (default 2; use 1 when another job shares the 2 cores: two competing "
                             "threads made training 5-10x slower here)")
    args = parser.parse_args(argv)
    settings = S.QUICK if args.quick else S.FULL
    if args.budgets:
        settings = replace(settings, budgets_pct=tuple(float(p) for p in args.budgets.split(",") if p.strip()))
    import torch

    torch.set_num_threads(args.threads)
    out = args.out or (Path("/tmp/curation-report-quick/REPORT.md") if args.quick else S.REPORT)
    cache = S.cache_dir(settings)
    if args.fresh:
        shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    store = ResultStore(cache / "results.json")
    started = time.time()
    state = Run(settings, store, cache, out, started, args)
    for stage in [s for s in STAGES if s in args.stages.split(",")]:
        if args.max_minutes and (time.time() - started) / 60 > args.max_minutes:
            state.missing[stage] = f"skipped: past --max-minutes {args.max_minutes:g}"
            continue
        print(f"== {stage} ({(time.time() - started) / 60:.1f} min)", flush=True)
        try:
            getattr(state, f"stage_{stage}")()
        except KeyboardInterrupt:
            state.missing[stage] = "interrupted"
            state.write()
            raise
        except Exception as exc:  # keep going: the report says which stage failed and why
            traceback.print_exc()
            state.missing[stage] = f"failed: {type(exc).__name__}: {exc}"[:300]
        state.write()
    state.write()
    print(f"wrote {out} in {(time.time() - started) / 60:.1f} min", flush=True)


class Run:
    """The stages, each adding its results to `self.res` (and caching its units of work in the store)."""

    def __init__(self, settings: S.Settings, store: ResultStore, cache: Path, out: Path, started: float, args):
        from bench.report.timing import machine

        self.settings, self.store, self.cache, self.out, self.started = settings, store, cache, out, started
        self.command = ("python bench/run.py" + (" --quick" if args.quick else "")
                        + (f" --budgets {args.budgets}" if args.budgets else ""))
        self.max_minutes = args.max_minutes
        self.res: dict = {"pools": {}, "machine": machine()}
        self.missing: dict[str, str] = {}
        self.pools: dict = {}
        self.selections: dict = {}

    def _pool(self, name: str):
        from bench.report.data import load_pool

        if name not in self.pools:
            started, fresh = time.time(), not (self.cache / f"ws-{name}").exists()
            self.pools[name] = load_pool(name, self.settings, self.cache)
            if fresh:  # the first build: import + MiniLM embeddings of the pool
                self.store.put(f"pool/{name}", {"seconds": round(time.time() - started, 1)})
        return self.pools[name]

    def _select(self, name: str) -> None:
        from bench.report import diversity as D
        from bench.report.selections import select_all
        from bench.report.timing import method_rows

        pool = self._pool(name)
        results = select_all(pool, self.settings, self.store, self.cache)
        self.selections[name] = results
        budgets = self.settings.budgets(len(pool))
        self.res["pools"][name] = {
            "title": pool.title, "vendi": D.vendi_points(pool, results),
            "contents": D.contents(pool, results, max(budgets)),
            "coverage": D.coverage_by_budget(pool, results, budgets),
            "timing": method_rows(results, max(budgets)),
            "pool_seconds": (self.store.get(f"pool/{name}") or {}).get("seconds")}

    def stage_dolly(self) -> None:
        self._select("dolly")

    def stage_alpaca(self) -> None:
        self._select("alpaca")

    def stage_eval_dolly_top(self) -> None:
        self._evaluate("dolly", top=True)

    def stage_eval_alpaca_top(self) -> None:
        self._evaluate("alpaca", top=True)

    def stage_eval_dolly_rest(self) -> None:
        self._evaluate("dolly", top=False)

    def stage_eval_alpaca_rest(self) -> None:
        self._evaluate("alpaca", top=False)

    def stage_summary(self) -> None:
        """Every evaluation finished so far (by this or an earlier invocation), whatever stages ran now."""
        from bench.report.evaluations import summarise

        for name in self.settings.evaluated_pools:
            if name not in self.selections:
                self._select(name)
            pool = self._pool(name)
            _, ranges = self._eval_file()
            cells = [summarise(pool, self.settings, self.store, ranges, b) for b in self.settings.budgets(len(pool))]
            self.res.setdefault("train", {})[name] = cells
            for cell in cells:
                if cell["not_run"]:
                    self.missing[f"evaluations of the {name} pool at {cell['budget']} samples"] = (
                        "not run yet: " + ", ".join(cell["not_run"]))

    def _eval_file(self):
        from bench.report.data import eval_file, eval_info

        path, ranges = eval_file(self._pool("dolly"), self.settings, self.cache)
        self.res["eval_file"] = {**eval_info(self.cache), "ranges": ranges}
        return path, ranges

    def _evaluate(self, name: str, top: bool) -> None:
        from bench.report.evaluations import run_budget

        if name not in self.settings.evaluated_pools:
            return  # its selections are reported (sections 1, 2, 4), not fine-tuned
        if name not in self.selections:
            self._select(name)
        pool = self._pool(name)
        path, _ = self._eval_file()
        budgets = self.settings.budgets(len(pool))
        deadline = self.started + 60 * self.max_minutes if self.max_minutes else None
        for b in (budgets[:1] if top else budgets[1:]):
            left = run_budget(pool, self.selections[name], path, self.settings, self.store, b, deadline)
            if left:
                self.missing[f"{name} at {b} samples"] = f"{len(left)} evaluations not run (past --max-minutes)"

    def write(self) -> None:
        minutes = (time.time() - self.started) / 60
        history = {**self.store.get("invocations", {}), f"{self.started:.0f}": round(minutes, 2)}
        self.store.put("invocations", history)  # every invocation that built (or re-read) this cache
        self.res["wall_minutes"] = minutes
        self.res["invocations"] = sorted(history.values(), reverse=True)
        units = [v.get("wall", v.get("seconds", 0.0)) for k, v in self.store.data.items()
                 if k.startswith("sel/") and isinstance(v, dict)]
        units += [v for k, v in self.store.data.items() if k.startswith("eval/") and k.endswith("/seconds")]
        self.res["unit_minutes"] = sum(u for u in units if u) / 60  # the work itself, however many invocations
        self.res["missing"] = dict(self.missing)
        try:  # a drawing or layout slip must not stop hours of training: the cache keeps every result
            write_report(self.res, self.settings, self.out, self.command)
        except Exception:
            traceback.print_exc()
        (self.cache / "report_data.json").write_text(json.dumps(self.res, default=float)[:50_000_000])


if __name__ == "__main__":
    main()
