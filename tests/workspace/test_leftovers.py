"""Crash leftovers: opening a workspace removes abandoned import staging files and partial atomic-write temp
files inside it, and never a live import's stage, a fresh file, or anything outside the workspace."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from curation.records import Message, Record
from curation.workspace import Workspace, imports

OLD = time.time() - 3 * 3600  # well past the safe age


def _aged(path, when: float = OLD):
    os.utime(path, (when, when))
    return path


def test_opening_cleans_abandoned_stages_and_temp_files(tmp_path):
    root = tmp_path / "ws"
    Workspace(root).close()
    dead = root / "tmp" / "import-dead.sqlite"  # a killed import: 56 MB in the real case
    dead.parent.mkdir(parents=True, exist_ok=True)
    dead.write_bytes(b"x" * 4096)
    _aged(dead)
    dead_journal = root / "tmp" / "import-dead.sqlite-journal"
    dead_journal.write_bytes(b"j")
    _aged(dead_journal)
    fresh = root / "tmp" / "import-fresh.sqlite"  # just started by an import that has not locked it yet
    fresh.write_bytes(b"y")
    exports = root / "exports"
    exports.mkdir()
    partial = exports / ".curated.jsonl.k2j3h4.tmp"
    partial.write_bytes(b"{}\n" * 100)
    _aged(partial)
    nested = root / "runs" / "3" / ".iteration_001_scores.parquet.ab12cd.tmp"
    nested.parent.mkdir(parents=True)
    nested.write_bytes(b"p")
    _aged(nested)
    writing = exports / ".big.parquet.zz9.tmp"  # a write in progress: recently touched
    writing.write_bytes(b"w")
    kept_names = [exports / "curated.jsonl", exports / "notes.tmp", exports / ".hidden"]
    for path in kept_names:
        path.write_bytes(b"mine")
        _aged(path)
    outside = tmp_path / ".elsewhere.jsonl.q1.tmp"  # beside the workspace, not in it
    outside.write_bytes(b"o")
    _aged(outside)

    Workspace(root).close()
    assert not dead.exists() and not dead_journal.exists()
    assert not partial.exists() and not nested.exists()
    assert fresh.exists() and writing.exists() and outside.exists()
    assert all(p.read_bytes() == b"mine" for p in kept_names)


def test_a_live_imports_stage_is_never_removed(tmp_path):
    root = tmp_path / "ws"
    ws = Workspace(root)
    stage = imports.Stage(ws.path("tmp", "import-live.sqlite"))
    stage.add(Record(messages=(Message("user", "q"), Message("assistant", "a"))), "f.jsonl", 1, 0)
    stage.flush()
    _aged(stage.path)
    Workspace(root).close()  # another open while the import is still parsing (same process)
    assert stage.path.exists()
    holder = textwrap.dedent(f"""
        import sys, time
        from curation.workspace import imports
        stage = imports.Stage({str(root / 'tmp' / 'import-other.sqlite')!r})
        print("ready", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        other = _aged(root / "tmp" / "import-other.sqlite")
        _aged(root / "tmp" / "import-other.sqlite.lock")  # an import running for hours
        Workspace(root).close()  # an import in another process
        assert other.exists()
    finally:
        proc.kill()
        proc.wait()
    Workspace(root).close()  # its process is gone: the stage is a leftover now
    assert not (root / "tmp" / "import-other.sqlite").exists()
    assert not (root / "tmp" / "import-other.sqlite.lock").exists()
    stage.close()
    ws.close()
