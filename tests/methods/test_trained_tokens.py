"""What a training round really trained on: which assistant turns carry loss (`train_on`), and which samples
were skipped because their prompt fills max_length, reported by the engines and the runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curation.methods.engines.base import TrainSettings
from curation.methods.engines.model_engine import ModelEngine
from curation.records import Message, Record, single_turn
from tests.shared_data import dolly_records


def dolly_conversation() -> Record:
    """Two real Dolly pairs as one two-turn conversation."""
    a, b = dolly_records(2, skip=7)
    return Record(messages=(Message("user", a.prompt), Message("assistant", a.response.strip()),
                            Message("user", b.prompt), Message("assistant", b.response.strip())))


def assistant_spans(tokenizer, record: Record) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of the whole rendered conversation and each assistant turn's [start, end) token span (its
    content and the end-of-turn token), from the chat template's text and character offsets alone."""
    messages = [{"role": m.role, "content": m.content} for m in record.messages]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans, cursor = [], 0
    for m in messages:
        if m["role"] != "assistant":
            continue
        header = "<|im_start|>assistant\n"
        start = text.index(header + m["content"], cursor) + len(header)
        end = text.index("<|im_end|>", start) + len("<|im_end|>")
        tokens = [t for t, (a, b) in enumerate(enc["offset_mapping"]) if a >= start and b <= end]
        spans.append((tokens[0], tokens[-1] + 1))
        cursor = end
    return enc["input_ids"], spans


def test_final_turn_trains_only_the_last_assistant_turn(tiny_models, tokenizer):
    from curation.model import TrainConfig, load_model
    from curation.model.formatting import Formatter
    from curation.model.training import response_loss

    record = dolly_conversation()
    ids, spans = assistant_spans(tokenizer, record)
    assert len(spans) == 2
    lm = load_model(str(tiny_models["chat"]), device="cpu")
    f = Formatter(lm.tokenizer, lm.template, 4096).format([record])[0]
    assert list(f.input_ids) == ids
    with torch.no_grad():  # reference: one fp32 forward, NLL of each labelled token from its own logits
        logp = torch.log_softmax(lm.model(torch.tensor([ids])).logits[0].double(), -1)
    token_nll = {t: -float(logp[t - 1, ids[t]]) for a, b in spans for t in range(a, b)}
    for setting, labelled in (("last", spans[-1:]), ("all_assistant", spans)):
        positions = [t for a, b in labelled for t in range(a, b)]
        nll, n_labels, _ = response_loss(lm, [f], TrainConfig(train_on=setting, autocast="off"))
        assert n_labels == len(positions)
        assert float(nll) == pytest.approx(sum(token_nll[t] for t in positions), rel=1e-5)

    # through the engine: the method's setting reaches the trainer, and the round reports the tokens that
    # carried loss; the first step's loss (before any update, LoRA starts as the identity) is their mean NLL
    engine = ModelEngine(None, [record], {"target": str(tiny_models["chat"]), "device": "cpu"})
    for setting, labelled in (("final_turn", spans[-1:]), ("all_assistant_turns", spans)):
        positions = [t for a, b in labelled for t in range(a, b)]
        result = engine.train(engine.base("target"), np.array([0]), TrainSettings(
            epochs=1, batch_size=1, max_length=4096, train_on=setting), seed=0)
        assert result.samples == 1 and result.skipped == {}
        assert result.tokens == len(positions)
        assert result.losses[0] == pytest.approx(np.mean([token_nll[t] for t in positions]), rel=3e-2)


def test_a_prompt_that_fills_max_length_is_skipped_and_not_counted(tiny_models, tokenizer):
    short = single_turn("Name a primary colour.", "Red.")
    long = dolly_records(1, skip=3)[0]
    long = single_turn("Summarise: " + long.response + " " + "lorem ipsum " * 80, "Short.")
    max_length = 96
    assert len(tokenizer(long.prompt, add_special_tokens=False)["input_ids"]) > max_length
    engine = ModelEngine(None, [short, long], {"target": str(tiny_models["chat"]), "device": "cpu"})
    result = engine.train(engine.base("target"), np.array([0, 1]), TrainSettings(
        epochs=2, batch_size=1, max_length=max_length), seed=0)
    assert result.samples == 1
    assert set(result.skipped) == {1} and "max_length" in result.skipped[1]
    # the short sample alone: "Red." and the end-of-turn token carry loss
    assert result.tokens == len(tokenizer("Red.", add_special_tokens=False)["input_ids"]) + 1
    assert result.steps == 2  # one sample, batch 1, two epochs


def test_the_timeline_and_runs_show_what_was_trained(dolly_workspace, capsys):
    """A DiverseEvol run (fake engine) asked to train on approved samples whose prompts fill max_length: the
    Select page's iteration table, the selected-samples table and `runs --run N` say what was really trained."""
    from curation.cli import main
    from curation.methods import runner
    from curation.services import runs_view, timeline
    from curation.workspace import decisions, runs, samples

    ws = dolly_workspace(120)
    records = samples.get_many(ws, samples.ids(ws))
    long = [s for s in samples.ids(ws) if len(records[s].prompt.split()) >= 60][:2]
    decisions.record(ws, long, "approve")
    run_id = runner.start_run(ws, "diverse_evol", budget=20, models={"engine": "fake"},
                              config={"rounds": 2, "epochs": 1, "max_length": 60})
    runner.run_selection(ws, run_id)
    its = runs.iterations(ws, run_id)
    # reference: the fake engine skips prompts of >= 60 words; round 0 trains on its pool minus those
    first = [s for s in its[0].selected if len(records[s].prompt.split()) < 60]
    table = runs_view.iteration_table(timeline.diffs(its), None)
    assert table["trained samples"].tolist()[0] == len(first) < len(its[0].selected)
    assert table["not trained"].tolist()[0] == len(its[0].selected) - len(first)
    assert table["trained tokens"].tolist()[0] == sum(
        min(60 - len(records[s].prompt.split()), len(records[s].response.split()) + 1) for s in first)
    picked = timeline.selected_table(ws, its[0]).set_index("id")
    skipped = set(its[0].selected) - set(first)
    assert set(picked.index[picked["not trained"] != ""]) == skipped and set(long) <= skipped
    assert "max_length (60 tokens)" in picked.loc[long[0], "not trained"]

    assert main(["-w", str(ws.root), "runs", "--run", str(run_id)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "iteration   0" in x)
    assert f"trained_samples {len(first)}" in line and f"n_train_skipped {len(skipped)}" in line


@pytest.mark.parametrize("config, expected", [({}, "final_turn"), ({"train_on": "all_assistant_turns"},
                                                                    "all_assistant_turns")])
def test_iterit_trains_on_the_final_turn_by_default(dolly_workspace, config, expected):
    from curation.methods import runner
    from curation.methods.engines.fake_engine import FakeEngine

    seen: list[str] = []

    class Recording(FakeEngine):
        def train(self, model, rows, settings, **kwargs):
            seen.append(settings.train_on)
            return super().train(model, rows, settings, **kwargs)

    ws = dolly_workspace(60)
    run_id = runner.start_run(ws, "iterit", budget=10, config={"epochs": 2, **config}, models={"engine": "fake"})
    runner.run_selection(ws, run_id, engine_factory=lambda w, records, models: Recording(records, models, root=w.root))
    assert seen == [expected, expected]
