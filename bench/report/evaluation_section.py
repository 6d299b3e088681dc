"""Section 3's text, tables and findings: each method's held-out loss difference against random with its 95%
interval, per pool, budget and evaluation set (computed in bench/report/evaluations.py)."""

from __future__ import annotations

import numpy as np

from bench.report.data import EVAL_SETS
from bench.report.markdown import NOT_RUN, image, table
from bench.report.plots import LABELS


def interval_cell(d: dict | None) -> str:
    """`+0.012 [-0.004, +0.030]`, bold with a verdict when the interval excludes zero."""
    if not d:
        return NOT_RUN
    text = f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"
    if d["high"] < 0:
        return f"**{text}** lower"
    if d["low"] > 0:
        return f"**{text}** higher"
    return text


def verdict(d: dict | None) -> str:
    if not d:
        return "not run"
    return "lower" if d["high"] < 0 else "higher" if d["low"] > 0 else "no difference"


def _mean(models: list[dict], key: str) -> str:
    vals = [m[key] for m in models]
    return f"{np.mean(vals):.0f}" if vals else ""


def budget_table(cell: dict) -> str:
    sets = list(EVAL_SETS)
    rows = []
    for role, label in (("base", "base model (not fine-tuned)"), ("random", "random (mean of its models)")):
        losses = [f"{np.mean(cell[role][s]['losses']):.4f}" if cell.get(role, {}).get(s, {}).get("losses") else ""
                  for s in sets]
        models = cell.get("random_models", []) if role == "random" else []
        rows.append([label, len(cell.get(role, {}).get(sets[0], {}).get("losses", [])), _mean(models, "n_train"),
                     _mean(models, "n_tokens"), *[x for s, loss in zip(sets, losses) for x in (loss, "")]])
    for method, row in cell.get("methods", {}).items():
        cells = []
        for s in sets:
            d = row["vs_random"].get(s)
            cells += [f"{d['method_loss']:.4f}" if d else "", interval_cell(d)]
        in_run = method == "iterit"  # its own models: trained in the run, on each epoch's picks
        rows.append([LABELS[method] + (" (in-run models)" if in_run else ""), len(row["models"]),
                     "in the run" if in_run else _mean(row["models"], "n_train"),
                     "" if in_run else _mean(row["models"], "n_tokens"), *cells])
        if row.get("vs_token_matched"):
            tm = row.get("token_matched_models", [])
            cells = []
            for s in sets:
                d = row["vs_token_matched"].get(s)
                cells += [f"{d['random_loss']:.4f}" if d else "", interval_cell(d)]
            rows.append([f"token-matched random (Δ: {LABELS[method]} minus it)", len(tm), _mean(tm, "n_train"),
                         _mean(tm, "n_tokens"), *cells])
    for method in cell.get("not_run", []):
        rows.append([LABELS[method], 0, NOT_RUN, "", *["" for _ in sets for _ in (0, 1)]])
    headers = ["model", "models", "trained samples", "trained tokens"]
    for s in sets:
        headers += [f"{EVAL_SETS[s]} loss", f"{EVAL_SETS[s]}: Δ vs random [95%]"]
    return table(headers, rows)


def evaluation(train: dict | None, settings: dict, eval_file: dict | None) -> str:
    if not train:
        return NOT_RUN
    ranges = (eval_file or {}).get("ranges", {})
    sizes = {s: (hi - lo) for s, (lo, hi) in ranges.items()}
    parts = [
        "Every comparison is the product's own `curation.evaluation` (the `evaluate` command), run on each method's "
        "selection. The target, SmolLM2-135M-Instruct, is fine-tuned from its base weights (LoRA r16, "
        f"{settings['eval_epochs']} epochs, effective batch {settings['train_batch']}, max length "
        f"{settings['max_length']}) on the selection with seeds 0..{settings['train_seeds'] - 1}, and on "
        f"{settings['random_subsets']} random subsets of the same size, drawn from the same pool, each trained once "
        f"with seed r mod {settings['train_seeds']}. Every pool row fits the max length whole, so every subset is "
        "trained in full and budgets are equal. IterIT's result is its own in-run model, one per run seed "
        f"({', '.join(map(str, settings['iterit_seeds']))}), trained by IterIT itself: each epoch on that epoch's "
        "picks, so it sees up to epochs x budget distinct samples; the other methods' selections are fine-tuned "
        "fresh. Token-matched random subsets hold the selection's trained tokens instead of its sample count, which "
        "separates choosing better samples from choosing longer ones. "
        "*Δ* is the mean over paired models (method minus the random model of the same seed) and over held-out "
        "rows of the per-row mean response loss (NLL): negative means the method's models fit the held-out set "
        "better. The 95% interval is a percentile bootstrap over held-out rows and model pairs jointly (2,000 "
        "resamples); a bold interval excludes zero. Held-out rows that near-duplicate a row any compared model "
        "trained on (cosine >= 0.9 on MiniLM, or an exact match) are left out (decontamination).",
        f"Evaluation sets: {sizes.get('heldout', '?')} held-out Dolly rows (those after the Dolly pool's rows in the "
        f"file that fit {settings['max_length']} tokens whole and are not in the pool) and all "
        f"{sizes.get('self_instruct', '?')} self-instruct seed tasks.",
        image("evaluation.png", "held-out loss difference against random")]
    for pool, cells in train.items():
        for cell in cells:
            if not cell.get("methods") and not cell.get("random"):
                parts.append(f"\n**{pool}, {cell['budget']} samples**: {NOT_RUN}")
                continue
            valid = cell.get("valid", {})
            info = cell.get("heldout_info", {})
            parts.append(f"\n**{pool.capitalize()} pool, {cell['budget']} samples** (rows compared: "
                         + ", ".join(f"{EVAL_SETS[s]} {valid.get(s, '?')}" for s in EVAL_SETS)
                         + f"; unscorable {info.get('unscorable', 0)}, contaminated {info.get('contaminated', 0)} "
                         "in the first evaluation)\n\n" + budget_table(cell))
    return "\n".join(parts)


def findings(train: dict | None) -> list[str]:
    """One line per pool and budget: which methods' intervals fall below zero, above it, or include it."""
    out = []
    for pool, cells in (train or {}).items():
        for cell in cells:
            methods = cell.get("methods", {})
            if not methods:
                continue
            for s, label in EVAL_SETS.items():
                groups: dict[str, list[str]] = {"lower": [], "higher": [], "no difference": []}
                for method, row in methods.items():
                    v = verdict(row["vs_random"].get(s))
                    if v in groups:
                        groups[v].append(f"{LABELS[method]} ({row['vs_random'][s]['mean']:+.3f})")
                out.append(f"{pool.capitalize()} pool at {cell['budget']} samples, {label} loss against random: "
                           f"lower (better) for {', '.join(groups['lower']) or 'none'}; higher (worse) for "
                           f"{', '.join(groups['higher']) or 'none'}; no difference at 95% for "
                           f"{', '.join(groups['no difference']) or 'none'}.")
    return out
