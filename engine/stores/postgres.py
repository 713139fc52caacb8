"""The shelf store in PostgreSQL: for several bot processes, on one machine or many.

psycopg 3 with a `psycopg_pool.ConnectionPool` (both the `postgres` extra, imported here
only, so the bot without them still runs on SQLite). Connections run in autocommit; a
write is one explicit transaction. The schema version sits in the table
`rarereads_schema`; migrations run inside a transaction holding an advisory lock, so
processes starting together against a new database take turns and the later ones find
nothing left to do.
"""
from __future__ import annotations

import contextlib
from functools import lru_cache
from urllib.parse import urlsplit

from ..errors import ShelfStoreError
from ..shelf import shown_location
from .schema import pending_migrations
from .sql import SqlShelfStore

MIGRATION_LOCK = 0x7261726572656164  # "rareread": the advisory lock key migrations hold
CONNECT_SECONDS = 10
_READ_ONLY_STATES = {"25006": "the database is read-only here", "42501": "this user may not write to it"}


@lru_cache(maxsize=None)
def _placeholders(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (the shared SQL has no other `?` or `%`)."""
    return sql.replace("?", "%s")


class _Executor:
    """A psycopg connection seen as `sqlite3.Connection` is: `execute` and `executemany` returning cursors."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(_placeholders(sql), tuple(params))

    def executemany(self, sql: str, rows):
        cursor = self.conn.cursor()
        cursor.executemany(_placeholders(sql), rows)
        return cursor


class PostgresShelfStore(SqlShelfStore):
    """All readers' shelves in a PostgreSQL database.

    Args:
        url: `postgresql://user:password@host:port/database` (any libpq URL); never shown
            with its password.
        readonly: Look only: no migration, no write check.
        pool_size: Most connections kept open.
    """

    NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"
    TIEBREAK = "work_key"

    def __init__(self, url: str, *, readonly: bool = False, pool_size: int = 10):
        super().__init__()
        self.location = shown_location(url)
        self._url = url
        self._pool = None
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ShelfStoreError(f"{self.location}: a PostgreSQL shelf store needs psycopg: "
                                  "pip install -e '.[postgres]'") from None
        self.errors = (psycopg.Error,)
        try:
            # A first connection of our own: its failure says why in one line, where a pool only times out.
            psycopg.connect(url, connect_timeout=CONNECT_SECONDS).close()
            self._pool = ConnectionPool(url, min_size=1, max_size=max(1, pool_size), open=False,
                                        kwargs={"autocommit": True, "connect_timeout": CONNECT_SECONDS},
                                        check=ConnectionPool.check_connection, name="rarereads-shelves")
            self._pool.open(wait=True, timeout=CONNECT_SECONDS)
            self._open(readonly)
        except psycopg.Error as exc:
            self.close()
            raise ShelfStoreError(self._describe(exc)) from None
        except BaseException:
            self.close()
            raise

    def _describe(self, exc) -> str:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        password = urlsplit(self._url).password
        if password:
            first = first.replace(password, "********")
        state = getattr(exc, "sqlstate", None)
        if state in _READ_ONLY_STATES:
            return (f"{self.location}: {_READ_ONLY_STATES[state]} ({first}); rarereads writes to its shelf store: "
                    "grant this user write access or point RAREREADS_DB elsewhere")
        if state is None:
            return f"{self.location}: cannot reach the PostgreSQL server ({first})"
        return f"{self.location}: not a usable shelf database ({first})"

    # --- SqlShelfStore's hooks --------------------------------------------------------------

    def _read_version(self) -> int:
        with self._reading() as x:
            if x.execute("SELECT to_regclass('rarereads_schema')").fetchone()[0] is None:
                return 0
            row = x.execute("SELECT version FROM rarereads_schema").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        if not pending_migrations(self._read_version(), self.location):
            self._version = self._read_version()
            return
        with self._transaction() as x:
            x.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))  # held until this transaction ends
            x.execute("CREATE TABLE IF NOT EXISTS rarereads_schema (version INTEGER NOT NULL)")
            row = x.execute("SELECT version FROM rarereads_schema").fetchone()
            if row is None:
                x.execute("INSERT INTO rarereads_schema (version) VALUES (0)")
            for number, statements in pending_migrations(int(row[0]) if row else 0, self.location):
                for sql in statements:
                    x.execute(sql)
                x.execute("UPDATE rarereads_schema SET version = ?", (number,))
        self._version = self._read_version()

    @contextlib.contextmanager
    def _transaction(self):
        with self._pool.connection() as conn, conn.transaction():
            yield _Executor(conn)

    @contextlib.contextmanager
    def _reading(self):
        with self._pool.connection() as conn:
            yield _Executor(conn)

    @contextlib.contextmanager
    def _snapshot(self):
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield _Executor(conn)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
