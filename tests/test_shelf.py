"""The shelf store contract, one suite run against both stores: a real SQLite file and a real
PostgreSQL server (tests/standins/pgserver.py). Isolation between readers, racing writers,
migrations under a lock, leases, verdicts, refusals in one line, and `shelves copy`."""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest

from engine.errors import ShelfStoreError
from engine.results import Work
from engine.shelf import WANT, is_url, open_shelves, read_verdicts, shown_location
from engine.stores.copy import copy_shelves
from engine.stores.schema import MIGRATIONS, SCHEMA_VERSION, TABLES

DUNE = Work(0, "Dune", "Frank Herbert", 1965, 60, key="dune|frank herbert")
SOLARIS = Work(1, "Solaris", "Stanislaw Lem", 1961, 4, key="solaris|lem stanislaw")
EVIL = Work(2, "x'); DROP TABLE entries; --", "Bobby Tables", 0, 0, key="x drop table entries|bobby tables")


@pytest.fixture
def store(store_location):
    store = open_shelves(store_location)
    yield store
    store.close()


@pytest.fixture
def raw(request):
    """Runs SQL on a store behind its back, as an operator (or damage) would."""
    def run(location: str, *statements: str) -> None:
        if is_url(location):
            request.getfixturevalue("pg_server").sql(location, *statements)
            return
        conn = sqlite3.connect(location)
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
    return run


def test_add_list_remove(store):
    assert store.add("local:ana", DUNE, "dune", rating=5) is True
    assert store.add("local:ana", SOLARIS) is True
    assert store.add("local:ana", DUNE, "Dune (1965)") is False  # already there: updated
    entries = store.entries("local:ana")
    assert [(e.work_key, e.title, e.author, e.rating) for e in entries] == [
        ("dune|frank herbert", "Dune (1965)", "Frank Herbert", 5), ("solaris|lem stanislaw", "Solaris", "Stanislaw Lem", None)]
    assert entries[0].updated_at >= entries[0].added_at
    assert store.count("local:ana") == 2
    assert [e.title for e in store.entries("local:ana", offset=1, limit=1)] == ["Solaris"]
    assert store.has("local:ana", DUNE.key)
    assert store.remove("local:ana", DUNE.key) is True
    assert store.remove("local:ana", DUNE.key) is False
    assert store.count("local:ana") == 1


def test_want_to_read_moves_to_read_but_never_back(store):
    assert store.add("local:ana", DUNE, shelf=WANT) is True
    assert store.add("local:ana", DUNE, shelf=WANT) is False
    assert (store.count("local:ana"), store.count("local:ana", shelf=WANT)) == (0, 1)
    assert store.add("local:ana", DUNE, rating=4) is True  # read now: new on the read shelf
    assert store.add("local:ana", DUNE, shelf=WANT) is False  # a read book stays read
    assert [(e.shelf, e.rating) for e in store.entries("local:ana")] == [("read", 4)]
    assert store.count("local:ana", shelf=WANT) == 0


def test_an_import_is_listed_in_file_order_and_is_all_or_nothing(store):
    books = [Work(i, f"Book {i}", "A", 0, 0, key=f"book {i:03d}|a") for i in range(50)][::-1]
    assert store.add_many("local:ana", [(w, None, None, "read") for w in books]) == (50, 0)
    assert [e.title for e in store.entries("local:ana")] == [w.title for w in books]
    with pytest.raises(ValueError):
        store.add_many("local:bob", [(DUNE, None, None, "read"), (SOLARIS, None, 9, "read")])
    assert store.count("local:bob") == 0


def test_readers_never_see_or_change_each_other(store):
    store.add("discord:1", DUNE)
    store.add("telegram:1", SOLARIS)
    assert [e.title for e in store.entries("discord:1")] == ["Dune"]
    assert [e.title for e in store.entries("telegram:1")] == ["Solaris"]
    assert store.remove("discord:1", SOLARIS.key) is False
    assert store.clear("discord:1") == 1
    assert store.count("telegram:1") == 1
    # SQL in a reader id or a title is data, never SQL.
    store.add("discord:1' OR '1'='1", EVIL, EVIL.title)
    assert store.entries("discord:1' OR '1'='1")[0].title == EVIL.title
    assert store.count("telegram:1") == 1 and store.count("discord:1") == 0
    assert store.forget("telegram:1") == 1
    assert store.n_readers() == 1


def test_reader_ids_must_name_a_platform(store):
    for bad in ["", "ana", ":1", "local:"]:
        with pytest.raises(ValueError):
            store.entries(bad)
    with pytest.raises(ValueError):
        store.add("local:ana", DUNE, rating=9)


