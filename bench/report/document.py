"""Assemble REPORT.md and draw its figures from the results of a run (whatever stages completed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.report import evaluation_section, plots, sections
from bench.report.data import EVAL_SETS
from bench.report.markdown import FIGURES, section
from curation.workspace.arrays import atomic_write_text

SCALE_DOWN = """- **Models.** The papers select with and train 7B-13B LLaMA-family models (IterIT: Llama-3-8B;
  DiverseEvol: LLaMA-7B; learning percentage: OPT-350M ... Llama-2-13B selectors for 13B targets). Here every
  model is SmolLM2-135M-Instruct, trained with LoRA (r16) instead of full fine-tuning, on 2 CPU cores. A 135M
  model's embedding space, IFD and perplexity trajectories are much noisier signals than a 7B model's, and a
  few LoRA epochs on tens of samples move the model little.
- **Data.** The papers select from the whole Dolly-15k / Alpaca-52k; here from {dolly_rows} Dolly rows and
  {alpaca_rows} Alpaca-subset rows (the first ones that fit {max_length} tokens whole), at budgets of
  {budgets_pct} percent, i.e. a handful of samples; the fine-tuning comparison (section 3) is run on the
  {evaluated_pools}. The issue asked for pools of 2,000 and 1,000 rows at budgets of 5% and 10%. Measured
  first on a 2-core AMD EPYC without native bf16: at 400 and 200 rows and both budgets the selection runs alone
  took 166 min (IterIT's three seeds 18 min each at 40 samples, learning percentage 26 min, since it trains on
  the whole pool), and each evaluated model 6-7 min, nearly all of it scoring the {eval_rows} held-out rows
  (their prompts carry Dolly's long contexts) at max length {max_length}. On this report's machine {model_cost}.
  With 29 models per pool and budget (the base model, 5 random, 5 token-matched random, 3 seeds of 6 methods)
  that is {budget_cost} per pool and budget here, over 3 h on the AMD machine. So the pools, the budgets and the
  evaluated pools were cut, and the statistics (seeds, random subsets, held-out sets, intervals) kept; the
  evaluations still to run are listed under *Stages not completed* and in section 3, in the order the script runs
  them (the three papers' methods first), and a later `python bench/run.py` resumes them from its cache. At so few
  samples a few LoRA steps move the model little, so expect differences near zero; the intervals say how near.
- **Schedules.** DiverseEvol {de_rounds} rounds x {de_epochs} epochs (the paper: 10 x 3), IterIT {iterit_epochs}
  epochs (3), learning percentage (Mekala et al. 2024) LP1_app from epoch 1 of the 3-epoch schedule (LP1 needs
  all 3 epochs); every evaluated model {eval_epochs} epochs.
- **Evaluation.** The papers judge generated answers with GPT-4 and run benchmarks (MMLU, GSM8K, ...). Here
  the measure is the response loss (NLL) on held-out human-written data: cheap, deterministic, but it rewards
  fitting the style of the data, not helpfulness. A method that picks long, hard samples can lower held-out
  loss less than random and still give better answers by a judge's standard.
- **Not run.** The hardness-transfer test (a 350M selector for a 13B target in the paper) needs a second
  real small model; none is installed here (a layer cut of SmolLM2-135M is a damaged model, median
  perplexity 508, not a smaller selector), so it was dropped. No GPU was available, so no method ran at paper
  scale on all of Dolly-15k."""


def write_report(res: dict, settings, out: Path, command: str) -> None:
    figs = out.parent / FIGURES
    figs.mkdir(parents=True, exist_ok=True)
    _draw(res, figs)
    s = dataclasses.asdict(settings)
    pools = res.get("pools", {})
    missing = res.get("missing", {})
    lines = [f"# Evidence report ({settings.name} run)\n",
             f"Produced by `{command}` (bench/run.py; modules in bench/report/) on the machine below. This "
             f"invocation took {res['wall_minutes']:.1f} min; the selection runs and fine-tuned models it reads from "
             f"its cache (made by this or earlier, interrupted invocations) took {res.get('unit_minutes', 0):.1f} "
             "min of compute in all. Every number here "
             "was computed by the script; the selections come from the "
             "library's own runner (`curation.methods.runner`), Vendi from `curation.geometry.vendi` over "
             "`curation.geometry.embed` all-MiniLM-L6-v2 embeddings, the fine-tuned models, their held-out losses "
             "and the intervals from `curation.evaluation` (the `evaluate` command).\n",
             f"Settings: {', '.join(f'{k}={v}' for k, v in s.items())}.\n"]
    if missing:
        lines.append("**Stages not completed:** " + "; ".join(f"{k}: {v}" for k, v in missing.items()) + "\n")
    found = sections.findings(res)
    lines.append(section("Findings", "\n".join(f"- {f}" for f in found) if found else None))
    lines.append(section("1. Diversity of the selections (DiverseEvol Figure 3)", _intro_vendi()))
    for name in ("dolly", "alpaca"):
        pool = pools.get(name, {})
        lines.append(section(pool.get("title", name), sections.diversity(name, pool) if pool else None, 3))
    lines.append(section("2. What the selections contain", None if not pools else
                         "Response lengths of each selection against the pool, random and the longest-response "
                         "baseline, and k-means cluster coverage."))
    for name in ("dolly", "alpaca"):
        pool = pools.get(name, {})
        lines.append(section(pool.get("title", name), sections.contents(name, pool) if pool else None, 3))
    lines.append(section("3. Does the selection train a better model than random?",
                         evaluation_section.evaluation(res.get("train"), s, res.get("eval_file"))))
    lines.append(section("4. Where the time goes", _intro_timing()))
    for name in ("dolly", "alpaca"):
        pool = pools.get(name, {})
        lines.append(section(pool.get("title", name), sections.timing(pool, name) if pool else None, 3))
    lines.append(section("Machine and earlier benchmarks", sections.machine_and_earlier(res["machine"]), 3))
    ranges = (res.get("eval_file") or {}).get("ranges", {})
    evaluated = " and ".join(settings.evaluated_pools).replace("dolly", "Dolly").replace("alpaca", "Alpaca")
    words = {**s, "budgets_pct": " and ".join(f"{p:g}" for p in settings.budgets_pct),
             "evaluated_pools": evaluated + (" pools" if len(settings.evaluated_pools) > 1 else " pool"),
             "eval_rows": sum(hi - lo for lo, hi in ranges.values()) or "the"}
    words["model_cost"], words["budget_cost"] = _model_cost(res.get("train") or {})
    lines.append(section("What the scale-down changes", SCALE_DOWN.format(**words)))
    atomic_write_text(out, "\n".join(lines))


def _model_cost(train: dict) -> tuple[str, str]:
    """The measured cost of an evaluated model (from the models this cache trained and scored itself), and what
    29 of them take."""
    trained = [t for cells in train.values() for c in cells for t in c.get("model_seconds", {}).get("trained", [])]
    scored = [t for cells in train.values() for c in cells for t in c.get("model_seconds", {}).get("scored_only", [])]
    if not trained:
        return "no model has been evaluated yet", "not measured yet"
    median = sorted(trained)[len(trained) // 2] / 60
    text = f"each fine-tuned and scored model took a median {median:.1f} min ({len(trained)} models)"
    if scored:
        text += f", scoring alone (base and in-run models) {sorted(scored)[len(scored) // 2] / 60:.1f} min"
    text += (", held-out losses in fp32 (`EvaluateConfig.score_precision`; bf16 autocast would be ~1.8x "
             "faster here but moves a row's loss by up to ~0.03), training under bf16 autocast where the CPU "
             "has native bf16")
    return text, f"about {29 * median / 60:.1f} h"


def _intro_vendi() -> str:
    return ("Vendi score (cosine kernel on all-MiniLM-L6-v2 embeddings of the whole conversation, the fixed "
            "reference embedder) of each selection against its size. DiverseEvol: one run at the largest "
            "budget, each round a point (round 0 is its seeded random draw). Random: mean ± sd over seeds; "
            "a method is marked *≈ random* when within 2 sd of random's seeds (or inside their range). "
            "One-shot K-Center works in the very space Vendi measures, so it is the ceiling rather than a "
            "fair competitor; DiverseEvol's K-Center runs in the fine-tuned LM's own embedding space.")


def _intro_timing() -> str:
    return ("Per selection run at the largest budget, from a timing wrapper around the run's engine (the "
            "runner's `engine_factory` hook): model loading and checkpoint saving, reference embeddings "
            "(MiniLM, cached in the workspace after the first run), the LM's own embeddings (DiverseEvol), "
            "scoring (IFD/perplexity passes; cached per set of weights, so IterIT's later budgets and the "
            "baselines reuse the base model's pass), training; *selection* is the rest of the run (K-Center, "
            "k-means, TF-IDF greedy, persisting). Learning percentage's smaller budgets reuse the recorded "
            "trajectories (its `trajectories_file` setting).")


def _draw(res: dict, figs: Path) -> None:
    for name, pool in res.get("pools", {}).items():
        if pool.get("vendi"):
            plots.vendi_plot(pool["vendi"], f"Vendi vs size: {pool['title']}", figs / f"{name}_vendi.png")
        if pool.get("contents"):
            plots.length_plot(pool["contents"], f"Response lengths at {pool['contents']['budget']} samples: "
                              f"{pool['title']}", figs / f"{name}_lengths.png")
        if pool.get("timing"):
            plots.timing_plot(pool["timing"], f"Seconds per selection run: {pool['title']}",
                              figs / f"{name}_timing.png")
    if res.get("train"):
        plots.evaluation_plot(res["train"], EVAL_SETS, figs / "evaluation.png")
