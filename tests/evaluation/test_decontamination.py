"""Decontamination finds planted copies of pool rows in an eval file, and only those, and rejects them undoably.

The pool is 300 real Dolly rows; the eval file holds 10 other Dolly rows plus five planted copies of pool rows: one
verbatim, one with widened whitespace, one upper-cased, two with a few words changed. The reference is brute force
over sentence-transformers' own vectors (not the project's encoder, cache or search): every eval x pool cosine.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from curation.cli import main
from curation.errors import CurationError, InputError
from curation.evaluation import decontamination as decon
from curation.geometry import embed
from curation.geometry.embed_cache import EmbeddingStore, text_keys
from curation.records import Record, normalise
from curation.workspace import Workspace, decisions, samples
from tests.shared_data import DOLLY, dolly_records

POOL_ROWS = 300
CLEAN_EVAL_ROWS = 10  # Dolly rows after the pool's: none duplicates a pool row (asserted by the reference)


def _dolly_rows(start: int, n: int) -> list[dict]:
    with open(DOLLY, encoding="utf-8") as fh:
        return [json.loads(line) for i, line in enumerate(fh) if start <= i < start + n]


def _change_words(text: str, swaps: dict[str, str]) -> str:
    for old, new in swaps.items():
        assert old in text, old  # the planted change really happens
        text = text.replace(old, new, 1)
    return text


def _planted(pool: list[dict]) -> dict[int, dict]:
    """Pool row -> its planted near-copy (rows chosen without a near twin inside the pool)."""
    exact = dict(pool[3])
    spaced = dict(pool[50], instruction=pool[50]["instruction"].replace(" ", "   ") + " \n",
                  output=pool[50]["output"].replace(" ", " \t "))
    shouted = dict(pool[120], instruction=pool[120]["instruction"].upper())
    reworded = dict(pool[200], output=_change_words(pool[200]["output"], {"footballer": "soccer player",
                                                                          "played": "was playing"}))
    retold = dict(pool[280], instruction=_change_words(pool[280]["instruction"], {"first place": "1st place"}),
                  output=_change_words(pool[280]["output"], {"three": "3", "world": "World"}))
    return {3: exact, 50: spaced, 120: shouted, 200: reworded, 280: retold}


@pytest.fixture(scope="module")
def setting(dolly_workspace, tmp_path_factory):
    """(workspace, eval path, eval records, {eval index: planted pool sample id}, exact eval indices)."""
    ws = dolly_workspace(POOL_ROWS)
    pool = _dolly_rows(0, POOL_ROWS)
    rows = _dolly_rows(POOL_ROWS, CLEAN_EVAL_ROWS)
    planted = _planted(pool)
    id_of_text = {record.text(): sid for sid, record in samples.iter_records(ws)}
    pool_records = dolly_records(POOL_ROWS)
    for n, row in enumerate(planted.values()):
        rows.insert(2 * n + 1, row)  # interleaved with the clean rows
    expected = {rows.index(row): id_of_text[pool_records[k].text()] for k, row in planted.items()}
    path = tmp_path_factory.mktemp("eval") / "bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    exact = {rows.index(planted[3]), rows.index(planted[50])}
    return ws, path, decon.read_eval_file(path), expected, exact


def _reference_pairs(ws: Workspace, eval_records: list[Record], threshold: float) -> dict[tuple[int, str], float]:
    """Brute force: sentence-transformers vectors, every eval x pool cosine, plus identical normalised texts."""
    from sentence_transformers import SentenceTransformer

    ids, pool_texts = zip(*[(sid, r.text()) for sid, r in samples.iter_records(ws)])
    eval_texts = [r.text() for r in eval_records]
    model = SentenceTransformer(embed.resolve_model(embed.DEFAULT_MODEL)[0], device="cpu")
    P = model.encode(list(pool_texts), normalize_embeddings=True).astype(np.float64)
    E = model.encode(eval_texts, normalize_embeddings=True).astype(np.float64)
    S = E @ P.T
    near_threshold = S[(S > threshold - 0.03) & (S < threshold + 0.03)]
    assert near_threshold.size == 0, "test data must stay clear of the threshold (encoders differ by ~1e-3)"
    out = {(int(q), ids[p]): float(S[q, p]) for q, p in zip(*np.nonzero(S >= threshold))}
    for q, text in enumerate(eval_texts):
        for p, pool_text in enumerate(pool_texts):
            if normalise(text) == normalise(pool_text):
                out[(q, ids[p])] = float(S[q, p])
    return out


def test_finds_exactly_the_planted_copies(setting):
    ws, _, eval_set, expected, exact = setting
    pairs = decon.find_contamination(ws, eval_set.records, eval_lines=eval_set.lines)
    reference = _reference_pairs(ws, list(eval_set.records), 0.9)
    assert set(reference) == set(expected.items())  # the reference agrees the planted rows are all there is
    assert {(p.eval_index, p.sample_id) for p in pairs} == set(reference)
    for p in pairs:
        assert p.cosine > 0.9 and p.cosine == pytest.approx(reference[(p.eval_index, p.sample_id)], abs=2e-3)
        assert p.exact == (p.eval_index in exact)
        assert p.eval_line == p.eval_index + 1  # JSONL: row i starts on line i + 1
    assert [p.cosine for p in pairs] == sorted((p.cosine for p in pairs), reverse=True)
    # the eval rows were embedded into the workspace's cache, beside the pool
    spec = embed.store_spec()
    assert spec is not None  # the bundled default model: known without loading it
    store = EmbeddingStore.for_workspace(ws, spec)
    assert store.contains(text_keys([r.text() for r in eval_set.records])).all()


def test_threshold_and_sample_ids_narrow_the_search(setting):
    ws, _, eval_set, expected, exact = setting
    pairs = decon.find_contamination(ws, eval_set.records)
    strict = decon.find_contamination(ws, eval_set.records, cosine=0.995)
    assert strict == [p for p in pairs if p.cosine >= 0.995 or p.exact]
    shouted = next(i for i, r in enumerate(eval_set.records) if r.prompt.isupper())
    assert shouted in {p.eval_index for p in strict} and shouted not in exact  # the encoder is uncased
    left_out = set(list(expected.values())[:2])
    some = [sid for sid in samples.ids(ws) if sid not in left_out]
    pairs = decon.find_contamination(ws, eval_set.records, sample_ids=some)
    assert {(p.eval_index, p.sample_id) for p in pairs} == set(list(expected.items())[2:])
    with pytest.raises(CurationError, match="no sample with id nope"):
        decon.find_contamination(ws, eval_set.records, sample_ids=["nope"])
    with pytest.raises(CurationError, match="cosine must be in"):
        decon.find_contamination(ws, eval_set.records, cosine=1.5)


def test_exact_matching_holds_whatever_the_cosine(setting):
    ws, _, eval_set, expected, exact = setting
    only_exact = decon.find_contamination(ws, eval_set.records, cosine=1.0)  # float rounding: cosines near 1
    assert exact <= {p.eval_index for p in only_exact}
    assert all(p.exact or p.cosine >= 1.0 for p in only_exact)
    near = decon.find_contamination(ws, eval_set.records, config=decon.DecontaminationConfig(exact=False))
    assert [(p.eval_index, p.exact) for p in near] == [(p.eval_index, p.exact) for p in
                                                       decon.find_contamination(ws, eval_set.records)]


def test_rejections_carry_origin_and_reason_and_undo_restores_them(setting):
    ws, _, eval_set, expected, exact = setting
    pairs = decon.find_contamination(ws, eval_set.records, eval_lines=eval_set.lines)
    assert decon.reject_contaminated(ws, pairs, "bench.jsonl") == len(expected)
    for eval_index, sid in expected.items():
        st = decisions.state(ws, sid)
        assert (st.status, st.origin) == ("rejected", "decontaminate")
        cos = next(p.cosine for p in pairs if p.sample_id == sid)
        how = " exactly" if eval_index in exact else ""
        assert st.reason == f"duplicates eval row {eval_index + 1} of bench.jsonl{how} (cosine {cos:.2f})"
    assert decon.reject_contaminated(ws, pairs, "bench.jsonl") == 0  # already rejected: nothing recorded twice
    assert sorted(decisions.undo_last(ws, origin="decontaminate")) == sorted(expected.values())
    assert all(decisions.state(ws, sid).status == "pending" for sid in expected.values())
    assert decon.find_contamination(ws, eval_set.records)  # pending again: checked again


def test_exclude_or_refuse(setting):
    ws, _, eval_set, expected, _ = setting
    pairs = decon.find_contamination(ws, eval_set.records)
    ids = samples.ids(ws)
    assert decon.without_contaminated(ids, pairs) == [s for s in ids if s not in set(expected.values())]
    with pytest.raises(CurationError, match=f"{len(pairs)} samples duplicate rows of bench.jsonl"):
        decon.refuse_if_contaminated(pairs, "bench.jsonl")
    decon.refuse_if_contaminated([], "bench.jsonl")  # a clean set passes


def test_cli_shows_pairs_rejects_and_undoes(setting, capsys):
    ws, path, _, expected, _ = setting
    w = ["-w", str(ws.root)]
    assert main(["decontaminate", str(path), "--dry-run", "--limit-pairs", "2", *w]) == 0
    out = capsys.readouterr().out
    assert "5 pairs at cosine >= 0.9" in out and "dry run: nothing rejected" in out and "... 3 more pairs" in out
    assert all(decisions.state(ws, sid).status == "pending" for sid in expected.values())
    assert main(["decontaminate", str(path), *w]) == 0
    out = capsys.readouterr().out
    assert "rejected 5" in out and all(sid in out for sid in expected.values())
    assert all(decisions.state(ws, sid).origin == "decontaminate" for sid in expected.values())
    assert main(["undo", "--origin", "decontaminate", *w]) == 0
    assert "undid reject of 5 sample(s)" in capsys.readouterr().out
    assert all(decisions.state(ws, sid).status == "pending" for sid in expected.values())


def test_bad_eval_file_names_file_and_line(setting, tmp_path, capsys):
    ws, path, *_ = setting
    lines = path.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([lines[0], lines[1], "{not json", *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.jsonl:3: "):
        decon.read_eval_file(broken)
    no_answer = tmp_path / "no_answer.jsonl"
    no_answer.write_text("\n".join([lines[0], json.dumps({"instruction": "q", "input": "", "output": ""})]) + "\n",
                         encoding="utf-8")
    with pytest.raises(InputError, match=r"no_answer\.jsonl:2: "):
        decon.read_eval_file(no_answer)
    assert main(["decontaminate", str(broken), "-w", str(ws.root)]) == 2
    assert "broken.jsonl:3:" in capsys.readouterr().err
    with pytest.raises(InputError, match="no such file"):
        decon.read_eval_file(tmp_path / "mmlu")


@pytest.mark.parametrize("faiss", [True, False])
def test_near_pairs_is_exhaustive(monkeypatch, faiss):
    """Against brute force on random vectors, with FAISS and with the numpy fallback."""
    if not faiss:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "faiss" else real(name, *a))
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 8))
    queries = np.vstack([rng.normal(size=(60, 8)), base[:5] + rng.normal(scale=0.05, size=(5, 8))])
    qi, pj, sims = decon.near_pairs(queries, base, 0.8, block=16)
    unit = lambda X: X / np.linalg.norm(X, axis=1, keepdims=True)  # noqa: E731
    S = unit(queries) @ unit(base).T
    assert set(zip(qi.tolist(), pj.tolist())) == set(zip(*[a.tolist() for a in np.nonzero(S >= 0.8)]))
    assert (sims >= 0.8).all() and np.allclose(sims, S[qi, pj], atol=1e-6)
    assert len(qi) > 100  # enough pairs that a missed one would show