def test_all_likes_dismissals_shares_and_forget(store):
    store.add("local:a", DUNE, rating=4)
    store.add("local:b", DUNE)
    store.add("local:b", SOLARIS, rating=5)
    store.add("local:b", EVIL, shelf=WANT)
    assert store.all_likes() == [("local:a", DUNE.key, 4), ("local:b", DUNE.key, None), ("local:b", SOLARIS.key, 5)]
    assert store.n_readers() == 2
    assert store.dismiss("local:a", SOLARIS) is True and store.dismiss("local:a", SOLARIS) is False
    assert store.all_dismissed() == [("local:a", SOLARIS.key, "Solaris", "Stanislaw Lem")]
    assert store.known_keys(["local:a"]) == {DUNE.key, SOLARIS.key}
    assert store.known_keys([]) == set()
    assert store.share("telegram:-5", "local:a") is True and store.share("telegram:-5", "local:a") is False
    store.share("telegram:-5", "local:b")
    assert store.sharers("telegram:-5") == ["local:a", "local:b"]
    store.set_pending("local:a", '{"q": 1}')
    store.put_actions([("tok1", "local:a", '{"do": "x"}'), ("tok2", None, '{"do": "y"}')])
    assert store.pending("local:a")[0] == '{"q": 1}' and store.action("tok1") == '{"do": "x"}'
    assert store.forget("local:a") == 1
    assert (store.pending("local:a"), store.action("tok1"), store.action("tok2")) == (None, None, '{"do": "y"}')
    assert store.sharers("telegram:-5") == ["local:b"] and store.all_dismissed() == []
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.meta("k") == "v2" and store.meta("nothing") is None


def test_threads_share_one_store(store):
    def fill(n):
        for i in range(50):
            store.add(f"local:{n}", Work(i, f"Book {i}", "A", 0, 0, key=f"book {i}|a"))

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [store.count(f"local:{n}") for n in range(6)] == [50] * 6


def test_processes_adding_the_same_book_at_once_leave_one_row(store_location):
    """Issue 16 §3: `_add` read before its transaction, so two processes adding the same (reader,
    book) raised UNIQUE constraint failed. Each thread here has a store (connection) of its own."""
    stores = [open_shelves(store_location) for _ in range(6)]
    rounds = 150
    barrier = threading.Barrier(len(stores))
    errors, new = [], []

    def add(store):
        for i in range(rounds):
            barrier.wait()
            try:
                new.append(store.add("telegram:1", Work(i, f"Book {i}", "A", 0, 0, key=f"book {i}|a"), rating=5))
            except Exception as exc:  # noqa: BLE001 - the test reports what broke
                errors.append(exc)

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, f"{len(errors)} of {rounds * len(stores)} adds failed: {errors[0]}"
        assert stores[0].count("telegram:1") == rounds
        assert sum(new) == rounds  # each book was new to exactly one of the racers
    finally:
        for s in stores:
            s.close()


def test_concurrent_first_opens_do_not_race_the_migration(store_location, request):
    """Processes starting together on a new store (here: threads with connections of their own)."""
    if is_url(store_location):
        server = request.getfixturevalue("pg_server")
        locations = [store_location] + [server.url(schema=f"race{n}_{os.getpid()}") for n in range(2)]
    else:
        locations = [f"{store_location}.{n}" for n in range(3)]
    for location in locations:
        barrier = threading.Barrier(6)
        errors, stores = [], []

        def open_store():
            barrier.wait()
            try:
                stores.append(open_shelves(location, pool_size=1))
            except Exception as exc:  # noqa: BLE001 - the test reports what broke
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in stores:
            s.close()
        assert not errors, errors[0]
        again = open_shelves(location)
        assert again.schema_version() == SCHEMA_VERSION
        again.close()


def test_a_store_of_a_newer_schema_is_refused_in_one_line(store_location, raw):
    open_shelves(store_location).close()
    raw(store_location, f"UPDATE rarereads_schema SET version = {SCHEMA_VERSION + 1}" if is_url(store_location)
        else f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ShelfStoreError) as caught:
        open_shelves(store_location)
    message = str(caught.value)
    assert "newer than this rarereads" in message and shown_location(store_location) in message
    assert "\n" not in message


