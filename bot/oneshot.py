"""`rarereads recommend "Dune"`: one answer for scripts (text or --json), no conversation.

Exit codes: 0 ok, 1 the title was not found or is ambiguous, 2 bad arguments or no model.
"""
from __future__ import annotations

import argparse
import json
import sys

from .settings import Settings, add_setting_flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("title", help='a book you liked, e.g. "Dune" or "Dune by Frank Herbert"')
    parser.add_argument("-k", type=int, default=10, help="how many books (default 10)")
    add_setting_flags(parser, "default_rarity")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_setting_flags(parser, "models_dir", "model")


def run(args: argparse.Namespace) -> int:
    from bot.gate import serving_engine
    from engine.errors import AmbiguousTitle, BookNotFound, InvalidInput, ModelFolderError

    from .settings import SettingsError, flag_values, load_settings

    try:
        settings = load_settings(**flag_values(args, Settings))
    except SettingsError as exc:
        print(f"rarereads recommend: {exc}", file=sys.stderr)
        return 2
    try:
        engine, _ = serving_engine(settings.models_dir, settings.model)
    except ModelFolderError as exc:
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
    result = engine.recommend([work], k=max(1, args.k), rarity=settings.default_rarity)
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
