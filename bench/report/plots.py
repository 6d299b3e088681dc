"""PNG figures (matplotlib, Agg backend): Vendi against size, response lengths, fine-tuning losses, LP
agreement between selector sizes, and where the time goes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.report.stats import mean_std

LABELS = {"diverse_evol": "DiverseEvol", "kcenter": "K-Center (one-shot)", "random": "random",
          "iterit": "IterIT", "learning_pct": "learning pct (LP1_app)", "cluster_random": "cluster-random",
          "longest": "longest response", "pool": "pool"}
COLORS = {"diverse_evol": "C3", "kcenter": "C1", "random": "C7", "iterit": "C0", "learning_pct": "C2",
          "cluster_random": "C4", "longest": "C5", "pool": "k"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def vendi_plot(points: dict, title: str, path: Path) -> None:
    """Left: Vendi against size with the full pool's line. Right: the same minus random's mean at each size
    (random's ± 2 sd band around 0), where the methods' differences are visible."""
    plt = _plt()
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(12, 4.6))
    rand = {s: mean_std(v) for s, v in points["curves"].get("random", [])}
    for method, curve in points["curves"].items():
        sizes = [s for s, _ in curve]
        means = np.array([mean_std(v)[0] for _, v in curve])
        style = "-o" if method in ("diverse_evol", "kcenter", "random") else "--s"
        ax.plot(sizes, means, style, color=COLORS[method], label=LABELS[method], ms=4)
        if method == "random":
            sd = np.array([rand[s][1] for s in sizes])
            rel.fill_between(sizes, -2 * sd, 2 * sd, color=COLORS[method], alpha=0.25, lw=0,
                             label="random ± 2 sd (seeds)")
            continue
        keep = [i for i, s in enumerate(sizes) if s in rand]
        rel.plot([sizes[i] for i in keep], [means[i] - rand[sizes[i]][0] for i in keep], style,
                 color=COLORS[method], label=LABELS[method], ms=4)
    ax.axhline(points["full"], color="k", ls=":", label=f"full pool ({points['n']} samples)")
    rel.axhline(0, color=COLORS["random"], lw=1)
    ax.set(xlabel="selected samples", ylabel="Vendi score (all-MiniLM-L6-v2, cosine)", title=title)
    rel.set(xlabel="selected samples", ylabel="Vendi minus random's mean at that size",
            title="difference from random")
    ax.legend(fontsize=7, loc="best")
    rel.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def length_plot(contents: dict, title: str, path: Path) -> None:
    plt = _plt()
    names = ["pool"] + list(contents["methods"])
    data = [np.asarray(contents["pool_chars"])] + [np.concatenate([np.asarray(c) for c in m["chars"]])
                                                    for m in contents["methods"].values()]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    parts = ax.boxplot([np.maximum(d, 1) for d in data], showfliers=True, flierprops={"ms": 2, "alpha": 0.4},
                       patch_artist=True)
    for patch, name in zip(parts["boxes"], names):
        patch.set_facecolor(COLORS.get(name, "C7"))
        patch.set_alpha(0.5)
    ax.set_xticks(range(1, len(names) + 1), [LABELS.get(n, n) for n in names], rotation=25, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set(ylabel="response length (characters, log scale)", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def loss_plot(train: dict, eval_names: dict[str, str], path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, len(eval_names), figsize=(11, 4.2), squeeze=False)
    budgets = sorted(train["budgets"], key=int)
    for ax, (key, label) in zip(axes[0], eval_names.items()):
        methods = [m for m in LABELS if any(m in train["budgets"][b] for b in budgets)]
        width = 0.8 / max(1, len(methods))
        for j, method in enumerate(methods):
            xs, ms, sds = [], [], []
            for i, b in enumerate(budgets):
                runs = train["budgets"][b].get(method)
                if runs:
                    m, s = mean_std([r[key]["loss"] for r in runs])
                    xs.append(i + (j - (len(methods) - 1) / 2) * width)
                    ms.append(m)
                    sds.append(2 * s if method == "random" else 0)
            name = "random (mean ± 2 sd, seeds)" if method == "random" else LABELS[method]
            ax.errorbar(xs, ms, yerr=sds, fmt="o", color=COLORS[method], label=name, ms=5, capsize=3)
        if train.get("base"):
            ax.axhline(train["base"][key]["loss"], color="k", ls=":", label="base model (no training)")
        if "full" in train:
            ax.axhline(train["full"][key]["loss"], color="C8", ls="--",
                       label="full slice, same steps as the largest budget")
        ax.set_xticks(range(len(budgets)), [f"{b} samples" for b in budgets])
        ax.set(ylabel="mean response loss (NLL)", title=label)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def transfer_plot(transfer: dict, path: Path) -> None:
    from scipy.stats import rankdata

    plt = _plt()
    a = np.array([np.nan if v is None else v for v in transfer["lp_big"]], float)
    b = np.array([np.nan if v is None else v for v in transfer["lp_small"]], float)
    ok = np.isfinite(a) & np.isfinite(b)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(rankdata(a[ok]) / ok.sum(), rankdata(b[ok]) / ok.sum(), s=4, alpha=0.5)
    ax.set(xlabel="LP1_app rank, SmolLM2-135M (30 layers)",
           ylabel=f"LP1_app rank, {transfer['model']['layers']}-layer cut",
           title=f"Spearman {transfer['spearman_lp']:.2f} over {int(ok.sum())} samples")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def timing_plot(rows: list[dict], title: str, path: Path) -> None:
    plt = _plt()
    cats = ("load", "train", "score", "embed_model", "embed_reference", "selection")
    fig, ax = plt.subplots(figsize=(8, 4))
    left = np.zeros(len(rows))
    for i, c in enumerate(cats):
        vals = np.array([r[c] for r in rows])
        ax.barh(range(len(rows)), vals, left=left, label=c, color=f"C{i}")
        left += vals
    ax.set_yticks(range(len(rows)), [LABELS.get(r["method"], r["method"]) for r in rows], fontsize=8)
    ax.set(xlabel="seconds", title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
