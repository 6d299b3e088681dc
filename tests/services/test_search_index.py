"""Word search through the FTS5 index (curation.workspace.search_index, curation.services.browse).

References: Python's own tokenizing of the texts (letters and digits are word characters) for whole words and
prefixes, a plain substring test for the LIKE fallback, and hand-made documents for the ranking.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from curation.formats import importer
from curation.services import browse
from curation.workspace import Workspace, imports, samples, search_index, stage_indexer
from curation.workspace.db import _statements
from tests.shared_data import DOLLY, write_jsonl_head

WORDS = ["python", "the", "capital", "water", "what", "is", "music", "2", "one", "AND", "or", "near"]


@pytest.fixture(scope="module")
def pool(dolly_workspace):
    return dolly_workspace(2000)


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.lower()))


def _words_reference(ws, text: str) -> set[str]:
    frame = samples.frame(ws)
    out = set()
    for sid, prompt, response in zip(frame["id"], frame["prompt"], frame["response"]):
        tokens = _tokens(prompt + " " + response)
        ok = True
        for term in text.split():
            if re.fullmatch(r"[^\W_]+\*", term):
                ok &= any(t.startswith(term[:-1].lower()) for t in tokens)
            elif re.fullmatch(r"[^\W_]+", term):
                ok &= term.lower() in tokens
            else:
                ok &= term.lower() in prompt.lower() or term.lower() in response.lower()
        if ok:
            out.add(sid)
    return out


def _like_reference(ws, text: str) -> set[str]:
    frame = samples.frame(ws)
    return {sid for sid, p, r in zip(frame["id"], frame["prompt"].str.lower(), frame["response"].str.lower())
            if all(t.lower().rstrip("*") in p or t.lower().rstrip("*") in r for t in text.split())}


@pytest.mark.parametrize("text", [*WORDS, "the capital", "what is the", "pyth*", "capit* of", "wat*",
                                  "e-mail", "don't", "c++ python", "U.S.", "zzzqqq"])
def test_word_search_agrees_with_python_tokenizing_on_dolly(pool, text):
    flt = browse.Filter(text=text)
    expected = _words_reference(pool, text)
    assert set(browse.matching_ids(pool, flt)) == expected
    assert browse.count(pool, flt) == len(expected)
    # whole words are substrings too: the word search never finds what the LIKE search misses
    assert expected <= _like_reference(pool, text)


def test_the_word_search_is_narrower_than_substrings_where_words_are_parts(pool):
    words = browse.count(pool, browse.Filter(text="cat"))
    substrings = browse.count(pool, browse.Filter(text="cat", match="substring"))
    assert words < substrings  # "category", "education" ... contain "cat"
    assert browse.count(pool, browse.Filter(text="cat*")) < substrings


def test_relevance_ranks_the_dense_short_match_first(ws):
    rows = [{"instruction": "Tell me about gardens", "response": "Gardens have many plants and trees. " * 20},
            {"instruction": "Tomato", "response": "A tomato is a fruit. Tomato plants love sun. Tomato!"},
            {"instruction": "Cooking", "response": "Add one tomato to the long sauce, then simmer. " + "Stir. " * 60},
            {"instruction": "Nothing", "response": "No match here."}]
    path = ws.root / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    importer.import_source(ws, str(path))
    flt = browse.Filter(text="tomato")
    table = browse.page(ws, flt, order="relevance")
    assert table["prompt"].tolist() == ["Tomato", "Cooking"]
    assert browse.page(ws, browse.Filter(), order="relevance")["row"].tolist() == [1, 2, 3, 4]  # no search: rows
    by_row = browse.page(ws, flt, order="row")
    assert by_row["prompt"].tolist() == ["Tomato", "Cooking"]  # rows 2 and 3, in row order as well


def test_relevance_pages_with_a_decision_filter_cover_every_match_once(pool):
    from curation.workspace import decisions

    ids = samples.ids(pool)
    decisions.record(pool, ids[::3], "approve")
    flt = browse.Filter(text="the", statuses=("pending",))
    total = browse.count(pool, flt)
    pages = [browse.page(pool, flt, offset=o, limit=101, order="relevance") for o in range(0, total + 101, 101)]
    seen = [sid for page in pages for sid in page["id"]]
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == set(browse.matching_ids(pool, flt))
    decisions.record(pool, ids[::3], "clear")


def test_imports_keep_the_index_in_step(tmp_path):
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 300)))
    before = browse.count(ws, browse.Filter(text="the"))
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a2.jsonl", 300)))  # same rows again
    assert browse.count(ws, browse.Filter(text="the")) == before
    extra = tmp_path / "b.jsonl"
    extra.write_text(json.dumps({"instruction": "Name a xylophonist", "response": "Lionel Hampton."}) + "\n")
    importer.import_source(ws, str(extra))
    assert browse.count(ws, browse.Filter(text="xylophonist")) == 1
    assert browse.count(ws, browse.Filter(text="hampton")) == 1
    search_index.check(ws)  # FTS5's own integrity check: index and texts agree
    ws.close()


def _forget_index_file(root) -> None:
    for suffix in ("", "-wal", "-shm"):
        (root / f"{search_index.FILE}{suffix}").unlink(missing_ok=True)


def test_a_workspace_from_before_the_index_gets_it_on_open(tmp_path):
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 200)))
    expected = set(browse.matching_ids(ws, browse.Filter(text="the water", match="substring")))
    path = ws.db_path
    ws.close()
    conn = sqlite3.connect(path)  # back to schema 4: no index at all, nor what later migrations made
    conn.execute("DROP INDEX samples_row")
    conn.execute("DROP TABLE evaluation_models")  # migrations 6 and 7
    conn.execute("DROP TABLE evaluations")
    conn.execute("DROP INDEX decisions_origin")  # migration 8
    conn.execute("DROP INDEX decisions_batch")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    _forget_index_file(tmp_path / "ws")
    again = Workspace(tmp_path / "ws")
    assert again.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'samples_fts'") == 0  # 5 made, 9 dropped
    assert search_index.indexed_upto(again.connect()) is None
    search_index.check(again)
    words = set(browse.matching_ids(again, browse.Filter(text="the water")))
    assert words == _words_reference(again, "the water") and words <= expected
    again.close()


def test_a_workspace_with_the_index_inside_its_database_moves_it_to_its_own_file(tmp_path):
    """Schema 8 kept the index in the workspace's database, with a kv mark while it caught up."""
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 120)))
    ws.close()
    from curation.workspace.tables import MIGRATIONS

    conn = sqlite3.connect(tmp_path / "ws" / "curation.sqlite")
    conn.executescript(MIGRATIONS[4].split("-- deep pages")[0])  # migration 5's index, built in the database
    conn.execute("INSERT INTO kv(key, value) VALUES ('search.indexed_upto', '60')")
    conn.execute("PRAGMA user_version = 8")
    conn.commit()
    conn.close()
    _forget_index_file(tmp_path / "ws")
    again = Workspace(tmp_path / "ws")
    assert again.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'samples_fts%'") == 0
    assert again.get_setting("search.indexed_upto") is None and again.schema_version == 9
    assert search_index.indexed_upto(again.connect()) is None
    search_index.check(again)
    assert set(browse.matching_ids(again, browse.Filter(text="water"))) == _words_reference(again, "water")
    again.close()


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_a_lost_or_unreadable_index_file_is_rebuilt_when_the_workspace_opens(tmp_path, damage):
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 150)))
    before = set(browse.matching_ids(ws, browse.Filter(text="the")))
    ws.close()
    _forget_index_file(tmp_path / "ws")
    if damage == "garbage":
        (tmp_path / "ws" / search_index.FILE).write_bytes(b"\x00not a database\xff" * 300)
    again = Workspace(tmp_path / "ws")
    search_index.check(again)
    assert set(browse.matching_ids(again, browse.Filter(text="the"))) == before == _words_reference(again, "the")
    again.close()


