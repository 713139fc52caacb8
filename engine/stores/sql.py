"""`engine.shelf.ShelfStore` written once, in SQL that SQLite and PostgreSQL both run.

A subclass gives connections and transactions (`_transaction`, `_snapshot`), how far the
schema is (`_read_version`, `_migrate`), the database's clock (`NOW`) and the last
tie-break of a shelf's order (`TIEBREAK`). Statements use `?` placeholders; the PostgreSQL
store turns them into psycopg's `%s`.

Writes that can race are single statements: `INSERT ... ON CONFLICT`, so two processes
adding the same book for the same reader at once leave one row and raise nothing, and a
lease is taken by one conditional upsert, never by a read followed by a write.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any, Iterable, Mapping

from ..errors import ShelfStoreError
from ..results import Work
from ..shelf import ACTION_DAYS, READ, WANT, ShelfEntry, Verdict, check_reader, printable
from .schema import TABLES, VERDICTS_SINCE, pending_migrations

NO_LIMIT = 1 << 62  # LIMIT for "all rows" (SQLite's -1 and PostgreSQL's ALL differ)
WRITE_CHECK = "rarereads.write-check"  # the meta key a store writes, and rolls back, to learn it can write
_ENTRY = "work_key, title, author, rating, added_at, updated_at, shelf"


class _Rollback(Exception):
    """Ends a transaction that was only a test."""


class SqlShelfStore:
    """The shelf store's operations over a subclass's connections; see `engine.shelf.ShelfStore`."""

    location: str
    errors: tuple[type[BaseException], ...] = ()  # the database library's errors
    NOW = ""  # SQL for the database's Unix time in seconds (leases run on one clock, whatever the machines')
    TIEBREAK = "work_key"  # orders a shelf's books added at the same instant

    def __init__(self) -> None:
        self._version = 0

    # --- what a subclass provides ---------------------------------------------------------

    def _transaction(self) -> contextlib.AbstractContextManager:
        """A context yielding an executor (`execute(sql, params) -> cursor`, `executemany`) whose
        statements commit together at the end, or roll back on an exception."""
        raise NotImplementedError

    def _reading(self) -> contextlib.AbstractContextManager:
        """Like `_transaction`, for one read statement: takes no write lock."""
        raise NotImplementedError

    def _snapshot(self) -> contextlib.AbstractContextManager:
        """Like `_reading`, for several reads that must all see one moment."""
        raise NotImplementedError

    def _read_version(self) -> int:
        raise NotImplementedError

    def _migrate(self) -> None:
        """Run `pending_migrations` under the database's lock and set `_version`."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- opening ------------------------------------------------------------------------------

    def _open(self, readonly: bool) -> None:
        """Bring the schema up to date and prove the store takes writes (or, read-only, just look)."""
        if readonly:
            version = self._read_version()
            pending_migrations(version, self.location)  # a newer schema is refused here too
            self._version = version
            return
        self._migrate()
        try:
            with self._transaction() as x:
                x.execute("INSERT INTO meta (key, value) VALUES (?, '') ON CONFLICT (key) DO NOTHING", (WRITE_CHECK,))
                raise _Rollback
        except _Rollback:
            pass

    def schema_version(self) -> int:
        return self._version

    # --- a reader's shelves ---------------------------------------------------------------------

    def add(self, reader: str, work: Work, named_title: str | None = None, rating: int | None = None,
            shelf: str = READ) -> bool:
        reader = check_reader(reader)
        with self._transaction() as x:
            return self._add(x, reader, work, named_title, rating, shelf, time.time())

    def add_many(self, reader: str, items) -> tuple[int, int]:
        reader = check_reader(reader)
        items = list(items)
        now = time.time()
        new = 0
        with self._transaction() as x:
            for i, (work, named_title, rating, shelf) in enumerate(items):
                # A microsecond apart: the shelf lists an import in file order on both databases.
                new += self._add(x, reader, work, named_title, rating, shelf, now + i * 1e-6)
        return new, len(items) - new

    def _add(self, x, reader: str, work: Work, named_title: str | None, rating: int | None, shelf: str,
             now: float) -> bool:
        if rating is not None and not 1 <= int(rating) <= 5:
            raise ValueError("rating must be 1..5")
        if shelf not in (READ, WANT):
            raise ValueError(f"shelf must be {READ!r} or {WANT!r}")
        title = printable(named_title or "").strip() or printable(work.title)
        moved = shelf == READ and x.execute(
            f"UPDATE entries SET shelf = '{READ}' WHERE reader = ? AND work_key = ? AND shelf = '{WANT}'",
            (reader, work.key)).rowcount > 0
        added_at = x.execute(
            "INSERT INTO entries (reader, work_key, title, author, rating, added_at, updated_at, shelf) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reader, work_key) DO UPDATE SET title = excluded.title, "
            "rating = COALESCE(excluded.rating, entries.rating), updated_at = excluded.updated_at, "
            f"shelf = CASE WHEN entries.shelf = '{READ}' THEN '{READ}' ELSE excluded.shelf END RETURNING added_at",
            (reader, work.key, title, printable(work.author), rating, now, now, shelf)).fetchone()[0]
        return moved or added_at == now  # a row this statement inserted carries its `now`

    def remove(self, reader: str, work_key: str) -> bool:
        reader = check_reader(reader)
        with self._transaction() as x:
            return x.execute("DELETE FROM entries WHERE reader = ? AND work_key = ?", (reader, work_key)).rowcount > 0

    def clear(self, reader: str, shelf: str = READ) -> int:
        reader = check_reader(reader)
        with self._transaction() as x:
            return x.execute("DELETE FROM entries WHERE reader = ? AND shelf = ?", (reader, shelf)).rowcount

    def forget(self, reader: str) -> int:
        reader = check_reader(reader)
        with self._transaction() as x:
            books = x.execute("DELETE FROM entries WHERE reader = ?", (reader,)).rowcount
            for table in ("dismissed", "pending", "actions", "shares"):
                x.execute(f"DELETE FROM {table} WHERE reader = ?", (reader,))
            return books

    def dismiss(self, reader: str, work: Work) -> bool:
        reader = check_reader(reader)
        with self._transaction() as x:
            return x.execute(
                "INSERT INTO dismissed (reader, work_key, title, author, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (reader, work_key) DO NOTHING",
                (reader, work.key, printable(work.title), printable(work.author), time.time())).rowcount > 0

    def share(self, scope: str, reader: str, on: bool = True) -> bool:
        reader = check_reader(reader)
        with self._transaction() as x:
            if on:
                return x.execute("INSERT INTO shares (scope, reader, at) VALUES (?, ?, ?) "
                                 "ON CONFLICT (scope, reader) DO NOTHING", (scope, reader, time.time())).rowcount > 0
            return x.execute("DELETE FROM shares WHERE scope = ? AND reader = ?", (scope, reader)).rowcount > 0

    def entries(self, reader: str, offset: int = 0, limit: int | None = None, shelf: str = READ) -> list[ShelfEntry]:
        reader = check_reader(reader)
        rows = self._all(f"SELECT {_ENTRY} FROM entries WHERE reader = ? AND shelf = ? "
                         f"ORDER BY added_at, {self.TIEBREAK} LIMIT ? OFFSET ?",
                         (reader, shelf, NO_LIMIT if limit is None else int(limit), max(0, int(offset))))
        return [ShelfEntry(*row) for row in rows]

    def has(self, reader: str, work_key: str) -> bool:
        reader = check_reader(reader)
        return self._one("SELECT 1 FROM entries WHERE reader = ? AND work_key = ?", (reader, work_key)) is not None

    def count(self, reader: str, shelf: str = READ) -> int:
        reader = check_reader(reader)
        return int(self._one("SELECT COUNT(*) FROM entries WHERE reader = ? AND shelf = ?", (reader, shelf))[0])

    def known_keys(self, readers) -> set[str]:
        readers = [check_reader(r) for r in readers]
        if not readers:
            return set()
        marks = ",".join("?" * len(readers))
        return {r[0] for r in self._all(f"SELECT work_key FROM entries WHERE reader IN ({marks}) UNION "
                                        f"SELECT work_key FROM dismissed WHERE reader IN ({marks})", readers * 2)}

    def sharers(self, scope: str) -> list[str]:
        return [r[0] for r in self._all("SELECT reader FROM shares WHERE scope = ? ORDER BY at, reader", (scope,))]

    # --- conversation state -------------------------------------------------------------------

    def put_actions(self, actions) -> None:
        now = time.time()
        rows = [(token, reader, payload, now) for token, reader, payload in actions]
        with self._transaction() as x:
            if rows:
                x.executemany("INSERT INTO actions (token, reader, payload, at) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (token) DO UPDATE SET at = excluded.at", rows)
            if int(now) % 97 == 0:  # now and then, forget payloads nobody can press any more
                x.execute("DELETE FROM actions WHERE at < ?", (now - ACTION_DAYS * 86400,))

    def action(self, token: str) -> str | None:
        row = self._one("SELECT payload FROM actions WHERE token = ?", (token,))
        return row[0] if row else None

    def set_pending(self, reader: str, payload: str | None) -> None:
        reader = check_reader(reader)
        with self._transaction() as x:
            if payload is None:
                x.execute("DELETE FROM pending WHERE reader = ?", (reader,))
            else:
                x.execute("INSERT INTO pending (reader, payload, at) VALUES (?, ?, ?) ON CONFLICT (reader) "
                          "DO UPDATE SET payload = excluded.payload, at = excluded.at", (reader, payload, time.time()))

    def pending(self, reader: str) -> tuple[str, float] | None:
        reader = check_reader(reader)
        row = self._one("SELECT payload, at FROM pending WHERE reader = ?", (reader,))
        return (row[0], row[1]) if row else None

    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as x:
            x.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      (key, value))

    # --- for training ---------------------------------------------------------------------------

    def all_likes(self) -> list[tuple[str, str, int | None]]:
        return [tuple(r) for r in self._all(f"SELECT reader, work_key, rating FROM entries WHERE shelf = ? "
                                            f"ORDER BY reader, added_at, {self.TIEBREAK}", (READ,))]

    def all_dismissed(self) -> list[tuple[str, str, str, str]]:
        return [tuple(r) for r in self._all("SELECT reader, work_key, title, author FROM dismissed "
                                            "ORDER BY reader, at, work_key")]

    def n_readers(self) -> int:
        return int(self._one("SELECT COUNT(DISTINCT reader) FROM entries")[0])

    # --- what several processes share ---------------------------------------------------------

    def verdicts(self) -> dict[str, Verdict]:
        if self._version < VERDICTS_SINCE:  # a store opened read-only before its upgrade: no record yet
            return {}
        return {folder: Verdict(bool(accepted), why, at)
                for folder, accepted, why, at in self._all("SELECT folder, accepted, why, at FROM verdicts")}

    def record_verdict(self, folder: str, accepted: bool, why: str) -> Verdict:
        verdict = Verdict(bool(accepted), printable(why),
                          dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        with self._transaction() as x:
            x.execute("INSERT INTO verdicts (folder, accepted, why, at) VALUES (?, ?, ?, ?) ON CONFLICT (folder) "
                      "DO UPDATE SET accepted = excluded.accepted, why = excluded.why, at = excluded.at",
                      (folder, int(verdict.accepted), verdict.why, verdict.at))
        return verdict

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        with self._transaction() as x:
            return x.execute(
                f"INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, {self.NOW} + ?) ON CONFLICT (name) "
                "DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
                f"WHERE leases.holder = excluded.holder OR leases.expires_at < {self.NOW}",
                (name, holder, float(seconds))).rowcount > 0

    def lease_holder(self, name: str) -> str | None:
        row = self._one(f"SELECT holder FROM leases WHERE name = ? AND expires_at >= {self.NOW}", (name,))
        return row[0] if row else None

    def release_lease(self, name: str, holder: str) -> None:
        with self._transaction() as x:
            x.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # --- copying ------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self._snapshot() as x:
            return {table: int(x.execute(f"SELECT COUNT(*) FROM {table}", ()).fetchone()[0]) for table in TABLES}

    def dump(self) -> dict[str, list[tuple]]:
        with self._snapshot() as x:
            return {table: [tuple(row) for row in x.execute(f"SELECT {', '.join(columns)} FROM {table}", ()).fetchall()]
                    for table, columns in TABLES.items()}

    def load(self, tables: Mapping[str, list[tuple]]) -> dict[str, int]:
        try:
            return self._load(tables)
        except self.errors as exc:  # rolled back by now
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ShelfStoreError(f"{self.location}: the copy failed ({first}); nothing was kept") from None

    def _load(self, tables: Mapping[str, list[tuple]]) -> dict[str, int]:
        with self._transaction() as x:
            held = {t: int(x.execute(f"SELECT COUNT(*) FROM {t}", ()).fetchone()[0]) for t in TABLES}
            busy = [f"{t}: {n}" for t, n in held.items() if n]
            if busy:
                raise ShelfStoreError(f"{self.location} is not empty ({', '.join(busy)} rows): copy into an empty store")
            for table, columns in TABLES.items():
                rows = [tuple(row) for row in tables.get(table, ())]
                if rows:
                    marks = ", ".join("?" * len(columns))
                    x.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            counts = {t: int(x.execute(f"SELECT COUNT(*) FROM {t}", ()).fetchone()[0]) for t in TABLES}
            wrong = [f"{t}: {counts[t]} rows, not {len(tables.get(t, ()))}" for t in TABLES
                     if counts[t] != len(tables.get(t, ()))]
            if wrong:  # the exception rolls the whole copy back
                raise ShelfStoreError(f"{self.location}: the copy does not add up ({'; '.join(wrong)}); nothing was kept")
        return counts

    # --- helpers --------------------------------------------------------------------------------

    def _one(self, sql: str, params: Iterable[Any] = ()):
        with self._reading() as x:
            return x.execute(sql, tuple(params)).fetchone()

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list:
        with self._reading() as x:
            return x.execute(sql, tuple(params)).fetchall()

