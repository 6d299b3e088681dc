"""Rebuild the default embedder's vectors shipped beside a bundled pool (curation/formats/bundled/).

    python scripts/build_bundled_vectors.py dolly-15k

Imports the bundled pool into a scratch workspace, so the texts are exactly those the pool's samples embed,
encodes them in fp32 with the default embedder, and writes `<pool>.minilm.npz`: text keys, float16 unit
vectors and the cache spec they belong to. Rerun it whenever the default embedder's package, its max length
or the sample text template changes (tests/formats/test_bundled_vectors.py fails until then).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.formats import bundled_pools  # noqa: E402
from curation.formats.importer import import_source  # noqa: E402
from curation.geometry.embed import EmbedConfig, Encoder, sample_text  # noqa: E402
from curation.workspace import Workspace, samples  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pool", choices=sorted(bundled_pools.POOLS))
    args = parser.parse_args()
    pool = bundled_pools.POOLS[args.pool]
    if pool.vectors is None:
        raise SystemExit(f"{pool.name} names no vectors file in curation/formats/bundled_pools.py")
    with tempfile.TemporaryDirectory() as scratch:
        ws = Workspace(Path(scratch) / "ws")
        import_source(ws, pool.name)
        texts = [sample_text(record, "text") for _, record in samples.iter_records(ws)]
    encoder = Encoder(EmbedConfig(precision="fp32"))
    started = time.perf_counter()

    def progress(done: int, total: int, _: str) -> None:
        print(f"\rembedded {done:,} / {total:,} ({time.perf_counter() - started:.0f} s)", end="", flush=True)

    vectors = encoder.encode(texts, progress=progress)
    print()
    out = bundled_pools.save_vectors(pool, texts, vectors, encoder.spec)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(texts):,} vectors, {encoder.spec})")


if __name__ == "__main__":
    main()
