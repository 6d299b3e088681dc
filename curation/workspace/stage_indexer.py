"""An import's search index, built from its stage on another core while the merge writes the samples.

The merge inserts each new content's first row in stage order, so the samples it adds get the rowids after the
workspace's last one, in that order; the index can therefore be built from the stage itself, beside the merge,
instead of from `samples` after it (FTS5 tokenizing is one core's work: about 50 s at a million rows). sqlite3
releases the GIL while a statement runs, so a thread is enough.

The thread's transaction on the index's own file commits only once the merge has committed and its result is the
one the index was built for (the same count of new samples and the same last one); otherwise it rolls back and
the importer catches up from `samples` as before. A crash in between leaves the index behind the samples, which
`search_index` handles (the rows above its mark are searched by substring until the next catch-up).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from curation.workspace import search_index
from curation.workspace.db import Workspace


class StageIndexer:
    """Index the stage's new contents as rowids `after_rowid + 1, ...`. Construct it inside the merge's
    transaction before the merge inserts anything (it waits until its snapshot of the samples is taken)."""

    def __init__(self, ws: Workspace, stage: Path, after_rowid: int):
        self._after = int(after_rowid)
        self._conn = search_index.writer(ws)
        self._conn.execute("ATTACH DATABASE ? AS stage", (search_index.read_only_uri(stage),))
        self._built: tuple[int, str | None] | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._snapshot = threading.Event()
        self._thread = threading.Thread(target=self._build, name="search-index", daemon=True)
        self._thread.start()
        self._snapshot.wait()

    def _build(self) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN")
            # the first read fixes this transaction's snapshot: the samples as they were before the merge
            ahead = conn.execute("SELECT COUNT(*) FROM ws.samples WHERE rowid > ?", (self._after,)).fetchone()[0]
            self._snapshot.set()
            if ahead:
                raise RuntimeError("the workspace gained samples after the merge's last rowid")
            conn.execute("CREATE TEMP TABLE new_rows (k INTEGER PRIMARY KEY, pos INTEGER NOT NULL)")
            conn.execute("INSERT INTO temp.new_rows(pos) SELECT f.pos FROM stage.firsts f JOIN stage.staged s"
                         " ON s.pos = f.pos WHERE s.id NOT IN (SELECT id FROM ws.samples) ORDER BY f.pos")
            conn.execute("COMMIT")  # done with the workspace: holding its snapshot would stall its checkpoint
            if self._stop.is_set():
                raise RuntimeError("abandoned")
            conn.execute("BEGIN IMMEDIATE")
            if int(conn.execute("SELECT upto FROM state").fetchone()[0]) != self._after:
                raise RuntimeError("the search index is not at the merge's last rowid")
            conn.execute("INSERT INTO samples_fts(rowid, prompt, response) SELECT ? + n.k, s.prompt, s.response"
                         " FROM temp.new_rows n JOIN stage.staged s ON s.pos = n.pos ORDER BY n.k", (self._after,))
            count = int(conn.execute("SELECT COUNT(*) FROM temp.new_rows").fetchone()[0])
            last = conn.execute("SELECT s.id FROM temp.new_rows n JOIN stage.staged s ON s.pos = n.pos"
                                " ORDER BY n.k DESC LIMIT 1").fetchone()
            conn.execute("UPDATE state SET upto = ?", (self._after + count,))
            self._built = (count, None if last is None else str(last[0]))
        except BaseException as exc:  # reported by finish(); the importer then catches up instead
            self._error = exc
        finally:
            self._snapshot.set()

    def finish(self, new_samples: int, last_id: str | None) -> bool:
        """After the merge committed `new_samples` samples, the last one `last_id`: wait for the index and
        commit it if it holds exactly those, else roll it back. True when committed."""
        self._thread.join()
        ok = self._error is None and self._built == (int(new_samples), last_id)
        self._end(commit=ok)
        return ok

    def abandon(self) -> None:
        """The merge failed: stop building and leave the index as it was."""
        self._stop.set()
        self._conn.interrupt()
        self._thread.join()
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self._conn.close()
