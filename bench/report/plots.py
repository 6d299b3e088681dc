"""PNG figures (matplotlib, Agg backend): Vendi against size, response lengths, held-out loss differences against
random, and where the time goes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.report.stats import mean_std

LABELS = {"diverse_evol": "DiverseEvol", "kcenter": "K-Center (one-shot)", "random": "random",
          "iterit": "IterIT", "learning_pct": "learning percentage (Mekala et al. 2024)",
          "cluster_random": "cluster-random",
          "longest": "longest response", "static_ifd": "static IFD", "pool": "pool"}
COLORS = {"diverse_evol": "C3", "kcenter": "C1", "random": "C7", "iterit": "C0", "learning_pct": "C2",
          "cluster_random": "C4", "longest": "C5", "static_ifd": "C6", "pool": "k"}


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


def evaluation_plot(train: dict, eval_names: dict[str, str], path: Path) -> None:
    """One panel per pool and budget: each method's difference against random with its 95% interval, per
    evaluation set (left of zero: lower held-out loss than random)."""
    cells = [(pool, cell) for pool, per in train.items() for cell in per if cell.get("methods")]
    if not cells:
        return
    plt = _plt()
    # each panel its own rows: pools can differ in what has been evaluated (a shared axis showed the last
    # panel's labels on every panel, and inverting it once per panel undid the inversion)
    fig, axes = plt.subplots(1, len(cells), figsize=(5.6 * len(cells), 4.4), squeeze=False)
    for ax, (pool, cell) in zip(axes[0], cells):
        labels = []
        for method, row in cell["methods"].items():
            kinds = (("vs_random", LABELS[method]), ("vs_token_matched", f"{LABELS[method]}\nvs token-matched"))
            for kind, name in kinds:
                if row.get(kind):
                    labels.append((name, row[kind]))
        for j, (key, label) in enumerate(eval_names.items()):
            for i, (_, diffs) in enumerate(labels):
                d = diffs.get(key)
                if d:
                    y = i + (j - 0.5) * 0.3
                    ax.errorbar([d["mean"]], [y], xerr=[[d["mean"] - d["low"]], [d["high"] - d["mean"]]], fmt="o",
                                color=f"C{j}", capsize=3, ms=5, label=label if i == 0 else None)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(labels)), [name for name, _ in labels], fontsize=8)
        ax.set(xlabel="Δ held-out loss vs random (95% interval)",
               title=f"{pool.capitalize()}, {cell['budget']} samples")
        ax.invert_yaxis()
    handles, names = axes[0][0].get_legend_handles_labels()  # below the axes: never over an interval
    fig.legend(handles, names, fontsize=7, loc="lower center", ncol=len(names), frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
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
