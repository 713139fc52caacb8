"""Shared fixtures: the tiny stand-in model and a service over it (service and import tests), the
shelf stores (a SQLite file, and a schema on a real PostgreSQL server started once per session),
and the real Book-Crossing dump in ../shared/datasets, read and merged once per run (data tests)."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "standins"))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent (the shared datasets folder sits beside the project)")


@pytest.fixture(scope="session")
def tiny_engine(tmp_path_factory):
    """The engine on the stand-ins' 26-book model (flavour a)."""
    from models import make_model

    from engine.recommender import Engine

    return Engine.from_folder(make_model(tmp_path_factory.mktemp("models"), "20250101-000000-a", "a"))


@pytest.fixture
def tiny_service(tiny_engine, tmp_path):
    """A Service over `tiny_engine` with shelves in a fresh SQLite file (imports of at most 50 books)."""
    from bot.service import Service
    from engine.recommender import EngineHolder
    from engine.shelf import open_shelves

    shelves = open_shelves(tmp_path / "shelves.sqlite")
    yield Service(EngineHolder(tiny_engine), shelves, max_import_rows=50)
    shelves.close()


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the session (`tests/standins/pgserver.py`). Without one the
    PostgreSQL tests skip, saying how to enable them; under CI=true they fail instead."""
    from pgserver import PgServer, Unavailable

    try:
        server = PgServer().start()
    except Unavailable as exc:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"CI=true but no PostgreSQL server could start: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """A PostgreSQL URL whose tables go to a new schema of their own."""
    return pg_server.url(schema=f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request, tmp_path):
    """Where a shelf store goes, once per implementation: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "var" / "shelves.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def bookcrossing_raw():
    """`RawData` of the whole Book-Crossing dump (about 10 s)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    from engine import loaders

    return loaders.load_bookcrossing(SHARED / "book-crossing")


@pytest.fixture(scope="session")
def bookcrossing_grouping(bookcrossing_raw):
    """`engine.dataset.group_raw` of the dump: its editions grouped into works (about 20 s)."""
    from engine.dataset import group_raw

    return group_raw(bookcrossing_raw)


@pytest.fixture(scope="session")
def bookcrossing_dataset(bookcrossing_raw, bookcrossing_grouping):
    """The dump as `rarereads prepare` makes it a dataset."""
    from engine.dataset import build_dataset

    return build_dataset(bookcrossing_raw, grouping=bookcrossing_grouping)
