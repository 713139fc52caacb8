"""The shelf store's contract: readers' shelves and the bot's shared state, behind one protocol.

Readers are `"<platform>:<user id>"` strings ("discord:1234", "local:ana"); every query
names the reader in a parameter, so one reader's commands can never touch another's
shelf. Entries are keyed by work key (`engine.normalize.work_key`), which survives
retrains, keep the title the reader typed, picked or imported, and sit on one of two
shelves: READ (likes, the model's training signal) or WANT (to read). The same store keeps
what a reader said "not interested" to, the payloads behind the bots' buttons and a
reader's pending question (so both outlive a restart), who shares a shelf with which
group (book-club mode), and what several bot processes must agree on: the retrain gate's
verdicts (which model folder serves) and leases (one Telegram runner, one retrain at a
time). Text is stored only after `printable` has cleaned it.

Two implementations share one SQL text and one list of migrations (`engine.stores`):
SQLite, embedded and the default, and PostgreSQL (psycopg 3 with a connection pool, the
`postgres` extra) for several processes or machines. `open_shelves(location)` picks one: a
`postgresql://` URL or a file path.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Protocol
from urllib.parse import urlsplit, urlunsplit

from .results import Work

READ, WANT = "read", "want"  # the two shelves: read (likes), want to read
ACTION_DAYS = 90  # button payloads older than this are forgotten (their buttons say "expired")
URL_SCHEMES = ("postgresql://", "postgres://")

# Terminal escape sequences (colours, cursor moves, window titles): removed whole, not just the ESC.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")


def printable(text: str) -> str:
    """`text` without terminal escape sequences, control characters (NUL included) or lone
    surrogates (undecodable bytes): what may be echoed to a terminal and stored."""
    text = _ESCAPES.sub("", str(text))
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text
                   if c in "\t\n" or unicodedata.category(c) != "Cc")


def check_reader(reader: str) -> str:
    """`reader` if it is `"platform:user_id"`; raises ValueError otherwise."""
    platform, sep, user = str(reader).partition(":")
    if not (platform and sep and user):
        raise ValueError(f"reader must be 'platform:user_id', not {reader!r}")
    return reader


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


@dataclass(frozen=True)
class Verdict:
    """The retrain gate's decision on one model folder, as the store keeps it."""

    accepted: bool
    why: str
    at: str = ""  # UTC, "2026-12-02T20:32:22Z"


