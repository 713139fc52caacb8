"""`rarereads import FILE`: a Goodreads or StoryGraph export into a shelf, from the command line.

Prints every book as it went: what it matched in the catalogue and how (by ISBN or by
title), or why it did not match. A file that is not an export is refused in one line and
changes nothing (exit status 1): it is read before the shelf store is opened, so a refused
import creates no database either. A reader id that names no user is a usage error (2).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.shelf import shown_location

from .settings import Settings, add_setting_flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="goodreads_library_export.csv, or a StoryGraph export CSV")
    parser.add_argument("--reader", default=None,
                        help="whose shelf: a name (the terminal's reader local:NAME) or platform:id such as "
                             "telegram:12345 (default: your login name, as in `rarereads chat`)")
    add_setting_flags(parser, "db", "models_dir", "model")


def run(args: argparse.Namespace) -> int:
    from bot.chat import local_reader
    from bot.gate import served_engine
    from bot.replies import Imported
    from bot.service import Service
    from engine.errors import ModelFolderError, ShelfStoreError
    from engine.imports import ExportError, read_export
    from engine.recommender import EngineHolder
    from engine.shelf import WANT, check_reader, open_shelves, read_verdicts

    from .settings import SettingsError, flag_values, load_settings

    reader = local_reader(args.reader)
    try:
        check_reader(reader)
    except ValueError:
        print(f"rarereads import: --reader {args.reader!r} names nobody: give a name (ana) or platform:id "
              "(telegram:12345)", file=sys.stderr)
        return 2
    try:
        settings = load_settings(**flag_values(args, Settings))
    except SettingsError as exc:
        print(f"rarereads import: {exc}", file=sys.stderr)
        return 2
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"rarereads import: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:  # refuse a file that is no export before anything is opened or created
        read_export(data, max_rows=settings.import_max_rows)
    except ExportError as exc:
        print(f"rarereads import: I couldn't import that file. {exc}. Nothing was changed.", file=sys.stderr)
        return 1
    try:
        engine = served_engine(settings.models_dir, read_verdicts(settings.db) if settings.model is None else {},
                               settings.model)
        shelves = open_shelves(settings.db)
    except (ModelFolderError, ShelfStoreError) as exc:
        print(f"rarereads import: {exc}", file=sys.stderr)
        return 2
    try:
        service = Service(EngineHolder(engine), shelves, max_import_rows=settings.import_max_rows)
        reply = service.shelf_import(reader, data)
    finally:
        shelves.close()
    if not isinstance(reply, Imported):
        print(f"rarereads import: {reply.text}", file=sys.stderr)
        return 1
    for row, work, shelf, how in reply.report.stored:
        print(f"{row.title} -> {work.label} [{how}]" + (" (want to read)" if shelf == WANT else ""))
    for row, why in reply.report.unmatched:
        print(f"{row.title}: not found ({why})")
    print(f"\n{reply.text}\n(reader {reader}, {shown_location(settings.db)})")
    return 0
