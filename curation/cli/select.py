"""Selection commands: select (run a method as a resumable run), runs (list runs and iterations), methods."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from curation.backends import add_ray_arguments, from_args
from curation.cli import ProgressPrinter, add_command
from curation.errors import CurationError
from curation.workspace import Workspace, runs, samples


def register(sub: Any) -> None:
    p = add_command(sub, "select", cmd_select,
                    "Select samples with a method (DiverseEvol, IterIT, learning percentage, baselines) as a "
                    "resumable run; every iteration is saved as it completes.")
    p.add_argument("--method", help="method name (see `methods`)")
    p.add_argument("--budget", help="samples (1000), percent of the pool (5%%) or tokens (200k tokens)")
    p.add_argument("--model", default="", help="target model: a local folder or hub name (default SmolLM2-135M)")
    p.add_argument("--selector-model", default="", help="learning percentage's small selector model")
    p.add_argument("--scorer-model", default="", help="small model scoring the static baselines (IFD, perplexity)")
    p.add_argument("--embedder", default="", help="reference sentence embedder (default all-MiniLM-L6-v2)")
    p.add_argument("--device", default="", help="cpu, cuda, cuda:1 ... (default: a GPU when present)")
    p.add_argument("--dtype", default="", choices=("", "auto", "fp32", "bf16"),
                   help="model weight dtype (default auto: fp32 masters, bf16 autocast where native)")
    p.add_argument("--engine", choices=("model", "fake"), default="model",
                   help="fake = a deterministic stand-in for models, to try the pipeline in seconds")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a method setting, e.g. --set rounds=5 (repeatable; see `methods --method NAME`)")
    p.add_argument("--config", help="a JSON file of method settings (--set wins over it)")
    p.add_argument("--name", default="", help="a name for the run")
    p.add_argument("--resume", type=int, metavar="RUN", help="continue run RUN after its last saved iteration")
    p.add_argument("--background", action="store_true", help="queue the run as a job for the worker and return")
    p.add_argument("--estimate", action="store_true", help="only print how long the run would take")
    add_ray_arguments(p)

    p = add_command(sub, "runs", cmd_runs, "List selection runs, or one run's iterations with their metrics.")
    p.add_argument("--run", type=int, help="show this run's iterations")
    p.add_argument("--json", action="store_true", help="print as JSON")

    p = add_command(sub, "methods", cmd_methods, "List selection methods, or one method's settings and defaults.")
    p.add_argument("--method", help="show this method's settings")


def _settings(args: argparse.Namespace) -> dict:
    values: dict = {}
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as fh:
                values = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise CurationError(f"{args.config}: cannot read settings: {exc}") from None
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise CurationError(f"--set {item!r}: write KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def cmd_select(args: argparse.Namespace) -> int:
    from curation.methods import registry, runner

    ws = Workspace(args.workspace, create=False)
    if args.resume is not None:
        run_id = args.resume
        if runs.get(ws, run_id).status == "done":
            print(f"run {run_id} is already done")
            return 0
    else:
        if not args.method or not args.budget:
            raise CurationError("select needs --method and --budget (or --resume RUN)")
        args.method = registry.canonical(args.method)  # "DiverseEvol", "learning-percentage", "lp"
        if args.engine == "model" or args.estimate:
            _print_estimate(ws, args.method, _settings(args), args.budget, engine=args.engine, models=_models(args),
                            calibrate=args.estimate)
            if args.estimate:
                return 0
    if args.background:
        return _queue(ws, args)
    if args.resume is None:
        run_id = runner.start_run(ws, args.method, budget=args.budget, config=_settings(args), seed=args.seed,
                                  models=_models(args), name=args.name)
        print(f"run {run_id}: {runs.get(ws, run_id).name}")
    started = time.time()
    run = runner.run_selection(ws, run_id, progress=ProgressPrinter(f"run {run_id}"), engine_factory=_engine(args))
    last = runs.iteration(ws, run_id)
    print(f"run {run_id} done in {time.time() - started:.0f} s: {len(last.selected)} samples selected "
          f"(iteration {last.iteration}; {_metrics_line(last.metrics)})")
    print(f"export it with: python -m curation export OUT.jsonl --run {run.run_id}")
    return 0


def _models(args: argparse.Namespace) -> dict[str, str]:
    models = {"engine": args.engine, "target": args.model, "selector": args.selector_model,
              "scorer": args.scorer_model, "embedder": args.embedder, "device": args.device,
              "dtype": args.dtype}
    return {k: v for k, v in models.items() if v} | _backend(args)


def _backend(args: argparse.Namespace) -> dict[str, str]:
    """The backend keys of a run's models when --ray is given (else the run keeps what it stored)."""
    return from_args(args).to_models() if args.ray is not None else {}


