"""Section 4: does hardness transfer across model sizes? Learning percentage (LP1_app) from SmolLM2-135M and
from a genuinely smaller selector made from it (its middle decoder layers dropped, keeping the first and the
last ones; same embeddings, tokenizer and chat template; no other small causal LM ships offline as a
package), both through the
library's learning_pct method; Spearman of the per-sample LP and overlap of the hardest 10%."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from bench.report.data import Pool
from bench.report.selections import lp_trajectory, method_configs, run_method
from bench.report.settings import Settings
from bench.report.stats import spearman, top_overlap
from bench.report.store import ResultStore


def truncated_model(cache: Path, first: int, last: int) -> tuple[Path, dict]:
    """SmolLM2-135M-Instruct keeping its first `first` and last `last` decoder layers (the middle ones dropped:
    the last layers map into the output layer's space, so dropping the middle costs far less perplexity than
    cutting the top), saved with save_pretrained (once)."""
    import torch

    from curation.model import load_model

    folder = cache / "models" / f"smollm2-135m-first{first}-last{last}"
    lm = None
    if not (folder / "config.json").exists():
        lm = load_model()
        inner = lm.model.model
        full_layers = len(inner.layers)
        keep = list(range(first)) + list(range(full_layers - last, full_layers))
        inner.layers = torch.nn.ModuleList([inner.layers[i] for i in keep])
        for j, layer in enumerate(inner.layers):  # cache slots follow the new positions
            if hasattr(layer.self_attn, "layer_idx"):
                layer.self_attn.layer_idx = j
        cfg = lm.model.config
        cfg.num_hidden_layers = len(keep)
        if getattr(cfg, "layer_types", None):
            cfg.layer_types = [cfg.layer_types[i] for i in keep]
        tmp = folder.parent / f".{folder.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        lm.model.save_pretrained(tmp, safe_serialization=True)
        lm.tokenizer.save_pretrained(tmp)
        (tmp / "full_layers.txt").write_text(str(full_layers))
        os.replace(tmp, folder)
    full = int((folder / "full_layers.txt").read_text())
    if lm is None:
        lm = load_model(str(folder))
    return folder, {"layers": first + last, "first": first, "last": last, "full_layers": full,
                    "parameters": int(lm.n_parameters)}


def compare(pool: Pool, settings: Settings, store: ResultStore, cache: Path, main_lp: dict) -> dict:
    """LP from the full and the truncated selector on the same pool, and how their rankings agree."""
    from curation.methods.kernels.lp_scores import lp1_app
    from curation.model import load_model

    folder, info = truncated_model(cache, *settings.transfer_layers)
    info["parameters_full"] = int(load_model().n_parameters)
    budget = main_lp["budget"]
    small = run_method(pool, store, "learning_pct", budget, config=method_configs(settings)["learning_pct"],
                       models={"selector": str(folder)}, tag="learning_pct_small")
    big_traj, small_traj = lp_trajectory(pool, main_lp), lp_trajectory(pool, small)
    lp_big, lp_small = lp1_app(big_traj), lp1_app(small_traj)
    lp_big[~np.isfinite(big_traj).all(axis=1)] = np.nan
    lp_small[~np.isfinite(small_traj).all(axis=1)] = np.nan
    overlap, chance, k = top_overlap(lp_big, lp_small, 0.10)
    sel_big = set(main_lp["iterations"][-1]["rows"])
    sel_small = set(small["iterations"][-1]["rows"])
    return {"model": info, "n": int((np.isfinite(lp_big) & np.isfinite(lp_small)).sum()),
            "spearman_lp": spearman(lp_big, lp_small),
            "spearman_p0": spearman(big_traj[:, 0], small_traj[:, 0]),
            "spearman_p1": spearman(big_traj[:, 1], small_traj[:, 1]),
            "top10_overlap": overlap, "top10_chance": chance, "top10_size": k,
            "selection_overlap": len(sel_big & sel_small) / max(1, len(sel_big)), "budget": budget,
            "pool_n": len(pool),
            "median_ppl_big": [float(np.nanmedian(big_traj[:, e])) for e in range(big_traj.shape[1])],
            "median_ppl_small": [float(np.nanmedian(small_traj[:, e])) for e in range(small_traj.shape[1])],
            "lp_big": np.where(np.isfinite(lp_big), lp_big, None).tolist(),
            "lp_small": np.where(np.isfinite(lp_small), lp_small, None).tolist(),
            "seconds_small": small["wall"], "seconds_big": main_lp["wall"]}
