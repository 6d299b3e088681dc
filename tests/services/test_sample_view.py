"""One sample's side panel as text (curation.services.sample_view), for a real sample with a decision history,
checked against hand-written strings."""

from __future__ import annotations

import json

from curation.formats import importer
from curation.services import sample_view
from curation.workspace import decisions, runs, samples


def test_status_lines_escape_what_a_user_wrote():
    assert sample_view.status_line(decisions.State()) == ":material/hourglass_empty: **pending**"
    state = decisions.State(status="rejected", pinned=True, origin="method:k_center", reason="see [here](x)")
    assert sample_view.status_line(state) == (":material/block: **rejected** · :material/push_pin: pinned"
                                              r" · by method\:k\_center · see \[here\]\(x\)")


def test_picks_caption_shows_the_first_six():
    assert sample_view.picks_caption([]) == ""
    assert sample_view.picks_caption([(2, 0, 5)]) == "Selected by run 2 iteration 0 (rank 5)"
    many = [(1, i, i + 1) for i in range(7)]
    caption = sample_view.picks_caption(many)
    assert caption.endswith("run 1 iteration 5 (rank 6) …") and "iteration 6" not in caption


def test_origin_caption_and_history_of_a_real_sample(ws, tmp_path):
    path = tmp_path / "my_set.jsonl"
    row = json.dumps({"instruction": "q", "input": "", "output": "twelve chars"})
    path.write_text(f"{json.dumps({'instruction': 'other', 'input': '', 'output': 'x'})}\n{row}\n{row}\n")
    importer.import_source(ws, str(path))
    sample_id = samples.ids(ws)[1]
    run_id = runs.create(ws, name="r", method="kcenter", config={}, budget={}, seed=0)
    runs.add_iteration(ws, run_id, 0, [samples.ids(ws)[0], sample_id])
    decisions.record(ws, [sample_id], "approve", reason="fine")
    decisions.undo_last(ws)
    d = sample_view.detail(ws, sample_id)
    assert sample_view.origin_caption(d) == (
        rf"Row 2 · id `{sample_id}` · my\_set\.jsonl:2 · seen 2 times · 12 response chars")
    assert sample_view.picks_caption(d.selected_by) == f"Selected by run {run_id} iteration 0 (rank 2)"
    history = sample_view.history_frame(d.history)
    assert history["action"].tolist() == ["approve", "undo"] and history["reason"].tolist()[0] == "fine"
    assert history["undoes"].tolist()[1] == d.history[0].event_id
    assert list(sample_view.history_frame([]).columns) == ["when", "action", "by", "reason", "undoes"]
