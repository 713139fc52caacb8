"""The shelf store in one SQLite file: the default, embedded, for one machine.

One connection shared by the process's threads (`asyncio.to_thread` calls) under a lock.
The file runs in WAL mode (readers do not block the writer) and keeps its schema version
in `PRAGMA user_version`. Every write transaction starts with `BEGIN IMMEDIATE`: it takes
the file's write lock before reading anything, so two processes on one file queue
(waiting up to `BUSY_SECONDS`) instead of failing on a stale snapshot.

Plain `sqlite3`, not sqlite-utils: the statements are `engine.stores.sql`'s, shared with
PostgreSQL, so a second way to write them for SQLite alone would be a second contract.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

from ..errors import ShelfStoreError
from .schema import pending_migrations
from .sql import SqlShelfStore

BUSY_SECONDS = 10.0  # how long a statement waits for another process's write lock
# SQLite's primary result codes (`sqlite3.Error.sqlite_errorcode & 0xFF`) that get their own words.
_READONLY, _CANTOPEN, _BUSY = 8, 14, 5


class SqliteShelfStore(SqlShelfStore):
    """All readers' shelves in one SQLite file.

    Args:
        path: The database file (created with its folder if missing); ":memory:" for tests.
        readonly: Open read-only: no migration, no write check, nothing created.
    """

    NOW = "((julianday('now') - 2440587.5) * 86400.0)"
    TIEBREAK = "rowid"  # insertion order, as the file always listed a shelf
    errors = (sqlite3.Error,)

    def __init__(self, path: str | Path, *, readonly: bool = False):
        super().__init__()
        self.path = self.location = str(path)
        self._lock = threading.RLock()
        try:
            if readonly:
                self._conn = sqlite3.connect(f"file:{quote(self.path)}?mode=ro", uri=True, check_same_thread=False,
                                             timeout=BUSY_SECONDS, isolation_level=None)
            else:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_SECONDS,
                                             isolation_level=None)  # transactions are begun here, explicitly
        except (OSError, sqlite3.Error) as exc:
            raise ShelfStoreError(f"{self.path}: cannot open the shelf database ({exc})") from None
        try:
            with self._lock:
                if not readonly:
                    self._wal()
                    self._conn.execute("PRAGMA synchronous=NORMAL")
                self._open(readonly)
        except sqlite3.Error as exc:
            self._conn.close()
            raise ShelfStoreError(self._describe(exc)) from None
        except ShelfStoreError:
            self._conn.close()
            raise

    def _describe(self, exc: sqlite3.Error) -> str:
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code == _READONLY or "readonly" in str(exc):
            return (f"{self.path}: the shelf database is read-only here ({exc}); rarereads writes to it: give this "
                    "user write access to the file and its folder, or point RAREREADS_DB elsewhere")
        if code == _CANTOPEN:
            return f"{self.path}: cannot open the shelf database ({exc}); check the file and its folder"
        if code == _BUSY:
            return f"{self.path}: another process kept the shelf database locked too long ({exc}); try again"
        return f"{self.path}: not a usable shelf database ({exc}); move it aside to start a new one"

    def _wal(self, patience: float = BUSY_SECONDS) -> None:
        """Switch to WAL; the switch needs the file alone for a moment and does not wait by itself."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def journal_mode(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # --- SqlShelfStore's hooks --------------------------------------------------------------

    def _read_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """The version is read again inside a write transaction (BEGIN IMMEDIATE), so a second
        opener waits for the first one's migration and then finds nothing left to do."""
        version = self._read_version()
        if not pending_migrations(version, self.path):
            self._version = version
            return
        with self._transaction() as x:
            version = int(x.execute("PRAGMA user_version").fetchone()[0])
            for number, statements in pending_migrations(version, self.path):
                for sql in statements:
                    x.execute(sql)
                x.execute(f"PRAGMA user_version = {number}")
        self._version = self._read_version()

    @contextlib.contextmanager
    def _transaction(self):
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def _reading(self):
        with self._lock:
            yield self._conn

    @contextlib.contextmanager
    def _snapshot(self):
        with self._lock:
            self._conn.execute("BEGIN")  # deferred: one read snapshot (WAL), no write lock
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
