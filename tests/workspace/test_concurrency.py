"""Two processes writing one workspace at once (the app and a CLI job): nothing lost, nothing corrupted."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap

from curation.formats import importer
from curation.workspace import decisions, samples
from tests.shared_data import ROOT as REPO_ROOT, DOLLY, write_jsonl_head

ROOT = str(REPO_ROOT)

DECIDER = textwrap.dedent("""
    import sys
    from curation.workspace import Workspace, decisions
    ws = Workspace(sys.argv[1])
    ids = sys.argv[2].split(",")
    for i, sid in enumerate(ids):  # one transaction per decision, like clicks in the app
        decisions.record(ws, [sid], "approve" if i % 2 else "reject", actor=sys.argv[3])
""")


def test_two_processes_write_at_once(ws, tmp_path):
    importer.import_source(ws, write_jsonl_head(DOLLY, tmp_path / "a.jsonl", 400))
    ids = samples.ids(ws)
    big = write_jsonl_head(DOLLY, tmp_path / "b.jsonl", 4000)
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [
        subprocess.Popen([sys.executable, "-c", DECIDER, str(ws.root), ",".join(ids[:200]), "p1"], env=env),
        subprocess.Popen([sys.executable, "-c", DECIDER, str(ws.root), ",".join(ids[200:]), "p2"], env=env),
        subprocess.Popen([sys.executable, "-m", "curation", "--workspace", str(ws.root), "import", str(big)],
                         env=env, cwd=ROOT, stdout=subprocess.DEVNULL),
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    assert len(decisions.events(ws)) == 400
    assert decisions.counts(ws)["approved"] == 200 and decisions.counts(ws)["rejected"] == 200
    # every row of both imports is accounted for: 400 + 4000 occurrences
    assert sum(r[0] for r in ws.query("SELECT dup_count FROM samples")) == 4400
    assert ws.scalar("SELECT COUNT(*) FROM occurrences WHERE source LIKE '%b.jsonl'") == 4000
    assert sqlite3.connect(ws.db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
