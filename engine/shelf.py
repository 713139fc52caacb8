"""Readers' shelves in SQLite: the books each chat user told us they liked.

Readers are `"<platform>:<user id>"` strings ("discord:1234", "local:ana"); every query
names the reader in a parameter, so one reader's commands can never touch another's
shelf. Entries are keyed by work key (`engine.normalize.work_key`), which survives
retrains, and keep the title the reader typed or picked.

The database runs in WAL mode (readers do not block the writer) and carries its schema
version in `PRAGMA user_version`; `MIGRATIONS` upgrades older files in order.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from .errors import ShelfStoreError
from .results import Work

# Terminal escape sequences (colours, cursor moves, window titles): removed whole, not just the ESC.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")


def printable(text: str) -> str:
    """`text` without terminal escape sequences, control characters (NUL included) or lone
    surrogates (undecodable bytes): what may be echoed to a terminal and stored."""
    text = _ESCAPES.sub("", str(text))
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text
                   if c in "\t\n" or unicodedata.category(c) != "Cc")


MIGRATIONS: list[tuple[str, ...]] = [  # each migration: its statements, run in one transaction
    # 1: shelves
    ("""
    CREATE TABLE entries (
        reader TEXT NOT NULL,
        work_key TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        rating INTEGER,
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (reader, work_key)
    )
    """,),
    # 2: list a shelf in the order books were added without a sort
    ("CREATE INDEX entries_by_added ON entries (reader, added_at)",),
    # 3: small facts the bot keeps between runs (e.g. which command list Discord has)
    ("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",),
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class ShelfEntry:
    """One book on a reader's shelf."""

    work_key: str
    title: str  # as the reader named it
    author: str
    rating: int | None  # the reader's own 1..5 rating, if given
    added_at: float  # Unix time
    updated_at: float


class ShelfStore:
    """All readers' shelves in one SQLite file.

    Safe to share between threads (`asyncio.to_thread` calls): one connection with
    `check_same_thread=False`, every use under a lock.

    Args:
        path: The database file (created with its folder if missing); ":memory:" for tests.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.RLock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise ShelfStoreError(f"{self.path}: cannot open the shelf database ({exc})") from None
        self.db = sqlite_utils.Database(self._conn)
        try:
            with self._lock:
                self._wal()
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.execute("PRAGMA foreign_keys=ON")
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ShelfStoreError(f"{self.path}: not a usable shelf database ({exc}); move it aside to start a new one") from None
        except ShelfStoreError:
            self._conn.close()
            raise

    def _wal(self, patience: float = 10.0) -> None:
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

    def _migrate(self) -> None:
        """Bring the file to `SCHEMA_VERSION`, safely when several processes open a new file at once.

        The version is read again inside a write transaction (BEGIN IMMEDIATE), so a second
        opener waits for the first one's migration and then finds nothing left to do.
        """
        if self.schema_version() == SCHEMA_VERSION:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise ShelfStoreError(f"{self.path} has shelf schema {version}, newer than this rarereads "
                                      f"(which knows up to {SCHEMA_VERSION}): upgrade rarereads to use it")
            for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
                for sql in statements:
                    self._conn.execute(sql)
                self._conn.execute(f"PRAGMA user_version = {number}")
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise

    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def journal_mode(self) -> str:
        return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    @staticmethod
    def _check(reader: str) -> str:
        platform, sep, user = str(reader).partition(":")
        if not (platform and sep and user):
            raise ValueError(f"reader must be 'platform:user_id', not {reader!r}")
        return reader

    # --- writes -----------------------------------------------------------------------

    def add(self, reader: str, work: Work, named_title: str | None = None, rating: int | None = None) -> bool:
        """Put `work` on `reader`'s shelf; returns False if it was there already (then the
        title and rating are updated)."""
        reader = self._check(reader)
        if rating is not None and not 1 <= int(rating) <= 5:
            raise ValueError("rating must be 1..5")
        now = time.time()
        title = printable(named_title or "").strip() or printable(work.title)
        author = printable(work.author)
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT INTO entries (reader, work_key, title, author, rating, added_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reader, work_key) DO NOTHING",
                (reader, work.key, title, author, rating, now, now))
            if cur.rowcount:
                return True
            self._conn.execute(
                "UPDATE entries SET title = ?, rating = COALESCE(?, rating), updated_at = ? "
                "WHERE reader = ? AND work_key = ?", (title, rating, now, reader, work.key))
            return False

    def remove(self, reader: str, work_key: str) -> bool:
        """Take a work off the shelf; False if it was not there."""
        reader = self._check(reader)
        with self._lock, self._conn:
            cur = self._conn.execute("DELETE FROM entries WHERE reader = ? AND work_key = ?", (reader, work_key))
            return cur.rowcount > 0

    def clear(self, reader: str) -> int:
        """Empty the reader's shelf; returns how many books were on it."""
        reader = self._check(reader)
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM entries WHERE reader = ?", (reader,)).rowcount

    def forget(self, reader: str) -> int:
        """Delete everything stored about the reader (today: the shelf)."""
        return self.clear(reader)

    # --- reads ------------------------------------------------------------------------

    def entries(self, reader: str, offset: int = 0, limit: int | None = None) -> list[ShelfEntry]:
        """The reader's books, oldest first."""
        reader = self._check(reader)
        with self._lock:
            rows = self._conn.execute(
                "SELECT work_key, title, author, rating, added_at, updated_at FROM entries "
                "WHERE reader = ? ORDER BY added_at, rowid LIMIT ? OFFSET ?",
                (reader, -1 if limit is None else int(limit), max(0, int(offset)))).fetchall()
        return [ShelfEntry(*row) for row in rows]

    def has(self, reader: str, work_key: str) -> bool:
        reader = self._check(reader)
        with self._lock:
            return self._conn.execute("SELECT 1 FROM entries WHERE reader = ? AND work_key = ?",
                                      (reader, work_key)).fetchone() is not None

    def count(self, reader: str) -> int:
        reader = self._check(reader)
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM entries WHERE reader = ?", (reader,)).fetchone()[0])

    def all_likes(self) -> list[tuple[str, str, int | None]]:
        """(reader, work key, rating) of every entry: shelves as extra training likes."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute(
                "SELECT reader, work_key, rating FROM entries ORDER BY reader, added_at")]

    def meta(self, key: str) -> str | None:
        """A fact the bot kept between runs, or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def n_readers(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(DISTINCT reader) FROM entries").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
