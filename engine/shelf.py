"""Readers' shelves in SQLite: the books each chat user read (and liked) or wants to read.

Readers are `"<platform>:<user id>"` strings ("discord:1234", "local:ana"); every query
names the reader in a parameter, so one reader's commands can never touch another's
shelf. Entries are keyed by work key (`engine.normalize.work_key`), which survives
retrains, keep the title the reader typed, picked or imported, and sit on one of two
shelves: READ (likes, the model's training signal) or WANT (to read). The same file keeps
what a reader said "not interested" to, the payloads behind the bots' buttons and a
reader's pending question (so both outlive a restart), and who shares a shelf with which
group (book-club mode). Text is stored only after `printable` has cleaned it.

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
    # 4: two lists per reader: books read (likes) and books they want to read
    ("ALTER TABLE entries ADD COLUMN shelf TEXT NOT NULL DEFAULT 'read'",
     "CREATE INDEX entries_by_shelf ON entries (reader, shelf, added_at)"),
    # 5: what a reader said no to, button payloads and pending questions (they outlive a
    #    restart), and who shares their shelf with a group (book-club mode)
    ("""CREATE TABLE dismissed (reader TEXT NOT NULL, work_key TEXT NOT NULL, title TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '', at REAL NOT NULL, PRIMARY KEY (reader, work_key))""",
     "CREATE TABLE actions (token TEXT PRIMARY KEY, reader TEXT, payload TEXT NOT NULL, at REAL NOT NULL)",
     "CREATE INDEX actions_by_age ON actions (at)",
     "CREATE TABLE pending (reader TEXT PRIMARY KEY, payload TEXT NOT NULL, at REAL NOT NULL)",
     "CREATE TABLE shares (scope TEXT NOT NULL, reader TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (scope, reader))",
     "CREATE INDEX shares_by_reader ON shares (reader)"),
]
READ, WANT = "read", "want"  # the two shelves: read (likes), want to read
ACTION_DAYS = 90  # button payloads older than this are forgotten (their buttons say "expired")
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
    shelf: str = READ  # READ (a like) or WANT (to read)


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

    def add(self, reader: str, work: Work, named_title: str | None = None, rating: int | None = None,
            shelf: str = READ) -> bool:
        """Put `work` on `reader`'s `shelf` (READ or WANT); returns whether it is new there.

        A book already on the shelf gets the new title and rating; a wanted book that is
        added as read moves to READ, but a read book never goes back to WANT.
        """
        with self._lock, self._conn:
            return self._add(self._check(reader), work, named_title, rating, shelf, time.time())

    def add_many(self, reader: str, items) -> tuple[int, int]:
        """Add (work, named title, rating, shelf) items in one transaction: all of them or, on
        any error, none. Returns (new on their shelf, already there)."""
        reader = self._check(reader)
        new = 0
        items = list(items)
        with self._lock, self._conn:
            now = time.time()
            for work, named_title, rating, shelf in items:
                new += self._add(reader, work, named_title, rating, shelf, now)
        return new, len(items) - new

    def _add(self, reader: str, work: Work, named_title: str | None, rating: int | None, shelf: str, now: float) -> bool:
        if rating is not None and not 1 <= int(rating) <= 5:
            raise ValueError("rating must be 1..5")
        if shelf not in (READ, WANT):
            raise ValueError(f"shelf must be {READ!r} or {WANT!r}")
        title = printable(named_title or "").strip() or printable(work.title)
        author = printable(work.author)
        before = self._conn.execute("SELECT shelf FROM entries WHERE reader = ? AND work_key = ?",
                                    (reader, work.key)).fetchone()
        if before is None:
            self._conn.execute(
                "INSERT INTO entries (reader, work_key, title, author, rating, added_at, updated_at, shelf) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (reader, work.key, title, author, rating, now, now, shelf))
            return True
        moved = before[0] == WANT and shelf == READ
        self._conn.execute(
            "UPDATE entries SET title = ?, rating = COALESCE(?, rating), updated_at = ?, shelf = ? "
            "WHERE reader = ? AND work_key = ?", (title, rating, now, READ if READ in (shelf, before[0]) else WANT,
                                                  reader, work.key))
        return moved

    def remove(self, reader: str, work_key: str) -> bool:
        """Take a work off the reader's shelves; False if it was on neither."""
        reader = self._check(reader)
        with self._lock, self._conn:
            cur = self._conn.execute("DELETE FROM entries WHERE reader = ? AND work_key = ?", (reader, work_key))
            return cur.rowcount > 0

    def clear(self, reader: str, shelf: str = READ) -> int:
        """Empty one of the reader's shelves; returns how many books were on it."""
        reader = self._check(reader)
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM entries WHERE reader = ? AND shelf = ?", (reader, shelf)).rowcount

    def forget(self, reader: str) -> int:
        """Delete everything stored about the reader: both shelves, what they said no to, their
        pending question, their buttons' payloads and their book-club shares. Returns the
        number of books that were on their shelves."""
        reader = self._check(reader)
        with self._lock, self._conn:
            books = self._conn.execute("DELETE FROM entries WHERE reader = ?", (reader,)).rowcount
            for table in ("dismissed", "pending", "actions", "shares"):
                self._conn.execute(f"DELETE FROM {table} WHERE reader = ?", (reader,))
            return books

    def dismiss(self, reader: str, work: Work) -> bool:
        """Remember that the reader is not interested in `work`; False if already remembered."""
        reader = self._check(reader)
        with self._lock, self._conn:
            return self._conn.execute(
                "INSERT INTO dismissed (reader, work_key, title, author, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (reader, work_key) DO NOTHING",
                (reader, work.key, printable(work.title), printable(work.author), time.time())).rowcount > 0

    def share(self, scope: str, reader: str, on: bool = True) -> bool:
        """Share (or stop sharing) the reader's shelf with the group `scope`; returns whether it changed."""
        reader = self._check(reader)
        with self._lock, self._conn:
            if on:
                sql = "INSERT INTO shares (scope, reader, at) VALUES (?, ?, ?) ON CONFLICT (scope, reader) DO NOTHING"
                return self._conn.execute(sql, (scope, reader, time.time())).rowcount > 0
            return self._conn.execute("DELETE FROM shares WHERE scope = ? AND reader = ?", (scope, reader)).rowcount > 0

    def put_actions(self, actions) -> None:
        """Store (token, reader or None, payload JSON) button payloads, in one transaction."""
        now = time.time()
        with self._lock, self._conn:
            self._conn.executemany("INSERT INTO actions (token, reader, payload, at) VALUES (?, ?, ?, ?) "
                                   "ON CONFLICT (token) DO UPDATE SET at = excluded.at",
                                   [(token, reader, payload, now) for token, reader, payload in actions])
            if int(now) % 97 == 0:  # now and then, forget payloads nobody can press any more
                self._conn.execute("DELETE FROM actions WHERE at < ?", (now - ACTION_DAYS * 86400,))

    def set_pending(self, reader: str, payload: str | None) -> None:
        """Keep (or with None, drop) the reader's pending question."""
        reader = self._check(reader)
        with self._lock, self._conn:
            if payload is None:
                self._conn.execute("DELETE FROM pending WHERE reader = ?", (reader,))
            else:
                self._conn.execute("INSERT INTO pending (reader, payload, at) VALUES (?, ?, ?) ON CONFLICT (reader) "
                                   "DO UPDATE SET payload = excluded.payload, at = excluded.at",
                                   (reader, payload, time.time()))

    # --- reads ------------------------------------------------------------------------

    def entries(self, reader: str, offset: int = 0, limit: int | None = None, shelf: str = READ) -> list[ShelfEntry]:
        """The books on one of the reader's shelves, oldest first."""
        reader = self._check(reader)
        with self._lock:
            rows = self._conn.execute(
                "SELECT work_key, title, author, rating, added_at, updated_at, shelf FROM entries "
                "WHERE reader = ? AND shelf = ? ORDER BY added_at, rowid LIMIT ? OFFSET ?",
                (reader, shelf, -1 if limit is None else int(limit), max(0, int(offset)))).fetchall()
        return [ShelfEntry(*row) for row in rows]

    def has(self, reader: str, work_key: str) -> bool:
        reader = self._check(reader)
        with self._lock:
            return self._conn.execute("SELECT 1 FROM entries WHERE reader = ? AND work_key = ?",
                                      (reader, work_key)).fetchone() is not None

    def count(self, reader: str, shelf: str = READ) -> int:
        reader = self._check(reader)
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM entries WHERE reader = ? AND shelf = ?",
                                          (reader, shelf)).fetchone()[0])

    def known_keys(self, readers) -> set[str]:
        """Work keys never to recommend to `readers`: on their shelves (read or wanted) or dismissed."""
        readers = [self._check(r) for r in readers]
        marks = ",".join("?" * len(readers))
        with self._lock:
            rows = self._conn.execute(f"SELECT work_key FROM entries WHERE reader IN ({marks}) UNION "
                                      f"SELECT work_key FROM dismissed WHERE reader IN ({marks})", readers * 2)
            return {r[0] for r in rows}

    def all_likes(self) -> list[tuple[str, str, int | None]]:
        """(reader, work key, rating) of every read book: shelves as extra training likes."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute(
                "SELECT reader, work_key, rating FROM entries WHERE shelf = ? ORDER BY reader, added_at", (READ,))]

    def all_dismissed(self) -> list[tuple[str, str, str, str]]:
        """(reader, work key, title, author) of every "not interested": negatives for the next retrain."""
        with self._lock:
            return [tuple(r) for r in self._conn.execute(
                "SELECT reader, work_key, title, author FROM dismissed ORDER BY reader, at")]

    def sharers(self, scope: str) -> list[str]:
        """Readers who share their shelf with the group `scope`, in the order they joined."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT reader FROM shares WHERE scope = ? ORDER BY at, reader",
                                                     (scope,))]

    def action(self, token: str) -> str | None:
        """The payload JSON behind a button token, or None."""
        with self._lock:
            row = self._conn.execute("SELECT payload FROM actions WHERE token = ?", (token,)).fetchone()
        return row[0] if row else None

    def pending(self, reader: str) -> tuple[str, float] | None:
        """(payload JSON, Unix time asked) of the reader's pending question, or None."""
        reader = self._check(reader)
        with self._lock:
            row = self._conn.execute("SELECT payload, at FROM pending WHERE reader = ?", (reader,)).fetchone()
        return (row[0], row[1]) if row else None

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