@contextlib.contextmanager
def _as_nobody():
    """Root writes any file: open it as an unprivileged user would (an operator's bot account)."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.parametrize("folder_mode", [0o777, 0o555], ids=["folder-writable", "folder-read-only"])
def test_a_read_only_store_is_one_clear_line_at_start_up(folder_mode):
    """Issue 16 §3: a read-only shelf database opened (in a folder the bot may write to), then
    every command (even /shelf) failed with a traceback; in a read-only folder it was called "not a
    usable shelf database, move it aside". Now opening it says what is wrong, once."""
    folder = Path(tempfile.mkdtemp(prefix="rarereads-ro-"))
    try:
        path = folder / "shelves.sqlite"
        store = open_shelves(path)
        store.add("local:ana", DUNE)
        store.close()
        os.chmod(path, 0o444)
        os.chmod(folder, folder_mode)
        with _as_nobody(), pytest.raises(ShelfStoreError) as caught:
            open_shelves(path).close()
        message = str(caught.value)
        assert "read-only" in message and str(path) in message and "\n" not in message
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)
        assert read_verdicts(path) == {}  # looking needs no write access (and finds no verdicts)
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)


def test_a_read_only_postgres_database_is_one_clear_line_at_start_up(pg_server):
    url = pg_server.database(f"ro{os.getpid()}")
    store = open_shelves(url)
    store.add("local:ana", DUNE)
    store.close()
    pg_server.sql(pg_server.url(), f'ALTER DATABASE "ro{os.getpid()}" SET default_transaction_read_only = on')
    with pytest.raises(ShelfStoreError) as caught:
        open_shelves(url)
    assert "read-only" in str(caught.value) and "\n" not in str(caught.value)
    looking = open_shelves(url, readonly=True)  # a command that only looks still can
    assert looking.count("local:ana") == 1
    looking.close()


def test_an_unreachable_server_is_one_line_without_the_password():
    with pytest.raises(ShelfStoreError) as caught:
        open_shelves("postgresql://bot:hunter2-secret@127.0.0.1:1/shelves")
    message = str(caught.value)
    assert "hunter2" not in message and "127.0.0.1" in message and "\n" not in message


def test_leases_are_one_holders_until_they_run_out(store):
    assert store.take_lease("telegram:abc", "host:1", 30) is True
    assert store.take_lease("telegram:abc", "host:2", 30) is False  # taken
    assert store.lease_holder("telegram:abc") == "host:1"
    assert store.take_lease("telegram:abc", "host:1", 0.3) is True  # renewed, shorter
    time.sleep(0.5)
    assert store.lease_holder("telegram:abc") is None  # ran out (a process that died)
    assert store.take_lease("telegram:abc", "host:2", 30) is True
    store.release_lease("telegram:abc", "host:1")  # not theirs any more: nothing happens
    assert store.lease_holder("telegram:abc") == "host:2"
    store.release_lease("telegram:abc", "host:2")
    assert store.lease_holder("telegram:abc") is None


def test_verdicts_are_kept_and_replaced(store_location):
    store = open_shelves(store_location)
    store.record_verdict("20250101-000000-a", True, "the first model here")
    store.record_verdict("20250201-000000-b", False, "worse")
    store.record_verdict("20250101-000000-a", False, "no longer readable")
    store.close()
    verdicts = read_verdicts(store_location)  # another process, only looking
    assert {name: v.accepted for name, v in verdicts.items()} == {"20250101-000000-a": False, "20250201-000000-b": False}
    assert verdicts["20250101-000000-a"].why == "no longer readable" and verdicts["20250101-000000-a"].at.endswith("Z")


def test_looking_at_a_missing_sqlite_store_creates_nothing(tmp_path):
    assert read_verdicts(tmp_path / "var" / "shelves.sqlite") == {}
    assert not (tmp_path / "var").exists()


# --- SQLite's own ------------------------------------------------------------------------------

def test_sqlite_runs_in_wal_with_its_schema_version(tmp_path):
    store = open_shelves(tmp_path / "s.sqlite")
    assert store.journal_mode() == "wal"
    assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    store.close()
    tables = {r[0] for r in sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT name FROM sqlite_master")}
    assert set(TABLES) | {"leases"} <= tables


def test_migrates_an_old_file_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)  # a file as the first rarereads wrote it (REAL times, version 1)
    conn.executescript(MIGRATIONS[0][0].replace("DOUBLE PRECISION", "REAL") + "; PRAGMA user_version = 1;")
    conn.execute("INSERT INTO entries VALUES ('local:ana', 'dune|frank herbert', 'Dune', 'Frank Herbert', NULL, 1, 1)")
    conn.commit()
    conn.close()
    store = open_shelves(path)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    indexes = {r[1] for r in sqlite3.connect(path).execute("PRAGMA index_list(entries)")}
    assert "entries_by_added" in indexes
    reopened = open_shelves(path)  # opening again migrates nothing and loses nothing
    assert [e.title for e in reopened.entries("local:ana")] == ["Dune"] and reopened.count("local:ana") == 1
    reopened.close()