def test_check_finds_an_index_that_differs_from_the_texts(tmp_path):
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 40)))
    search_index.check(ws)
    writer = search_index.writer(ws)
    writer.execute("INSERT INTO samples_fts(rowid, prompt, response) VALUES (7, 'xylophone', '')")  # a stray entry
    writer.close()
    with pytest.raises(sqlite3.DatabaseError, match="differs from the samples"):
        search_index.check(ws)
    search_index.rebuild(ws)
    search_index.check(ws)
    assert browse.count(ws, browse.Filter(text="xylophone")) == 0
    ws.close()


def test_search_syntax_in_a_term_is_text_not_a_query(pool):
    for text in ('"', "a\"b", "(", "*", "NEAR(", "-x", "^the", "the:"):
        flt = browse.Filter(text=text)
        assert set(browse.matching_ids(pool, flt)) == _words_reference(pool, text), text


def test_migration_five_is_the_index():
    from curation.workspace.tables import MIGRATIONS

    statements = _statements(MIGRATIONS[4])
    assert any("fts5" in s for s in statements) and any("'rebuild'" in s for s in statements)


def test_deep_pages_in_row_order_skip_over_a_narrow_index(pool):
    plan = " ".join(str(tuple(r)) for r in pool.query(
        "EXPLAIN QUERY PLAN SELECT s.rowid FROM samples s ORDER BY s.rowid LIMIT 50 OFFSET 1000"))
    assert "COVERING INDEX samples_row" in plan
    deep = browse.page(pool, browse.Filter(), offset=1950, limit=50)
    assert deep["row"].tolist() == list(range(1951, 2001))


