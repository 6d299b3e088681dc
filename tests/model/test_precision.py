"""Precision: the one dtype rule (checked for CUDA cases on a CPU), fp32 master weights when training, fp32
log-probabilities when scoring, whatever dtype the weights were loaded in."""

from __future__ import annotations

import pytest
import torch

from curation.errors import CurationError
from curation.model import ScoreConfig, TrainConfig, load_model, score_records, train
from curation.model.formatting import Formatter
from curation.model.loading import Precision, decide_precision
from tests.model.helpers import short_records
from tests.shared_data import dolly_records


@pytest.mark.parametrize(("device", "native", "dtype", "autocast", "expected"), [
    # the defaults: fp32 weights everywhere, bf16 compute only where the hardware has it natively
    ("cpu", False, "auto", "auto", Precision("fp32", False)),   # AVX2 only: exact fp32
    ("cpu", True, "auto", "auto", Precision("fp32", True)),     # AVX512-BF16 / AMX
    ("cuda", True, "auto", "auto", Precision("fp32", True)),    # Ampere and later: fp32 masters + autocast
    ("cuda", False, "auto", "auto", Precision("fp32", False)),  # V100 / T4: bf16 only emulated
    # user choices
    ("cuda", True, "bf16", "auto", Precision("bf16", False)),   # bf16 weights compute in bf16 already
    ("cuda", True, "bfloat16", "auto", Precision("bf16", False)),
    ("cuda", True, "fp32", "off", Precision("fp32", False)),
    ("cpu", True, "float32", "off", Precision("fp32", False)),
    ("cpu", False, "fp32", "bf16", Precision("fp32", True)),    # asked for explicitly: honoured
    ("mps", True, "auto", "auto", Precision("fp32", False)),    # no bf16 autocast outside CPU and CUDA
])
def test_precision_rule(device, native, dtype, autocast, expected):
    assert decide_precision(device, native, dtype, autocast) == expected


def test_precision_rule_names_a_bad_setting():
    with pytest.raises(CurationError, match="dtype 'fp16'.*auto, fp32 or bf16"):
        decide_precision("cuda", True, "fp16", "auto")
    with pytest.raises(CurationError, match="autocast 'yes'"):
        decide_precision("cpu", True, "auto", "yes")
    with pytest.raises(CurationError, match="dtype"):
        TrainConfig(dtype="fp16")  # type: ignore[arg-type]


def test_load_model_default_is_fp32_and_bf16_on_request(tiny_models):
    assert load_model(str(tiny_models["chat"]), device="cpu").dtype == torch.float32
    lm = load_model(str(tiny_models["chat"]), device="cpu", dtype="bf16")
    assert lm.dtype == torch.bfloat16 and next(lm.model.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("autocast", ["off", "bf16"])
def test_bf16_loaded_weights_still_learn_at_2e_5(tiny_models, autocast):
    """Pure-bf16 AdamW at lr 2e-5 leaves every weight above ~0.005 unchanged (the update is below half a bf16
    ulp); fp32 master weights move nearly all of them, and the loss on the trained batch falls."""
    lm = load_model(str(tiny_models["chat"]), device="cpu", dtype="bf16")
    before = {k: v.detach().float().clone() for k, v in lm.model.named_parameters()}
    records = dolly_records(4)
    result = train(lm, records, config=TrainConfig(lora=False, learning_rate=2e-5, epochs=10, batch_size=4,
                                                   max_length=96, warmup_ratio=0.0, autocast=autocast))
    assert result.steps == 10
    after = dict(lm.model.named_parameters())
    assert all(p.dtype == torch.float32 for p in after.values())
    assert lm.dtype == torch.float32
    changed = total = 0
    for name, old in before.items():
        big = old.abs() > 0.01  # far above the bf16 step the reference implementation could still take
        changed += int(((after[name].detach() - old).abs() > 0)[big].sum())
        total += int(big.sum())
    assert total > 10_000 and changed / total > 0.9
    assert result.losses[-1] < result.losses[0]


def test_lora_on_bf16_base_trains_fp32_adapters(tiny_models):
    lm = load_model(str(tiny_models["chat"]), device="cpu", dtype="bf16")
    train(lm, dolly_records(4), config=TrainConfig(max_steps=2, batch_size=4, max_length=96, learning_rate=2e-5))
    adapters = {n: p for n, p in lm.model.named_parameters() if p.requires_grad}
    assert adapters and all(p.dtype == torch.float32 for p in adapters.values())
    assert any(float(p.abs().max()) > 0 for n, p in adapters.items() if "lora_B" in n)  # B starts at zero


def test_scoring_log_probs_are_fp32_with_bf16_weights(tiny_models):
    """Reference: the bf16 model's own last hidden states, projected by the output layer in float64. A bf16
    output layer rounds every logit to 8 bits of mantissa, which moves the NLL by ~1e-2 at these logit sizes."""
    lm = load_model(str(tiny_models["chat"]), device="cpu", dtype="bf16")
    with torch.no_grad():
        lm.model.model.norm.weight.mul_(16.0)  # logits of tens, as a trained model has (a power of 2: exact)
    records = short_records()
    # one record per call: bf16 matmuls round differently with batch shape, the output layer is what is checked
    nll = [score_records(lm, [r], config=ScoreConfig(ifd=False, autocast="off")).nll for r in records]
    assert all(x.dtype.name == "float32" for x in nll)
    weight = lm.model.get_output_embeddings().weight.double()
    formatted = Formatter(lm.tokenizer, "chat", 512).format(records)
    for i, f in enumerate(formatted):
        ids = torch.tensor([f.input_ids])
        with torch.no_grad():
            hidden = lm.model.model(input_ids=ids).last_hidden_state[0].double()
        logp = torch.log_softmax(hidden @ weight.T, -1)
        a, b = f.response
        reference = -sum(float(logp[t - 1, f.input_ids[t]]) for t in range(a, b)) / (b - a)
        assert float(nll[i][0]) == pytest.approx(reference, abs=2e-4), i


def test_cli_and_run_models_take_the_dtype(tmp_path, tiny_models, capsys):
    from safetensors import safe_open

    from curation.cli import main
    from curation.formats.importer import import_source
    from curation.methods.engines.model_engine import ModelEngine
    from curation.workspace import Workspace, samples
    from tests.shared_data import DOLLY, write_jsonl_head

    root = tmp_path / "ws"
    ws = Workspace(root)
    import_source(ws, write_jsonl_head(DOLLY, tmp_path / "dolly.jsonl", 4))
    model = str(tiny_models["chat"])
    assert main(["-w", str(root), "score", "--model", model, "--max-length", "96", "--dtype", "bf16",
                 "--autocast", "off"]) == 0
    common = ["--model", model, "--full", "--max-steps", "1", "--max-length", "96", "--batch-size", "2"]
    for name, flags, expected in (("pure", ["--dtype", "bf16"], "BF16"), ("masters", [], "F32")):
        assert main(["-w", str(root), "train", *common, *flags, "--save", name]) == 0
        weights = next((root / "checkpoints" / name).glob("*.safetensors"))
        with safe_open(str(weights), "pt") as fh:
            assert {fh.get_slice(k).get_dtype() for k in fh.keys()} == {expected}
    capsys.readouterr()
    engine = ModelEngine(ws, list(samples.get_many(ws, samples.ids(ws)).values()), {"target": model, "dtype": "bf16"})
    assert engine.base("target").dtype == torch.bfloat16
