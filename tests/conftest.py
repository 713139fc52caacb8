"""Fixtures shared by the service and import tests: the tiny stand-in model and a service over it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "standins"))


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
    from engine.shelf import ShelfStore

    shelves = ShelfStore(tmp_path / "shelves.sqlite")
    yield Service(EngineHolder(tiny_engine), shelves, max_import_rows=50)
    shelves.close()