class ShelfStore(Protocol):
    """What the bot asks of a shelf store; `engine.stores.sql.SqlShelfStore` implements it once
    for SQLite and PostgreSQL. Every method is safe to call from several threads.

    Attributes:
        location: Where the store is, as messages may show it (a URL without its password).
    """

    location: str

    # --- a reader's shelves -------------------------------------------------------------
    def add(self, reader: str, work: Work, named_title: str | None = None, rating: int | None = None,
            shelf: str = READ) -> bool:
        """Put `work` on `reader`'s `shelf`; True if it is new there (or moved from WANT to READ).
        A book already there gets the new title and rating; a read book never goes back to WANT.
        One upsert: two processes adding the same book at once leave one row."""

    def add_many(self, reader: str, items: Iterable[tuple[Work, str | None, int | None, str]]) -> tuple[int, int]:
        """Add (work, named title, rating, shelf) items in one transaction, all or none;
        returns (new on their shelf, already there)."""

    def remove(self, reader: str, work_key: str) -> bool:
        """Take a work off the reader's shelves; False if it was on neither."""

    def clear(self, reader: str, shelf: str = READ) -> int:
        """Empty one of the reader's shelves; returns how many books were on it."""

    def forget(self, reader: str) -> int:
        """Delete everything kept about the reader; returns how many books were on their shelves."""

    def entries(self, reader: str, offset: int = 0, limit: int | None = None, shelf: str = READ) -> list[ShelfEntry]:
        """The books on one of the reader's shelves, oldest first."""

    def has(self, reader: str, work_key: str) -> bool:
        """Whether the work is on either of the reader's shelves."""

    def count(self, reader: str, shelf: str = READ) -> int:
        """How many books are on one of the reader's shelves."""

    def known_keys(self, readers: Iterable[str]) -> set[str]:
        """Work keys never to recommend to `readers`: on their shelves or dismissed."""

    def dismiss(self, reader: str, work: Work) -> bool:
        """Remember that the reader is not interested in `work`; False if already remembered."""

    def share(self, scope: str, reader: str, on: bool = True) -> bool:
        """Share (or stop sharing) the reader's shelf with the group `scope`; True if it changed."""

    def sharers(self, scope: str) -> list[str]:
        """Readers who share their shelf with `scope`, in the order they joined."""

    # --- conversation state -------------------------------------------------------------
    def put_actions(self, actions: Iterable[tuple[str, str | None, str]]) -> None:
        """Keep (token, reader or None, payload JSON) button payloads, in one transaction."""

    def action(self, token: str) -> str | None:
        """The payload JSON behind a button token, or None."""

    def set_pending(self, reader: str, payload: str | None) -> None:
        """Keep (or with None, drop) the reader's pending question."""

    def pending(self, reader: str) -> tuple[str, float] | None:
        """(payload JSON, Unix time asked) of the reader's pending question, or None."""

    def meta(self, key: str) -> str | None:
        """A small fact the bot kept between runs, or None."""

    def set_meta(self, key: str, value: str) -> None:
        """Keep a small fact between runs."""

    # --- for training -------------------------------------------------------------------
    def all_likes(self) -> list[tuple[str, str, int | None]]:
        """(reader, work key, rating) of every read book: the next retrain's extra likes."""

    def all_dismissed(self) -> list[tuple[str, str, str, str]]:
        """(reader, work key, title, author) of every "not interested": the next retrain's negatives."""

    def n_readers(self) -> int:
        """How many readers have a book on a shelf."""

    # --- what several processes share ---------------------------------------------------
    def verdicts(self) -> dict[str, Verdict]:
        """Every retrain-gate verdict, by model folder name."""

    def record_verdict(self, folder: str, accepted: bool, why: str) -> Verdict:
        """Keep the gate's verdict on `folder` (one statement: the old verdict or the new one)."""

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease `name` for `seconds` (by the database's clock); False while
        another holder's lease on it has not run out."""

    def lease_holder(self, name: str) -> str | None:
        """Who holds the lease `name` now, or None."""

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up, if `holder` has it."""

    # --- the store itself ---------------------------------------------------------------
    def schema_version(self) -> int:
        """The migration the store is at (`engine.stores.schema.SCHEMA_VERSION` once opened)."""

    def counts(self) -> dict[str, int]:
        """Rows in each table `rarereads shelves copy` moves."""

    def dump(self) -> dict[str, list[tuple]]:
        """Every row of those tables, read in one snapshot."""

    def load(self, tables: Mapping[str, list[tuple]]) -> dict[str, int]:
        """Insert `dump()`'s rows into an empty store in one transaction and return the counts
        it then holds; raises ShelfStoreError (and changes nothing) if it was not empty."""

    def close(self) -> None:
        """Close every connection."""


def is_url(location: str | Path) -> bool:
    """Whether `location` names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.strip().lower().startswith(URL_SCHEMES)


def shown_location(location: str | Path) -> str:
    """`location` as messages may show it: a URL without its password (and query), a path as is."""
    if not is_url(location):
        return str(location)
    parts = urlsplit(str(location).strip())
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


def open_shelves(location: str | Path, *, readonly: bool = False, pool_size: int = 10) -> ShelfStore:
    """The shelf store at `location`: a PostgreSQL URL or a SQLite file (created if missing).

    Opening brings the schema up to date (under a lock: concurrent first starts do not race)
    and checks that the store can be written to, so a store that cannot serve is one clear
    line at start-up, never a traceback at the first command.

    Args:
        location: `postgresql://user:password@host/db` or a file path (":memory:" for tests).
        readonly: Read only (no migration, no write check; a missing SQLite file is an error
            rather than created): for commands that only look.
        pool_size: Most connections a PostgreSQL store keeps open.

    Raises:
        ShelfStoreError: One line: unreachable, not a shelf database, newer schema, read-only.
    """
    if is_url(location):
        from .stores.postgres import PostgresShelfStore  # psycopg is the `postgres` extra

        return PostgresShelfStore(str(location).strip(), readonly=readonly, pool_size=pool_size)
    from .stores.sqlite import SqliteShelfStore

    return SqliteShelfStore(location, readonly=readonly)


def read_verdicts(location: str | Path) -> dict[str, Verdict]:
    """The gate's verdicts kept at `location`, read without writing anything: {} when no
    store is there yet (nothing is created). Raises ShelfStoreError when it cannot be read."""
    if not is_url(location) and (str(location) == ":memory:" or not Path(location).exists()):
        return {}
    store = open_shelves(location, readonly=True, pool_size=1)
    try:
        return store.verdicts()
    finally:
        store.close()
