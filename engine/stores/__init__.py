"""Shelf store implementations behind `engine.shelf.ShelfStore`: one SQL text (`sql.py`), one list of
migrations (`schema.py`), and a thin module per database (`sqlite.py`, `postgres.py`, imported late)."""