@pytest.mark.parametrize("make_bad", ["garbage", "directory", "truncated"])
def test_an_unusable_file_is_one_clear_error(tmp_path, make_bad):
    path = tmp_path / "shelves.sqlite"
    if make_bad == "garbage":
        path.write_bytes(b"this is not a database at all" * 100)
    elif make_bad == "directory":
        path.mkdir()
    else:
        store = open_shelves(path)
        store.add("local:a", DUNE)
        store.close()
        path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(ShelfStoreError) as caught:
        store = open_shelves(path)
        store.count("local:a")
    message = str(caught.value)
    assert str(path) in message and "\n" not in message and len(message) < 300


# --- rarereads shelves copy ----------------------------------------------------------------------

def _fill(location: str, readers: int) -> dict[str, list[tuple]]:
    """A store of `readers` readers (3 books each, some dismissed, shared, pending), through `load`."""
    rows: dict[str, list[tuple]] = {t: [] for t in TABLES}
    for r in range(readers):
        reader = f"{('telegram', 'discord', 'local')[r % 3]}:{r}"
        for b in range(3):
            rows["entries"].append((reader, f"book {(r * 7 + b) % 5000}|a", f"Book é{b}", "A", b or None,
                                    1.7e9 + r + b / 10, 1.7e9 + r + b / 10, "want" if b == 2 else "read"))
        if r % 10 == 0:
            rows["dismissed"].append((reader, "dune|frank herbert", "Dune", "Frank Herbert", 1.7e9 + r))
            rows["shares"].append((f"telegram:-{r % 7}", reader, 1.7e9 + r))
            rows["pending"].append((reader, '{"q": "which"}', 1.7e9 + r))
            rows["actions"].append((f"tok{r}", reader, '{"do": "more"}', 1.7e9 + r))
    rows["meta"].append(("discord.synced.1.global", "abc"))
    rows["verdicts"].append(("20250101-000000-a", 1, "the first model here", "2025-01-01T00:00:00Z"))
    store = open_shelves(location)
    store.load(rows)
    store.close()
    return rows


def _sorted_dump(location: str) -> dict[str, list[tuple]]:
    store = open_shelves(location)
    try:
        return {table: sorted(rows, key=repr) for table, rows in store.dump().items()}
    finally:
        store.close()


def test_copy_round_trips_ten_thousand_readers_through_postgres(tmp_path, pg_url):
    source = str(tmp_path / "shelves.sqlite")
    _fill(source, 10_000)
    counts = copy_shelves(source, pg_url)
    assert counts["entries"] == 30_000 and counts["dismissed"] == 1_000
    back = str(tmp_path / "back" / "shelves.sqlite")
    assert copy_shelves(pg_url, back) == counts
    assert _sorted_dump(back) == _sorted_dump(source)  # nothing lost, nothing changed, nothing added
    store = open_shelves(back)
    assert store.n_readers() == 10_000 and [e.title for e in store.entries("discord:1")] == ["Book é0", "Book é1"]
    store.close()


def test_a_copy_that_fails_half_way_changes_nothing(store_location, tmp_path, raw):
    source = str(tmp_path / "source.sqlite")
    _fill(source, 300)
    open_shelves(store_location).close()
    if is_url(store_location):  # the destination refuses one row: a real failure in the middle of the copy
        raw(store_location, "ALTER TABLE entries ADD CONSTRAINT refuse CHECK (reader <> 'local:299')")
    else:
        raw(store_location, "CREATE TRIGGER refuse BEFORE INSERT ON entries WHEN NEW.reader = 'local:299' "
                            "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(ShelfStoreError) as caught:
        copy_shelves(source, store_location)
    assert "nothing was kept" in str(caught.value) and "\n" not in str(caught.value)
    store = open_shelves(store_location)
    assert set(store.counts().values()) == {0}
    store.close()


def test_a_copy_into_a_store_in_use_is_refused(store_location, tmp_path):
    source = str(tmp_path / "source.sqlite")
    _fill(source, 5)
    store = open_shelves(store_location)
    store.add("local:ana", DUNE)
    store.close()
    with pytest.raises(ShelfStoreError, match="not empty"):
        copy_shelves(source, store_location)
    store = open_shelves(store_location)
    assert store.counts()["entries"] == 1
    store.close()


def test_a_failed_copy_into_a_new_file_leaves_no_file(tmp_path):
    with pytest.raises(ShelfStoreError):
        copy_shelves(tmp_path / "missing.sqlite", tmp_path / "new.sqlite")
    assert list(tmp_path.iterdir()) == []
    source = tmp_path / "source.sqlite"
    _fill(str(source), 5)
    (tmp_path / "source.sqlite-wal").unlink(missing_ok=True)
    with pytest.raises(ShelfStoreError, match="into itself"):
        copy_shelves(source, tmp_path / "." / "source.sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.sqlite"]
