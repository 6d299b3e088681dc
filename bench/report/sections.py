"""The report's sections, written from the results the run produced (nothing here is typed in by hand except
the reading notes and the earlier issues' figures)."""

from __future__ import annotations

import numpy as np

from bench.report.markdown import NOT_RUN, image, seeds_cell, table, versus_random
from bench.report.plots import LABELS
from bench.report.stats import mean_std
from bench.report.timing import EARLIER


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
    from bench.report.evaluation_section import findings as evaluation_findings

    out += evaluation_findings(res.get("train"))
    return out
