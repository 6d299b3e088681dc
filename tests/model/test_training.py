"""Training rounds: the loss is response-only, it falls where we train, rounds are reproducible and saved."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curation.errors import Cancelled, CurationError
from curation.model import (
    ScoreConfig,
    TrainConfig,
    list_checkpoints,
    load_checkpoint,
    load_model,
    save_checkpoint,
    score_records,
    train,
)
from curation.model.formatting import Formatter
from curation.model.training import response_loss
from curation.records import single_turn
from tests.model.helpers import short_records
from tests.shared_data import dolly_records

FAST = dict(max_length=96, batch_size=4, autocast="off")


def _weights(lm) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in lm.model.state_dict().items()}


def test_loss_is_response_tokens_only(tiny_chat):
    records = short_records()
    batch = Formatter(tiny_chat.tokenizer, "chat", 512).format(records)
    nll, n_labels, _ = response_loss(tiny_chat, batch, TrainConfig(autocast="off"))
    # reference: labels built by hand (-100 except assistant tokens), padding-free forward per sample
    total, count = 0.0, 0
    for record, f in zip(records, batch):
        ids = torch.tensor([f.input_ids])
        labels = torch.full_like(ids, -100)
        for message_tokens in _assistant_token_runs(tiny_chat.tokenizer, record):
            start = _find(list(f.input_ids), message_tokens)
            labels[0, start:start + len(message_tokens)] = ids[0, start:start + len(message_tokens)]
        with torch.no_grad():
            logits = tiny_chat.model(ids).logits[0, :-1].double()
        target = labels[0, 1:]
        total += float(torch.nn.functional.cross_entropy(logits, target, ignore_index=-100, reduction="sum"))
        count += int((target != -100).sum())
    assert n_labels == count
    assert float(nll.detach()) == pytest.approx(total, rel=1e-5)


def _assistant_token_runs(tok, record):
    return [tok(m.content, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            for m in record.messages if m.role == "assistant"]


def _find(ids, sub):
    return next(s for s in range(len(ids) - len(sub), -1, -1) if ids[s:s + len(sub)] == sub)


@pytest.mark.parametrize("lora", [True, False])
def test_round_lowers_training_loss_more_than_held_out(tiny_models, lora):
    lm = load_model(str(tiny_models["chat"]), device="cpu")
    train_set, held_out = dolly_records(8), dolly_records(8, skip=100)
    config = ScoreConfig(max_length=96, ifd=False, autocast="off")
    before_train = score_records(lm, train_set, config=config).nll
    before_held = score_records(lm, held_out, config=config).nll
    epochs_seen = []
    settings = dict(epochs=10, lora_r=64) if lora else dict(epochs=6)
    result = train(lm, train_set, config=TrainConfig(learning_rate=3e-3, lora=lora, **settings, **FAST),
                   on_epoch_end=lambda e, m: epochs_seen.append((e, m.model_key, m.model.training)))
    drop_train = np.nanmean(before_train - score_records(lm, train_set, config=config).nll)
    drop_held = np.nanmean(before_held - score_records(lm, held_out, config=config).nll)
    epochs = settings["epochs"]
    assert [e for e, _, _ in epochs_seen] == list(range(epochs))
    assert len({k for _, k, _ in epochs_seen}) == epochs and not any(t for _, _, t in epochs_seen)
    assert result.steps == 2 * epochs == len(result.losses) and result.tokens > 0
    assert result.losses[-1] < result.losses[0]
    # a random tiny model also learns generic token statistics, so held-out loss falls a little too
    assert drop_train > (0.5 if lora else 1.5) and drop_train > 2.5 * abs(drop_held)


def test_same_seed_same_weights_and_save_load_same_scores(tiny_models, ws):
    records = dolly_records(6)
    config = TrainConfig(epochs=2, learning_rate=1e-3, **FAST)
    runs = []
    for seed in (7, 7, 8):
        lm = load_model(str(tiny_models["chat"]), device="cpu")
        train(lm, records, config=config, seed=seed)
        runs.append(lm)
    a, b, c = (_weights(lm) for lm in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0].model_key == runs[1].model_key != runs[2].model_key
    assert any(not torch.equal(a[k], c[k]) for k in a if "lora" in k)

    key = save_checkpoint(ws, runs[0], "round-1", metadata={"note": "test"})
    assert list_checkpoints(ws) == ["round-1"] and runs[0].model_key == key and "::round-1@" in key
    loaded = load_checkpoint(ws, "round-1")
    assert loaded.model_key == key and loaded.is_lora
    score = ScoreConfig(max_length=96, pooling=("mean",), autocast="off")
    s1, s2 = score_records(runs[0], records, config=score), score_records(loaded, records, config=score)
    np.testing.assert_array_equal(s1.nll, s2.nll)
    np.testing.assert_array_equal(s1.embeddings["mean"], s2.embeddings["mean"])
    base = score_records(load_model(str(tiny_models["chat"]), device="cpu"), records, config=score)
    assert not np.allclose(base.nll, s1.nll)  # the checkpoint really carries the trained weights


def test_full_fine_tune_checkpoint_and_continue(tiny_models, ws):
    records = dolly_records(4)
    lm = load_model(str(tiny_models["chat"]), device="cpu")
    train(lm, records, config=TrainConfig(max_steps=1, lora=False, **FAST))
    save_checkpoint(ws, lm, "full")
    again = load_checkpoint(ws, "full")
    assert not again.is_lora and all(torch.equal(v, again.model.state_dict()[k]) for k, v in _weights(lm).items())
    before = _weights(again)
    train(again, records, config=TrainConfig(max_steps=1, lora=False, **FAST))  # continue from the checkpoint
    assert any(not torch.equal(before[k], v) for k, v in _weights(again).items())
    with pytest.raises(CurationError, match="no checkpoint"):
        load_checkpoint(ws, "missing")
    with pytest.raises(CurationError, match="invalid checkpoint name"):
        save_checkpoint(ws, lm, "../escape")


def test_gradient_accumulation_equals_one_big_batch(tiny_models):
    records = dolly_records(4)
    weights = []
    for batch_size, accum in ((4, 1), (2, 2), (1, 4)):
        lm = load_model(str(tiny_models["chat"]), device="cpu")
        train(lm, records, config=TrainConfig(max_steps=1, lora=False, learning_rate=1e-3, batch_size=batch_size,
                                              grad_accum=accum, group_by_length=False, max_length=96,
                                              autocast="off"))
        weights.append(_weights(lm))
    # Adam's first step is ~lr * sign(gradient): agreement to 1% of a step means the gradients agree
    for other in weights[1:]:
        for k in weights[0]:
            torch.testing.assert_close(weights[0][k], other[k], atol=1e-5, rtol=0)


def test_gradient_checkpointing_gives_the_same_step(tiny_models):
    records = dolly_records(4)
    losses = []
    for checkpointing in (False, True):
        lm = load_model(str(tiny_models["chat"]), device="cpu")
        result = train(lm, records, config=TrainConfig(max_steps=2, gradient_checkpointing=checkpointing, **FAST))
        losses.append(result.losses)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_skips_untrainable_samples_cancels_and_takes_epoch_data(tiny_chat):
    records = short_records()[:4] + [single_turn("Summarise: " + "lorem ipsum " * 200, "Short.")]
    with pytest.raises(Cancelled):
        train(tiny_chat, records, config=TrainConfig(**FAST), should_stop=lambda: True)
    seen = []

    def epoch_data(epoch):
        seen.append(epoch)
        return records[epoch:]

    result = train(tiny_chat, epoch_data, config=TrainConfig(epochs=2, **FAST))
    assert seen == [0, 1]
    assert result.skipped == {records[-1].id: "truncated"}
    with pytest.raises(CurationError, match="nothing to train on"):
        train(tiny_chat, records[-1:], config=TrainConfig(**FAST))
