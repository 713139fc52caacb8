"""ShelfStore on a real SQLite file: isolation between readers, migrations, WAL, threads."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from engine.results import Work
from engine.shelf import MIGRATIONS, SCHEMA_VERSION, ShelfStore

DUNE = Work(0, "Dune", "Frank Herbert", 1965, 60, key="dune|frank herbert")
SOLARIS = Work(1, "Solaris", "Stanislaw Lem", 1961, 4, key="solaris|lem stanislaw")
EVIL = Work(2, "x'); DROP TABLE entries; --", "Bobby Tables", 0, 0, key="x drop table entries|bobby tables")


@pytest.fixture
def store(tmp_path):
    store = ShelfStore(tmp_path / "var" / "shelves.sqlite")
    yield store
    store.close()


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
    assert store.remove("local:ana", DUNE.key) is True
    assert store.remove("local:ana", DUNE.key) is False
    assert store.count("local:ana") == 1


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


def test_all_likes(store):
    store.add("local:a", DUNE, rating=4)
    store.add("local:b", DUNE)
    store.add("local:b", SOLARIS, rating=5)
    assert store.all_likes() == [("local:a", DUNE.key, 4), ("local:b", DUNE.key, None), ("local:b", SOLARIS.key, 5)]
    assert store.n_readers() == 2


def test_wal_and_schema_version(store, tmp_path):
    assert store.journal_mode() == "wal"
    assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert "entries" in store.db.table_names()


def test_migrates_an_old_file_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0][0] + "; PRAGMA user_version = 1;")
    conn.execute("INSERT INTO entries VALUES ('local:ana', 'dune|frank herbert', 'Dune', 'Frank Herbert', NULL, 1, 1)")
    conn.commit()
    conn.close()
    store = ShelfStore(path)
    assert store.schema_version() == SCHEMA_VERSION
    assert "entries_by_added" in [i.name for i in store.db["entries"].indexes]
    assert [e.title for e in store.entries("local:ana")] == ["Dune"]
    store.close()
    reopened = ShelfStore(path)  # opening again migrates nothing and loses nothing
    assert reopened.count("local:ana") == 1
    reopened.close()


def test_threads_share_one_store(store):
    def fill(n):
        for i in range(50):
            work = Work(i, f"Book {i}", "A", 0, 0, key=f"book {i}|a")
            store.add(f"local:{n}", work)

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [store.count(f"local:{n}") for n in range(6)] == [50] * 6


def test_concurrent_first_opens_do_not_race_the_migration(tmp_path):
    """Two processes (here: threads with their own connections) opening a new file at once."""
    for attempt in range(5):
        path = tmp_path / f"new{attempt}.sqlite"
        barrier = threading.Barrier(6)
        errors, stores = [], []

        def open_store():
            barrier.wait()
            try:
                stores.append(ShelfStore(path))
            except Exception as exc:  # noqa: BLE001 - the test reports what broke
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for store in stores:
            store.close()
        assert not errors, errors[0]
        store = ShelfStore(path)
        assert store.schema_version() == SCHEMA_VERSION
        store.close()


@pytest.mark.parametrize("make_bad", ["garbage", "directory", "future", "truncated"])
def test_an_unusable_file_is_one_clear_error(tmp_path, make_bad):
    from engine.errors import ShelfStoreError

    path = tmp_path / "shelves.sqlite"
    if make_bad == "garbage":
        path.write_bytes(b"this is not a database at all" * 100)
    elif make_bad == "directory":
        path.mkdir()
    elif make_bad == "future":
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
    else:
        store = ShelfStore(path)
        store.add("local:a", DUNE)
        store.close()
        path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(ShelfStoreError) as caught:
        store = ShelfStore(path)
        store.count("local:a")
    message = str(caught.value)
    assert str(path) in message and "\n" not in message and len(message) < 300