def _engine(args: argparse.Namespace) -> Any:
    """`--resume RUN --ray ...`: this execution's backend over the run's stored one (a run can mix them)."""
    if args.resume is None or args.ray is None:
        return None
    from curation.methods.engines.base import make_engine

    return lambda ws, records, models: make_engine(ws, records, {**models, **_backend(args)})


def _queue(ws: Workspace, args: argparse.Namespace) -> int:
    """--background: the run and its random baseline as jobs, exactly as the Select page queues them."""
    from curation.services import jobs, run_queue

    if args.resume is not None:
        queued = run_queue.queue_resume(ws, args.resume, backend=_backend(args) or None)
    else:
        queued = run_queue.queue_run(ws, args.method, budget=args.budget, config=_settings(args), seed=args.seed,
                                     models=_models(args), name=args.name)
        print(f"run {queued.run_id}: {runs.get(ws, queued.run_id).name}")
    jobs.ensure_worker(ws)
    print(f"queued as job {queued.select_job} (its random baseline: job {queued.timeline_job}); follow it with "
          f"`jobs`, stop it with `cancel {queued.select_job}`")
    return 0


def _print_estimate(ws: Workspace, method: str, settings: dict, budget: str, engine: str = "model",
                    models: dict[str, str] | None = None, calibrate: bool = False) -> None:
    """The run's estimate; `calibrate` (select --estimate) first measures this machine's rates if none are cached."""
    from curation.methods import registry
    from curation.methods.budgets import parse_budget
    from curation.methods.estimate import NOT_CALIBRATED, estimate_for_workspace

    guess, n_select = estimate_for_workspace(ws, method, registry.make_config(method, settings), parse_budget(budget),
                                             engine=engine, models=models, calibrate=calibrate,
                                             progress=ProgressPrinter("calibrating") if calibrate else None)
    parts = "; ".join(f"{what}: {round(s)} s" for what, s in guess.parts if s >= 0.5)
    print(f"estimated time on this machine: {guess.describe()}" + ("" if guess.calibrated else f" ({NOT_CALIBRATED})")
          + f" for about {n_select:,} of {samples.count(ws):,} samples" + (f" ({parts})" if parts else ""))


def _metrics_line(metrics: dict) -> str:
    keys = ("vendi", "vendi_rbf", "mean_response_chars", "tokens", "train_loss", "trained_samples", "trained_tokens",
            "n_train_skipped", "selector_train_loss", "selector_trained_samples", "selector_trained_tokens",
            "selector_n_train_skipped")
    return ", ".join(f"{k} {metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k} {metrics[k]}"
                     for k in keys if k in metrics and metrics[k] is not None)


def cmd_runs(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace, create=False)
    if args.run is not None:
        run = runs.get(ws, args.run)
        its = runs.iterations(ws, args.run)
        if args.json:
            print(json.dumps({"run": run.__dict__, "iterations": [
                {"iteration": it.iteration, "n_selected": len(it.selected), "metrics": it.metrics,
                 "checkpoint": it.checkpoint} for it in its]}, indent=2, default=str))
            return 0
        from curation.methods.budgets import Budget

        print(f"run {run.run_id} {run.name!r}: {run.method}, budget {Budget.from_json(run.budget)}, "
              f"seed {run.seed}, {run.status}"
              + (f" ({run.error})" if run.error else ""))
        print(f"config: {json.dumps(run.config)}")
        for it in its:
            print(f"  iteration {it.iteration:>3}: {len(it.selected):>6} selected  {_metrics_line(it.metrics)}")
        _resume_hint([run])
        return 0
    all_runs = runs.list_runs(ws)
    if args.json:
        print(json.dumps([{**r.__dict__, "iterations": len(runs.iterations(ws, r.run_id))} for r in all_runs],
                         indent=2, default=str))
        return 0
    if not all_runs:
        print("no runs yet: start one with `select --method NAME --budget N`")
    for r in all_runs:
        its = runs.iterations(ws, r.run_id)
        size = len(its[-1].selected) if its else 0
        print(f"{r.run_id:>5}  {r.method:<14} {r.status:<10} {len(its):>3} iterations  {size:>6} selected  {r.name}")
    _resume_hint(all_runs)
    return 0


def _resume_hint(listed: list[runs.Run]) -> None:
    """The command that continues each run whose process died (status derived from its lease)."""
    for r in listed:
        if r.status == "interrupted":
            print(f"run {r.run_id} was interrupted (its process stopped); resume it with: "
                  f"python -m curation select --resume {r.run_id}")


def cmd_methods(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from curation.methods import registry
    from curation.methods.base import help_of

    if args.method:
        selector = registry.get(args.method)
        print(f"{selector.name}: {selector.title}")
        helps = help_of(selector.config_cls)
        for f in fields(selector.config_cls):
            print(f"  {f.name} = {f.default!r}  ({f.type})\n      {helps[f.name]}")
        return 0
    for name, selector in registry.registry().items():
        print(f"{name:<15} {'model ' if selector.uses_model else '      '} {selector.title}")
    return 0