def test_the_index_catches_up_after_the_import_commits_and_search_misses_nothing_meanwhile(tmp_path, monkeypatch):
    """When the index built beside the merge cannot be used (here: it was told the wrong last rowid), the
    import commits its rows and indexes them from `samples` in chunks of their own; a catch-up killed between
    chunks leaves a mark. Meanwhile the rows above the mark are searched by substring (a superset of their word
    matches), the indexed ones by word; the next import (or catch_up) finishes the index, which then answers
    exactly as Python's tokenizing does, and FTS5's integrity check passes at every step."""
    ws = Workspace(tmp_path / "ws")
    chunks = []

    def killed_after_two(done, total, message):
        chunks.append(done)
        if done == 140:
            raise KeyboardInterrupt  # as a kill between two chunk transactions

    class OffByOne(imports.StageIndexer):
        def __init__(self, ws_, stage, after_rowid):
            super().__init__(ws_, stage, after_rowid + 1)

    monkeypatch.setattr(imports, "StageIndexer", OffByOne)
    real = search_index.catch_up
    monkeypatch.setattr(search_index, "catch_up", lambda ws_, progress=None: real(
        ws_, progress=killed_after_two, rows_per_transaction=70))
    with pytest.raises(KeyboardInterrupt):
        importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 300)))
    assert samples.count(ws) == 300  # the rows were committed before the indexing began
    upto = search_index.indexed_upto(ws.connect())
    assert upto == 140 and chunks == [0, 70, 140]
    search_index.check(ws)
    version = browse.version(ws)
    assert browse.unindexed_samples(ws) == 160

    frame = samples.frame(ws)
    rowid_of = {sid: i + 1 for i, sid in enumerate(frame["id"])}  # the pool's first import: rowids 1..300
    for text in ("the water", "capit*", "python", "e-mail the"):
        words = _words_reference(ws, text)
        like = _like_reference(ws, text)
        expected = {sid for sid in words if rowid_of[sid] <= upto} | {sid for sid in like if rowid_of[sid] > upto}
        assert set(browse.matching_ids(ws, browse.Filter(text=text))) == expected, text
        assert browse.count(ws, browse.Filter(text=text)) == len(expected)
    table = browse.page(ws, browse.Filter(text="the"), order="relevance", limit=500)
    assert table["row"].tolist() == sorted(table["row"])  # no rank above the mark yet: row order

    monkeypatch.setattr(search_index, "catch_up", real)
    monkeypatch.setattr(imports, "StageIndexer", stage_indexer.StageIndexer)
    extra = tmp_path / "b.jsonl"
    extra.write_text(json.dumps({"instruction": "Name a xylophonist", "response": "Lionel Hampton."}) + "\n")
    importer.import_source(ws, str(extra))  # its merge keeps the lower mark; its catch-up indexes both
    assert search_index.indexed_upto(ws.connect()) is None and browse.unindexed_samples(ws) == 0
    assert browse.version(ws) != version
    search_index.check(ws)
    for text in ("the water", "capit*", "python", "xylophonist"):
        assert set(browse.matching_ids(ws, browse.Filter(text=text))) == _words_reference(ws, text), text
    ws.close()


