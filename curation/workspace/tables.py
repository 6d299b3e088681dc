"""Database schema as an ordered list of migrations. Never edit a shipped migration: append a new one."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the foundation
    """
    CREATE TABLE imports (
        import_id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,            -- file path, folder or hub name as given
        schema TEXT NOT NULL,
        rows_read INTEGER NOT NULL,
        rows_imported INTEGER NOT NULL,  -- valid rows, duplicates included
        new_samples INTEGER NOT NULL,
        duplicates INTEGER NOT NULL,     -- valid rows that collapsed into an existing sample
        skipped INTEGER NOT NULL,
        problems TEXT NOT NULL,          -- JSON: {"counts": {kind: n}, "first": [{line, kind, message}]}
        created REAL NOT NULL
    );
    -- rowid is the sample's dense row index into array files (row = rowid - 1); samples are never deleted
    CREATE TABLE samples (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,         -- content hash (curation.records.content_id)
        record TEXT NOT NULL,            -- JSON (curation.records.record_to_json)
        prompt TEXT NOT NULL,            -- last user turn, for search and display
        response TEXT NOT NULL,          -- last assistant turn
        n_turns INTEGER NOT NULL,
        prompt_chars INTEGER NOT NULL,
        response_chars INTEGER NOT NULL,
        source TEXT NOT NULL,            -- first occurrence: file (or hub name)
        line INTEGER NOT NULL,           -- first occurrence: line (JSONL) or row (others), 1-based
        import_id INTEGER NOT NULL REFERENCES imports(import_id),
        dup_count INTEGER NOT NULL DEFAULT 1,  -- occurrences of this exact content across imports
        created REAL NOT NULL
    );
    CREATE INDEX samples_source ON samples(source);
    -- every occurrence, so re-importing a file adds nothing and duplicates can be traced to their lines
    CREATE TABLE occurrences (
        sample_id TEXT NOT NULL,
        source TEXT NOT NULL,
        pos INTEGER NOT NULL,            -- ordinal of the row in its source (lines of a JSON array can repeat)
        line INTEGER NOT NULL,           -- where to look: file line, or row number
        import_id INTEGER NOT NULL,
        PRIMARY KEY (source, pos)
    ) WITHOUT ROWID;
    CREATE INDEX occurrences_sample ON occurrences(sample_id);

    -- decisions: an append-only event log; sample_state is its fold, kept in the same transaction
    CREATE TABLE decisions (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        sample_id TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('approve','reject','pin','unpin','clear','undo')),
        origin TEXT NOT NULL,            -- 'human', 'dedup', 'method:<name>', ...
        reason TEXT NOT NULL DEFAULT '',
        undoes INTEGER REFERENCES decisions(event_id),  -- for action = 'undo'
        batch TEXT,                      -- events written together (a bulk action) share a batch id
        actor TEXT NOT NULL DEFAULT '',
        time REAL NOT NULL
    );
    CREATE INDEX decisions_sample ON decisions(sample_id, event_id);
    CREATE INDEX decisions_undoes ON decisions(undoes);
    CREATE TABLE sample_state (
        sample_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,            -- 'pending' | 'approved' | 'rejected'
        pinned INTEGER NOT NULL,
        last_event INTEGER NOT NULL,
        reason TEXT NOT NULL,
        origin TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        method TEXT NOT NULL,
        config TEXT NOT NULL,            -- JSON of the method's frozen dataclass config
        budget TEXT NOT NULL,            -- JSON {"kind": "samples"|"percent"|"tokens", "value": ...}
        seed INTEGER NOT NULL,
        models TEXT NOT NULL,            -- JSON {"scorer": ..., "embedder": ...}
        pool_hash TEXT NOT NULL,
        status TEXT NOT NULL,            -- 'created' | 'running' | 'done' | 'failed' | 'cancelled'
        error TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        finished REAL
    );
    CREATE TABLE iterations (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        iteration INTEGER NOT NULL,
        selected TEXT NOT NULL,          -- JSON list of sample ids in pick order
        metrics TEXT NOT NULL,           -- JSON: vendi, mean response length, training loss, ...
        checkpoint TEXT NOT NULL DEFAULT '',
        scores_path TEXT NOT NULL DEFAULT '',  -- parquet of every sample's score components
        created REAL NOT NULL,
        PRIMARY KEY (run_id, iteration)
    );

    CREATE TABLE jobs (
        job_id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,            -- JSON
        status TEXT NOT NULL,            -- 'queued' | 'running' | 'done' | 'failed' | 'cancelled'
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        result TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        worker_pid INTEGER,
        heartbeat REAL,
        created REAL NOT NULL,
        started REAL,
        finished REAL
    );

    -- per-sample model scores keyed by the weights and the scoring setup (curation.model.store)
    CREATE TABLE sample_scores (
        model_key TEXT NOT NULL,         -- the weights: base model + checkpoint name + weights hash
        setup TEXT NOT NULL,             -- hash of what else changes a score: template, max length, version
        sample_id TEXT NOT NULL,
        status TEXT NOT NULL,            -- 'ok' or why it is unscorable ('truncated', 'empty_response')
        truncated INTEGER NOT NULL DEFAULT 0,  -- 1 when the response's tail was cut (scored on the rest)
        nll REAL, n_tokens INTEGER, ppl REAL,  -- response-only mean NLL given the instruction
        nll_direct REAL, n_tokens_direct INTEGER, ppl_direct REAL,  -- the response alone (for IFD)
        ifd REAL,                        -- ppl / ppl_direct
        mean_max_logit REAL, margin REAL, entropy REAL,
        created REAL NOT NULL,
        PRIMARY KEY (model_key, setup, sample_id)
    ) WITHOUT ROWID;

    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    """,
    # 2: the Data page orders by response length (both ways, ties by row): without these every rerun sorts the pool
    """
    CREATE INDEX samples_response_chars ON samples(response_chars, rowid);
    CREATE INDEX samples_response_chars_desc ON samples(response_chars DESC, rowid);
    """,
    # 3: a run's lease (curation.workspace.run_lease): one runner at a time; a dead owner's run reads as interrupted
    """
    ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE runs ADD COLUMN owner_host TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN owner_since REAL;
    ALTER TABLE runs ADD COLUMN heartbeat REAL;
    """,
    # 4: every decision names its actor ("app:<tab>", "cli:<user>", "dedup", ...); undo takes back the actor's own
    """
    UPDATE decisions SET actor = 'legacy' WHERE actor = '';
    CREATE INDEX decisions_actor ON decisions(origin, actor, event_id);
    """,
    # 5: full-text search (curation.workspace.search_index): an index over samples' texts, built here for the rows a
    # workspace already has; the importer indexes each new sample in the transaction that inserts it
    """
    CREATE VIRTUAL TABLE samples_fts USING fts5(prompt, response, content='samples', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 0');
    INSERT INTO samples_fts(samples_fts) VALUES('rebuild');
    -- deep pages in row order: a narrow covering index to skip over (the table's own b-tree holds every text)
    CREATE INDEX samples_row ON samples(rowid);
    """,
    # 6: evaluating a selection (curation.evaluation): one row per evaluation, one per fine-tuned model, written the
    # moment that model is scored, so a resumed evaluation skips every finished model
    """
    CREATE TABLE evaluations (
        evaluation_id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        iteration INTEGER NOT NULL,
        config TEXT NOT NULL,            -- JSON of curation.evaluation.EvaluateConfig
        heldout TEXT NOT NULL,           -- JSON: where the held-out set came from, its size, rows left out and why
        status TEXT NOT NULL,            -- 'created' | 'running' | 'done' | 'failed' | 'cancelled'
        error TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        finished REAL
    );
    CREATE TABLE evaluation_models (
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(evaluation_id),
        role TEXT NOT NULL CHECK (role IN ('selection','random','in_run','base')),
        subset_index INTEGER NOT NULL,   -- the random subset (0 for the others)
        seed INTEGER NOT NULL,           -- the training seed (0 for models not trained here)
        n_train INTEGER NOT NULL,        -- samples trained on
        n_tokens INTEGER NOT NULL,       -- tokens that carried loss in one pass over them
        skipped INTEGER NOT NULL,        -- rows of the subset left out because they cannot be trained at max_length
        heldout_loss REAL,               -- mean over the held-out rows every model could be scored on
        losses_path TEXT NOT NULL,       -- .npy of per-sample held-out losses (NaN: unscorable), workspace-relative
        seconds REAL NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (evaluation_id, role, subset_index, seed)
    ) WITHOUT ROWID;
    """,
    # 7: a model another evaluation here already trained and scored (same rows, settings, seed and held-out set,
    # hashed into its fingerprint) is reused instead of retrained, e.g. the random subsets every run of one budget
    # is compared with
    """
    ALTER TABLE evaluation_models ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
    ALTER TABLE evaluation_models ADD COLUMN reused_from INTEGER;  -- the evaluation that trained it, if not this
    CREATE INDEX evaluation_models_fingerprint ON evaluation_models(fingerprint);
    """,
    # 8: undo at a million decisions: a tool's latest action found by origin alone, and a bulk action's events by
    # their batch, each through an index instead of a scan of the whole log
    """
    CREATE INDEX decisions_origin ON decisions(origin, event_id);
    CREATE INDEX decisions_batch ON decisions(batch);
    """,
    # 9: the full-text index moves to a file of its own (curation.workspace.search_index: its own write lock, so an
    # import indexes on the other core while it merges); the workspace builds that file when it opens
    """
    DROP TABLE IF EXISTS samples_fts;
    DELETE FROM kv WHERE key = 'search.indexed_upto';
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
