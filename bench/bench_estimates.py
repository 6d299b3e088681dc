"""Run-time estimates against measured wall time: DiverseEvol, IterIT and learning percentage on a Dolly slice.

    flock /tmp/cpu.lock .venv/bin/python bench/bench_estimates.py [--rows 200] [--budget 40] [--max-length 128]

Each method runs as a user runs it, `python -m curation select ...` in a subprocess on a fresh copy of the
imported slice (not embedded yet), with the real default model (SmolLM2-135M, LoRA) on this machine's CPU. The
estimate is `select --estimate` (also a subprocess); the first one calibrates this machine (its wall time is
reported), unless a calibration is cached already (`--recalibrate` removes it first). The table is printed and
written into bench/README.md, block `estimates:table`. About 10-15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DOLLY = REPO.parent / "shared" / "data" / "dolly-15k" / "dolly-15k.jsonl"
WORK = Path(os.environ.get("BENCH_CACHE", "/tmp/bench_cache")) / "estimates"
SECTION = "## Run-time estimates (issue 14)"


def settings(max_length: int) -> dict[str, dict[str, object]]:
    return {"diverse_evol": {"rounds": 2, "epochs": 2, "max_length": max_length},
            "iterit": {"epochs": 2, "max_length": max_length},
            "learning_pct": {"epochs": 2, "max_length": max_length}}


def cli(*args: str) -> tuple[float, str]:
    """Wall seconds and output of `python -m curation ARGS` in a fresh process, as a user runs it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CURATION_CALIBRATION": "on"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "curation", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"curation {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def base_workspace(rows: int) -> Path:
    root = WORK / f"base-{rows}"
    if not (root / "ws").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        src = root / "slice.jsonl"
        with open(DOLLY, encoding="utf-8") as fin, open(src, "w", encoding="utf-8") as fout:
            for i, line in enumerate(fin):
                if i >= rows:
                    break
                fout.write(line)
        cli("-w", str(root / "ws"), "import", str(src))
    return root / "ws"


def estimate_seconds(ws: Path, method: str, config: dict, budget: int) -> float:
    """The exact figure `select --estimate` rounds for printing (the same call, from the cached calibration)."""
    from curation.methods import registry
    from curation.methods.budgets import parse_budget
    from curation.methods.estimate import estimate_for_workspace
    from curation.workspace import Workspace

    workspace = Workspace(ws, create=False)
    try:
        guess, _ = estimate_for_workspace(workspace, method, registry.make_config(method, config),
                                          parse_budget(str(budget)))
    finally:
        workspace.close()
    if not guess.calibrated:
        raise SystemExit("no calibration was cached by `select --estimate`")
    return guess.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--methods", default="diverse_evol,iterit,learning_pct")
    parser.add_argument("--recalibrate", action="store_true", help="remove the cached calibration first")
    args = parser.parse_args()
    os.environ["CURATION_CALIBRATION"] = "on"
    from curation.model.calibration import cache_root

    if args.recalibrate:
        shutil.rmtree(cache_root() / "calibration", ignore_errors=True)
    base = base_workspace(args.rows)
    cfgs = settings(args.max_length)
    store = WORK / "results.json"  # every configuration measured so far: the table shows them all
    saved = json.loads(store.read_text()) if store.exists() and not args.recalibrate else {"rows": []}
    calibration_s = None
    for method in args.methods.split(","):
        ws = WORK / f"run-{method}"
        shutil.rmtree(ws, ignore_errors=True)
        shutil.copytree(base, ws)
        sets = [a for k, v in cfgs[method].items() for a in ("--set", f"{k}={v}")]
        common = ["-w", str(ws), "select", "--method", method, "--budget", str(args.budget), *sets]
        seconds, out = cli(*common, "--estimate")
        if "not calibrated" in out:
            raise SystemExit(f"select --estimate did not calibrate:\n{out}")
        if calibration_s is None and args.recalibrate:
            calibration_s = seconds
        estimate = estimate_seconds(ws, method, cfgs[method], args.budget)
        print(out.strip(), flush=True)
        measured, out = cli(*common)
        print(out.strip().splitlines()[-2], flush=True)
        label = f"{args.rows} rows, budget {args.budget}, " + ", ".join(f"{k} {v}" for k, v in cfgs[method].items())
        saved["rows"] = [r for r in saved["rows"] if r[:2] != [method, label]] + [[method, label, estimate, measured]]
        if calibration_s is not None and "calibration_s" not in saved:
            saved["calibration_s"] = calibration_s
        store.write_text(json.dumps(saved, indent=1))
        print(f"{method}: estimate {estimate:.0f} s, measured {measured:.0f} s, ratio {measured / estimate:.2f}",
              flush=True)
    text = table([tuple(r) for r in saved["rows"]], saved.get("calibration_s", 0.0))
    print(text)
    from bench.readme_blocks import write_block

    write_block(SECTION, "estimates", "table", text)


def table(rows: list[tuple], calibration_s: float) -> str:
    from curation.model.calibration import cached_rates, key_for

    rates = cached_rates(key_for(None))
    lines = ["Produced by `flock /tmp/cpu.lock .venv/bin/python bench/bench_estimates.py --recalibrate` (then "
             "`--max-length 256` without `--recalibrate`; bench/bench_estimates.py): the first Dolly rows, "
             "SmolLM2-135M with LoRA, each run `python -m curation select` in a fresh process on a fresh copy of "
             "the slice (not embedded yet); the estimate is `select --estimate` from this machine's calibration.", "",
             "| method | settings | estimate s | measured s | measured / estimate |", "|---|---|---:|---:|---:|"]
    for method, config, estimate, measured in rows:
        lines.append(f"| {method} | {config} | {estimate:.0f} | {measured:.0f} | {measured / estimate:.2f} |")
    if rates is not None:
        lines += ["", f"Calibration (the first `select --estimate`, {calibration_s:.0f} s wall): scoring "
                  f"{rates.score_tokens_per_s:.0f} tokens/s, LoRA training {rates.train_tokens_per_s:.0f} tokens/s "
                  f"(+{rates.train_setup_s:.1f} s per training call), sentence embedder "
                  f"{rates.embed_texts_per_s:.0f} texts/s (+{rates.embedder_load_s:.1f} s load), process start "
                  f"{rates.start_s:.1f} s, model load {rates.load_s:.1f} s, {rates.chars_per_token:.2f} characters "
                  f"per token, {rates.template_tokens:.0f} template tokens; {rates.device}, {rates.precision}."]
    lines += ["", "- Single runs on 2 cores shared with other jobs; the fallback constants (before calibration) "
              "were measured on one CPU and can be several times off elsewhere."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