def test_an_index_built_for_another_result_than_the_merge_committed_is_rolled_back(tmp_path, monkeypatch):
    """The builder's result is checked against the committed merge (count and last sample); on a mismatch its
    entries are dropped, not kept beside the catch-up's (the check would find every row twice)."""

    class Mistaken(stage_indexer.StageIndexer):
        def _build(self):
            super()._build()
            if self._built is not None:
                self._built = (self._built[0], "some other sample")

    monkeypatch.setattr(imports, "StageIndexer", Mistaken)
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 90)))
    assert search_index.indexed_upto(ws.connect()) is None
    search_index.check(ws)
    assert set(browse.matching_ids(ws, browse.Filter(text="the"))) == _words_reference(ws, "the")
    ws.close()


def test_a_failed_merge_leaves_the_index_as_it_was(tmp_path):
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 50)))
    with ws.transaction() as tx:  # the merge's insert fails part-way, after the builder has started
        tx.execute("CREATE TRIGGER boom BEFORE INSERT ON samples WHEN NEW.prompt LIKE '%xylophonist%'"
                   " BEGIN SELECT RAISE(ABORT, 'boom'); END")
    rows = [{"instruction": f"Question {i}", "response": f"Answer {i}"} for i in range(30)]
    rows.insert(20, {"instruction": "Name a xylophonist", "response": "Lionel Hampton."})
    extra = tmp_path / "b.jsonl"
    extra.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(sqlite3.IntegrityError, match="boom"):
        importer.import_source(ws, str(extra))
    assert samples.count(ws) == 50 and search_index.indexed_upto(ws.connect()) is None
    search_index.check(ws)  # no entry of the failed import's rows
    with ws.transaction() as tx:
        tx.execute("DROP TRIGGER boom")
    importer.import_source(ws, str(extra))
    assert samples.count(ws) == 81 and browse.count(ws, browse.Filter(text="xylophonist")) == 1
    assert set(browse.matching_ids(ws, browse.Filter(text="answer"))) == _words_reference(ws, "answer")
    search_index.check(ws)
    ws.close()


def test_the_index_is_built_beside_the_merge_and_decisions_never_wait_for_it(tmp_path):
    """While the builder holds the index's write lock, the workspace's own writers (a decision) go ahead."""
    ws = Workspace(tmp_path / "ws")
    importer.import_source(ws, str(write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 30)))
    writer = search_index.writer(ws)
    writer.execute("BEGIN IMMEDIATE")  # as a builder mid-way through a large import
    try:
        first = samples.frame(ws)["id"].iloc[0]
        from curation.workspace import decisions

        decisions.record(ws, [first], "approve")
        assert ws.scalar("SELECT status FROM sample_state WHERE sample_id = ?", (first,)) == "approved"
        assert browse.count(ws, browse.Filter(text="the")) == len(_words_reference(ws, "the"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    ws.close()
