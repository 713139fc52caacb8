"""`rarereads recommend "Dune"`: one answer for scripts (text or --json), no conversation.

With `--json` every outcome is one JSON object on stdout, errors included:

- found: `{"query": {...}, "rarity", "model", "recommendations": [...]}`;
- `{"error": "ambiguous", "message", "query", "choices": [works, the most liked first]}`;
- `{"error": "not_found", "message", "query", "did_you_mean": [works]}`;
- `{"error": "invalid", "message", "query"}` (an empty or over-long title);
- `{"error": "no_model", "message"}`, `{"error": "usage", "message"}`.

Exit codes: 0 recommendations printed; 1 the title was not found, is ambiguous or is not
a title; 2 bad arguments or no usable model. Without `--json` the same outcomes are text
(errors on stderr). It only reads: the folder that serves comes from the retrain gate's
record in the shelf store, and nothing (no verdict, no store) is written.
"""
from __future__ import annotations

import argparse
import json
import sys

from .settings import Settings, add_setting_flags

OK, NO_ANSWER, USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("title", help='a book you liked, e.g. "Dune" or "Dune by Frank Herbert"')
    parser.add_argument("-k", type=int, default=10, help="how many books (default 10)")
    add_setting_flags(parser, "default_rarity")
    parser.add_argument("--json", action="store_true", help="print one JSON object, also for errors (exit codes: "
                                                            "0 ok, 1 no such or ambiguous title, 2 usage or no model)")
    add_setting_flags(parser, "models_dir", "model")
    if "--json" in sys.argv[1:]:  # argument errors in JSON too (argparse would print usage text)
        parser.error = lambda message: _exit_json(USAGE, "usage", message)


def _exit_json(code: int, error: str, message: str) -> None:
    print(json.dumps({"error": error, "message": message}, ensure_ascii=False))
    raise SystemExit(code)


def _work(work) -> dict:
    return {"title": work.title, "author": work.author, "year": work.year or None, "likes": work.likes, "url": work.url}


def run(args: argparse.Namespace) -> int:
    from bot.gate import served_engine
    from engine.errors import AmbiguousTitle, BookNotFound, InvalidInput, ModelFolderError, ShelfStoreError
    from engine.shelf import read_verdicts

    from .settings import SettingsError, flag_values, load_settings

    def fail(code: int, error: str, message: str, **extra) -> int:
        if args.json:
            print(json.dumps({"error": error, "message": message, **extra}, ensure_ascii=False, indent=2))
        else:
            print(message, file=sys.stderr)
        return code

    if args.k < 1:
        return fail(USAGE, "usage", f"-k takes a number of books from 1 up, not {args.k}")
    try:
        settings = load_settings(**flag_values(args, Settings))
    except SettingsError as exc:
        return fail(USAGE, "usage", str(exc))
    try:
        verdicts = read_verdicts(settings.db) if settings.model is None else {}
        engine = served_engine(settings.models_dir, verdicts, settings.model)
    except (ModelFolderError, ShelfStoreError) as exc:
        return fail(USAGE, "no_model", str(exc))
    try:
        found = engine.lookup(args.title)
    except InvalidInput as exc:
        return fail(NO_ANSWER, "invalid", str(exc), query=args.title)
    except BookNotFound as exc:
        near = [m.work for m in exc.candidates[:3]]
        names = "; ".join(w.label for w in near)
        return fail(NO_ANSWER, "not_found", f"no book matches {args.title!r}." + (f" Did you mean: {names}?" if names else ""),
                    query=args.title, did_you_mean=[_work(w) for w in near])
    except AmbiguousTitle as exc:
        names = "; ".join(w.label for w in exc.candidates)
        return fail(NO_ANSWER, "ambiguous", f"{args.title!r} could be several books: {names}. "
                                            "Add the author, e.g. \"Title by Author\".",
                    query=args.title, choices=[_work(w) for w in exc.candidates])
    work = found.work
    result = engine.recommend([work], k=args.k, rarity=settings.default_rarity)
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
            print(f"{i}. {p.work.label} · {p.reason}\n   {p.work.url}")
    return OK
