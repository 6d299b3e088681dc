"""Calibration: rates measured on this machine, cached per machine and model, and the estimates priced with them."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace

import numpy as np
import pytest

from curation.methods import registry
from curation.methods.estimate import estimate_run
from curation.model import calibration
from curation.model.calibration import Rates, cache_file, cached_rates, key_for, rates_for, save_rates

RATES = Rates(score_tokens_per_s=1000.0, train_tokens_per_s=100.0, embed_texts_per_s=50.0, start_s=3.0,
              first_load_s=3.0, load_s=2.0,
              warmup_s=1.0, train_setup_s=4.0, embedder_load_s=1.5, chars_per_token=4.0, template_tokens=10.0,
              n_parameters=1e6, device="cpu", precision="fp32", seconds=1.0, measured_at=0.0)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CURATION_CALIBRATION", "on")
    return tmp_path / "cache"


def test_the_key_changes_with_machine_model_and_precision(cache, monkeypatch):
    base = key_for(None)
    assert base.model.startswith("SmolLM2-135M-Instruct@") and base.cores >= 1
    variants = [key_for("HuggingFaceTB/SmolLM2-360M-Instruct"), key_for(None, dtype="bf16"),
                key_for(None, dtype="fp32"), key_for(None, device="cuda"), key_for(None, lora=False)]
    monkeypatch.setattr(calibration, "_cpu_name", lambda: "Another CPU @ 2.0GHz")
    variants.append(key_for(None))
    monkeypatch.setattr(calibration, "_cores", lambda: 64)
    variants.append(key_for(None))
    files = {cache_file(k) for k in [base, *variants]}
    assert len(files) == 1 + len(variants)  # every field names a different file
    assert all(f.parent == cache / "calibration" for f in files)
    monkeypatch.undo()
    assert key_for(None) == base  # and the same machine and model find the same one


def test_a_real_calibration_is_cached_and_reused(cache, tiny_models, monkeypatch):
    monkeypatch.setattr(calibration, "_start_seconds", lambda: 0.25)  # the fresh-process import: seconds, not tested
    calls = []
    real = calibration.calibrate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(calibration, "calibrate", counting)
    key = key_for(str(tiny_models["chat"]), device="cpu")
    assert rates_for(key) is None  # not measured and not allowed to
    first = rates_for(key, calibrate_if_missing=True)
    assert first is not None and len(calls) == 1
    assert first.score_tokens_per_s > 0 and first.train_tokens_per_s > 0 and first.embed_texts_per_s > 0
    assert first.start_s == 0.25 and first.load_s > 0 and first.device == "cpu"
    assert first.precision.startswith("fp32")
    # the tiny model uses SmolLM2's tokenizer: English prose is 3-6 characters per token, the chat template adds some
    assert 3 < first.chars_per_token < 6 and first.template_tokens > 5
    stored = json.loads(cache_file(key).read_text())
    assert stored["key"] == asdict(key) and stored["rates"]["n_parameters"] == first.n_parameters
    again = rates_for(key, calibrate_if_missing=True)
    assert again == first and len(calls) == 1  # read from the file, not measured twice


def test_a_corrupt_or_foreign_file_is_measured_again(cache, monkeypatch):
    key = key_for("some/model")
    calls = []

    def fake_calibrate(k, **_):
        calls.append(k)
        save_rates(k, RATES)
        return RATES

    monkeypatch.setattr(calibration, "calibrate", fake_calibrate)
    path = cache_file(key)
    path.parent.mkdir(parents=True)
    for bad in ("{not json", json.dumps({"version": 1, "key": asdict(key), "rates": {"score_tokens_per_s": 1}}),
                json.dumps({"version": 1, "key": {**asdict(key), "cores": 999}, "rates": asdict(RATES)}),
                json.dumps({"version": 0, "key": asdict(key), "rates": asdict(RATES)}),
                json.dumps({"version": 1, "key": asdict(key), "rates": {**asdict(RATES), "train_tokens_per_s": 0}}),
                "[]"):
        path.write_text(bad)
        assert cached_rates(key) is None, bad
        assert rates_for(key, calibrate_if_missing=True) == RATES
    assert len(calls) == 6
    assert cached_rates(key) == RATES  # the last recalibration left a good file


def test_calibration_off_keeps_the_constants(cache, monkeypatch):
    key = key_for(None)
    save_rates(key, RATES)
    assert rates_for(key) == RATES
    monkeypatch.setenv("CURATION_CALIBRATION", "off")
    assert rates_for(key, calibrate_if_missing=True) is None


def test_the_estimate_uses_the_measured_rates():
    config = registry.make_config("iterit", {"epochs": 2, "max_length": 128})
    guess = estimate_run("iterit", config, n_pool=200, n_select=40, prompt_chars=200.0, response_chars=400.0,
                         embedded=False, rates=RATES)
    # by hand: tokens min(128, 600 / 4 + 10) = 128, response min(128, 400 / 4 + 1) = 101, IFD adds response + 30
    per_sample = 128 + 101 + 30
    expected = {
        "IFD of the whole pool (epoch 0)": 200 * per_sample / 1000,
        "IFD of the top 120 in 1 later epochs": 120 * per_sample / 1000,  # update_ratio 3 x 40
        "2 one-epoch trainings on 40 samples": 2 * (4.0 + 40 * 128 / 100),
        "starting and 2 model load(s)": 3.0 + 1.0 + 3.0 + 2.0,  # start, warm-up, first and later loads
        "sentence-embedding the pool (once; cached)": 1.5 + 200 / 50,
    }
    assert dict(guess.parts) == pytest.approx(expected)
    assert guess.seconds == pytest.approx(207.78) and guess.calibrated
    # DiverseEvol, 2 rounds of 2 epochs: pools 13, 27, 40 (init = budget / 3); trains on the first two
    evol = estimate_run("diverse_evol", registry.make_config("diverse_evol", {"rounds": 2, "epochs": 2,
                                                                             "max_length": 128}),
                        n_pool=200, n_select=40, prompt_chars=200.0, response_chars=400.0, embedded=True,
                        rates=RATES)
    assert dict(evol.parts) == pytest.approx({
        "2 training rounds (2 epochs each)": 2 * 4.0 + (13 + 27) * 128 * 2 / 100,
        "2 passes embedding the pool with the trained model": 2 * 200 * 128 / 1000,
        "starting and 4 model load(s)": 3.0 + 1.0 + 3.0 + 3 * 2.0})
    fallback = estimate_run("iterit", config, n_pool=200, n_select=40, prompt_chars=200.0, response_chars=400.0,
                            embedded=False)
    assert not fallback.calibrated and fallback.seconds != guess.seconds


def test_select_estimate_prices_with_the_cached_rates(cache, dolly_workspace, capsys, monkeypatch):
    from curation.cli import main
    from curation.methods.budgets import parse_budget
    from curation.methods.estimate import estimate_for_workspace

    ws = dolly_workspace(200)
    argv = ["-w", str(ws.root), "select", "--method", "iterit", "--budget", "40", "--set", "epochs=2",
            "--set", "max_length=128", "--estimate"]
    monkeypatch.setenv("CURATION_CALIBRATION", "off")
    assert main(argv) == 0
    assert "(not calibrated yet)" in capsys.readouterr().out
    monkeypatch.setenv("CURATION_CALIBRATION", "on")
    save_rates(key_for(None), RATES)  # what a calibration of the default model on this machine would leave
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: pytest.fail("the cached rates must be used"))
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "not calibrated" not in out
    guess, n = estimate_for_workspace(ws, "iterit", registry.make_config("iterit", {"epochs": 2, "max_length": 128}),
                                      parse_budget("40"))
    assert guess.calibrated and n == 40
    assert re.search(rf"estimated time on this machine: {re.escape(guess.describe())} for about 40 of 200", out)
    assert "starting and 2 model load(s): 9 s" in out
    lora_off = replace(RATES, train_tokens_per_s=1.0)  # full fine-tuning has its own calibration
    save_rates(key_for(None, lora=False), lora_off)
    full, _ = estimate_for_workspace(ws, "iterit", registry.make_config("iterit", {"epochs": 2, "lora": False}),
                                     parse_budget("40"))
    assert full.seconds > guess.seconds * 10


def test_the_select_page_calibrates_in_a_job(ws, cache, monkeypatch):
    from curation.services import jobs

    measured = []

    def fake_calibrate(k, **_):
        measured.append(k)
        save_rates(k, RATES)
        return RATES

    monkeypatch.setattr(calibration, "calibrate", fake_calibrate)
    good = jobs.submit(ws, "calibrate", {"method": "iterit", "config": {"epochs": 2}, "models": {"dtype": "fp32"}})
    bad = jobs.submit(ws, "calibrate", {"method": "iterit", "modles": {}})
    assert jobs.run_pending(ws) == 2
    assert jobs.get(ws, good).status == "done" and jobs.get(ws, good).result["calibrated"] is True
    assert measured == [key_for(None, dtype="fp32")] and cached_rates(key_for(None, dtype="fp32")) == RATES
    assert jobs.get(ws, bad).status == "failed" and "unknown setting 'modles'" in jobs.get(ws, bad).error


def test_a_calibrated_estimate_prices_each_samples_length():
    from curation.methods.estimate import pool_tokens

    # 4 characters a token, 10 template tokens, max length 100: prompts of 20, 60 and 110 tokens
    prompt, response = np.array([40.0, 200.0, 400.0]), np.array([80.0, 400.0, 40.0])
    passed, fit, fit_response, share = pool_tokens(prompt, response, 100, chars_per_token=4.0, template_tokens=10.0)
    assert passed == pytest.approx((40 + 100 + 100) / 3)  # capped per sample, every sample passes (embedding)
    assert fit == pytest.approx((40 + 100) / 3)  # the third prompt fills max_length: never scored nor trained
    assert fit_response == pytest.approx((20 + 40) / 3) and share == pytest.approx(2 / 3)
    config = registry.make_config("learning_pct", {"epochs": 2, "max_length": 100, "score": "lp1"})
    lp = estimate_run("learning_pct", config, n_pool=3, n_select=1, prompt_chars=0.0, response_chars=0.0,
                      embedded=True, rates=RATES, lengths=(prompt, response))
    assert dict(lp.parts)["training the selector on the pool (2 epoch(s))"] == pytest.approx(4.0 + 2 * 140 / 100)
    assert dict(lp.parts)["3 perplexity passes over the pool"] == pytest.approx(3 * 140 / 1000)
