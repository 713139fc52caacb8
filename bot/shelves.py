"""`rarereads shelves copy FROM TO`: move every reader's data from one shelf store into another.

FROM and TO are each a SQLite file or a `postgresql://` URL, e.g. SQLite -> PostgreSQL when a
bot outgrows one machine. TO must be empty (a new file, or a database rarereads has not
stored anything in); the copy is one transaction whose counts are checked before it
commits, so a failure changes nothing. Stop the bots first: what they write during the
copy would not be in it.
"""
from __future__ import annotations

import argparse
import sys

from engine.shelf import shown_location


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True,
                                help="copy: every reader's data from one store into an empty one")
    copy = sub.add_parser("copy", help="copy every reader's data from FROM into the empty store TO",
                          description="Copy every reader's shelves, dismissals, shares, pending questions, "
                                      "button payloads and the retrain gate's verdicts from FROM into TO.")
    copy.add_argument("source", metavar="FROM", help="the store to copy: a SQLite file or a postgresql:// URL")
    copy.add_argument("destination", metavar="TO", help="an empty store (a new SQLite file, or a postgresql:// URL)")


def run(args: argparse.Namespace) -> int:
    from engine.errors import ShelfStoreError
    from engine.stores.copy import copy_shelves

    try:
        counts = copy_shelves(args.source, args.destination)
    except ShelfStoreError as exc:
        print(f"rarereads shelves copy: {exc}", file=sys.stderr)
        return 1
    print(f"copied {shown_location(args.source)} -> {shown_location(args.destination)}: "
          + ", ".join(f"{n:,} {table}" for table, n in counts.items()) + " (counts checked)")
    return 0
