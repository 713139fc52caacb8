"""The shelf schema: numbered migrations, the same for SQLite and PostgreSQL.

Each migration is a tuple of statements run in one transaction, in the subset of SQL both
databases read alike: `TEXT`, `INTEGER`, `DOUBLE PRECISION` (SQLite gives it REAL
affinity; PostgreSQL's `REAL` would be 4 bytes, too few for a Unix time), composite primary
keys, `ALTER TABLE ... ADD COLUMN ... DEFAULT`. Migrations 1-5 once said `REAL` where they
now say `DOUBLE PRECISION`: SQLite files made by them have the same column affinity, so
they need nothing. A new migration goes at the end; a written one never changes meaning.

A store records how far it got (SQLite: `PRAGMA user_version`; PostgreSQL: the table
`rarereads_schema`) and runs the rest under a lock (SQLite: `BEGIN IMMEDIATE`;
PostgreSQL: an advisory lock), so processes that open a new store at once do not race.
"""
from __future__ import annotations

from ..errors import ShelfStoreError

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: shelves
    ("""
    CREATE TABLE entries (
        reader TEXT NOT NULL,
        work_key TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        rating INTEGER,
        added_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
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
        author TEXT NOT NULL DEFAULT '', at DOUBLE PRECISION NOT NULL, PRIMARY KEY (reader, work_key))""",
     "CREATE TABLE actions (token TEXT PRIMARY KEY, reader TEXT, payload TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
     "CREATE INDEX actions_by_age ON actions (at)",
     "CREATE TABLE pending (reader TEXT PRIMARY KEY, payload TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
     "CREATE TABLE shares (scope TEXT NOT NULL, reader TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, "
     "PRIMARY KEY (scope, reader))",
     "CREATE INDEX shares_by_reader ON shares (reader)"),
    # 6: what several bot processes share: the retrain gate's verdicts (which model folder
    #    serves) and leases (one Telegram runner per token, one retrain at a time)
    ("CREATE TABLE verdicts (folder TEXT PRIMARY KEY, accepted INTEGER NOT NULL, why TEXT NOT NULL, at TEXT NOT NULL)",
     "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)"),
]
SCHEMA_VERSION = len(MIGRATIONS)
VERDICTS_SINCE = 6  # the migration that made the verdicts table

# What `rarereads shelves copy` moves, with each table's columns in order (leases are a
# running process's, not data).
TABLES: dict[str, tuple[str, ...]] = {
    "entries": ("reader", "work_key", "title", "author", "rating", "added_at", "updated_at", "shelf"),
    "dismissed": ("reader", "work_key", "title", "author", "at"),
    "actions": ("token", "reader", "payload", "at"),
    "pending": ("reader", "payload", "at"),
    "shares": ("scope", "reader", "at"),
    "meta": ("key", "value"),
    "verdicts": ("folder", "accepted", "why", "at"),
}


def pending_migrations(version: int, location: str) -> list[tuple[int, tuple[str, ...]]]:
    """(number, statements) of the migrations a store at `version` still needs.

    Raises:
        ShelfStoreError: The store is of a newer schema than this rarereads knows.
    """
    if version > SCHEMA_VERSION:
        raise ShelfStoreError(f"{location} has shelf schema {version}, newer than this rarereads "
                              f"(which knows up to {SCHEMA_VERSION}): upgrade rarereads to use it")
    return list(enumerate(MIGRATIONS[version:], start=version + 1))
