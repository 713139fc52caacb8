"""`rarereads recommend "Dune"`: one answer for scripts (text or --json), no conversation.

Exit codes: 0 ok, 1 the title was not found or is ambiguous, 2 bad arguments or no model.
It only reads: the folder that serves comes from the retrain gate's record, and nothing
(no verdict, no store) is written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.rarity import DEFAULT_RARITY, RARITIES
from rarereads.paths import DEFAULT_DB, DEFAULT_MODELS_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("title", help='a book you liked, e.g. "Dune" or "Dune by Frank Herbert"')
    parser.add_argument("-k", type=int, default=10, help="how many books (default 10)")
    parser.add_argument("--rarity", default=DEFAULT_RARITY, choices=list(RARITIES),
                        help="; ".join(f"{name}: {r.description}" for name, r in RARITIES.items())
                        + f" (default: {DEFAULT_RARITY})")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"model folder (default: the newest in {DEFAULT_MODELS_DIR})")


def run(args: argparse.Namespace) -> int:
    from bot.gate import served_engine
    from engine.errors import AmbiguousTitle, BookNotFound, InvalidInput, ModelFolderError, ShelfStoreError
    from engine.shelf import read_verdicts

    try:
        engine = served_engine(DEFAULT_MODELS_DIR, read_verdicts(DEFAULT_DB) if args.model is None else {}, args.model)
    except (ModelFolderError, ShelfStoreError) as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        found = engine.lookup(args.title)
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    except BookNotFound as exc:
        names = "; ".join(m.work.label for m in exc.candidates[:3])
        print(f"no book matches {args.title!r}." + (f" Did you mean: {names}?" if names else ""), file=sys.stderr)
        return 1
    except AmbiguousTitle as exc:
        names = "; ".join(w.label for w in exc.candidates)
        print(f"{args.title!r} could be several books: {names}. Add the author, e.g. \"Title by Author\".",
              file=sys.stderr)
        return 1
    work = found.work
    result = engine.recommend([work], k=max(1, args.k), rarity=args.rarity)
    if args.json:
        payload = {
            "query": {"title": work.title, "author": work.author, "likes": work.likes, "url": work.url,
                      "also": [{"title": w.title, "author": w.author, "url": w.url} for w in found.also]},
            "rarity": result.rarity,
            "model": result.model_version,
            "recommendations": [
                {"title": p.work.title, "author": p.work.author, "year": p.work.year or None,
                 "likes": p.work.likes, "score": p.score, "reason": p.reason, "url": p.work.url} for p in result.picks],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        if found.also:
            print(found.also_line)
        print(f"Readers who loved {work.label} also loved ({result.rarity}):")
        for i, p in enumerate(result.picks, 1):
            print(f"{i}. {p.work.label} · {p.reason}")
    return 0
