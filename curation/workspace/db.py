"""The workspace: one folder with a SQLite database (WAL), its search index's database and array files.

Several processes (the Streamlit server, a CLI command, the job worker) may write at once. SQLite's WAL mode
plus `BEGIN IMMEDIATE` transactions and a generous busy timeout serialise the writers without losing anything;
readers never block. Each thread gets its own connection (Streamlit runs scripts on many threads).
"""

from __future__ import annotations

from typing import Any
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from curation.errors import CurationError
from curation.workspace import leftovers, search_index
from curation.workspace.tables import MIGRATIONS, SCHEMA_VERSION

DEFAULT_WORKSPACE = "workspace"
BUSY_TIMEOUT_S = 60.0


class Workspace:
    """A curation workspace folder. Cheap to construct; opens connections lazily, one per thread."""

    busy_timeout_s = BUSY_TIMEOUT_S

    def __init__(self, root: str | os.PathLike[str] = DEFAULT_WORKSPACE, *, create: bool = True):
        self.root = Path(root).resolve()
        self.db_path = self.root / "curation.sqlite"
        if self.root.exists() and not self.root.is_dir():
            raise CurationError(f"{self.root} is a file, not a workspace folder")
        if not create and not self.db_path.is_file():  # a typo must not leave an empty workspace behind
            raise CurationError(f"no workspace at {self.root}")
        self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        new_index = search_index.create(self.root, self.busy_timeout_s)  # first: every connection attaches it
        try:
            self._migrate()
        except sqlite3.DatabaseError as exc:  # garbage bytes, a truncated file, an unreadable folder
            self.close()
            raise CurationError(f"{self.db_path} is not a curation workspace database ({exc})") from None
        leftovers.clean(self.root)  # what killed imports and writes left behind
        if new_index:  # a workspace from before the index had its own file, or a lost file: built from samples
            search_index.catch_up(self)

    # -- paths ------------------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        """A path inside the workspace, with its parent folder created."""
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    # -- connections ------------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path.as_uri(), timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across crashes of the app; WAL keeps it consistent
            conn.execute("PRAGMA foreign_keys=ON")
            # read-only: this connection's BEGIN IMMEDIATE then locks the workspace alone, never the index
            conn.execute("ATTACH DATABASE ? AS search",
                         (search_index.read_only_uri(self.root / search_index.FILE),))
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: taken with BEGIN IMMEDIATE so concurrent writers queue instead of failing."""
        conn = self.connect()
        if conn.in_transaction:  # nested use joins the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.connect().execute(sql, params).fetchall()

    def scalar(self, sql: str, params: tuple | dict = ()) -> Any:
        row = self.connect().execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- key/value settings -----------------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM kv WHERE key = ?", (key,))
        return default if value is None else value

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                         (key, value))

    # -- migrations -------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return int(self.connect().execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        conn = self.connect()
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise CurationError(
                f"workspace {self.root} has schema version {version}, newer than this curation "
                f"({SCHEMA_VERSION}); upgrade curation"
            )
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.schema_version  # another process may have migrated meanwhile
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    out, buf = [], []
    for line in script.splitlines():
        code = line.split("--", 1)[0]
        buf.append(code)
        if code.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if sqlite3.complete_statement(stmt):
                out.append(stmt)
                buf = []
    tail = "\n".join(buf).strip()
    if tail:
        out.append(tail)
    return out
