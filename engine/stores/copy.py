"""`rarereads shelves copy FROM TO`: every reader's data from one shelf store into another.

For a bot that outgrows one machine (SQLite -> PostgreSQL), or back. The source is read in
one snapshot; the destination must be empty and takes every row in one transaction, whose
counts are checked before it commits: a copy that does not add up, or fails half-way, keeps
nothing. A new SQLite destination is written beside its final name and renamed into place
only when complete, so a failure leaves no file either.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ShelfStoreError
from ..shelf import is_url, open_shelves, shown_location


def copy_shelves(source: str | Path, destination: str | Path) -> dict[str, int]:
    """Copy every table `engine.stores.schema.TABLES` names; returns the rows per table.

    Raises:
        ShelfStoreError: One line: either store unusable, the destination not empty, the
            same store twice, or counts that differ (nothing is then kept).
    """
    if str(source).strip() == str(destination).strip() or (
            not is_url(source) and not is_url(destination) and Path(source).resolve() == Path(destination).resolve()):
        raise ShelfStoreError("copy from a store into another one, not into itself")
    if not is_url(source) and not Path(source).is_file():
        raise ShelfStoreError(f"{source}: no shelf database there")
    src = open_shelves(source)
    try:
        tables = src.dump()
    finally:
        src.close()
    expected = {table: len(rows) for table, rows in tables.items()}
    staged = None
    if not is_url(destination) and not Path(destination).exists():
        final = Path(destination)
        staged = final.with_name(f".{final.name}.copy-{os.getpid()}")
        destination = staged
    try:
        dest = open_shelves(destination)
        try:
            dest.load(tables)
            counts = dest.counts()
        finally:
            dest.close()
        if counts != expected:
            raise ShelfStoreError(f"{shown_location(destination)}: holds {counts} after the copy, not {expected}")
        if staged is not None:
            os.replace(staged, final)
            staged = None
    finally:
        if staged is not None:
            for leftover in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm")):
                leftover.unlink(missing_ok=True)
    return counts
