"""`rarereads prepare`: raw files -> compact dataset folder (see engine.dataset)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from engine import loaders
from engine.dataset import build_dataset

FORMATS = ("bookcrossing", "goodbooks", "generic")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="raw data: a Book-Crossing or goodbooks-10k folder, or an interactions CSV (generic)")
    parser.add_argument("out", type=Path, help="dataset folder to write")
    parser.add_argument("--format", choices=FORMATS, default=None, help="raw format (default: guessed from the files)")
    parser.add_argument("--books", type=Path, help="generic format: the books CSV (book,title,author[,year,cover_url,isbn,publisher])")
    parser.add_argument("--rating-scale", type=int, default=5, help="generic format: highest rating (default 5)")
    parser.add_argument("--keep-implicit", action="store_true", help="keep unrated interactions (rating 0); they are never likes")


def guess_format(source: Path) -> str:
    if source.is_file():
        return "generic"
    names = {p.name.removesuffix(".gz") for p in source.iterdir()}
    if "BX-Books.csv" in names:
        return "bookcrossing"
    if "books.csv" in names:
        return "goodbooks"
    raise SystemExit(f"cannot tell the format of {source}; pass --format")


def load_raw(source: Path, fmt: str | None = None, books: Path | None = None, rating_scale: int = 5) -> loaders.RawData:
    fmt = fmt or guess_format(source)
    if fmt == "bookcrossing":
        return loaders.load_bookcrossing(source)
    if fmt == "goodbooks":
        return loaders.load_goodbooks(source)
    if books is None:
        raise SystemExit("the generic format needs --books BOOKS.csv")
    return loaders.load_generic(source, books, rating_scale)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    raw = load_raw(args.source, args.format, args.books, args.rating_scale)
    dataset = build_dataset(raw, keep_implicit=args.keep_implicit)
    from .series import fill

    named = fill(dataset.works)  # the series goodbooks-10k names for well-known books (train.series)
    dataset.save(args.out)
    users, works = dataset.likes()
    from .profiles import profile, write_profile

    table, summary = profile(dataset)  # the genre profile of every work, carried from the labels (train.profiles)
    write_profile(Path(args.out), dataset, table, summary)
    print(f"{raw.source}: {len(raw.editions):,} editions, {len(raw.ratings):,} rating rows read")
    for what, count in sorted(raw.skipped.items()):
        print(f"  skipped {count:,} {what}")
    print(f"-> {len(dataset.works):,} works, {dataset.n_users:,} readers, {len(dataset.user):,} ratings, "
          f"{len(users):,} likes, in {args.out} ({time.perf_counter() - start:.1f} s; genre profiles from "
          f"{summary['labelled']:,} labelled works; {named:,} series from goodbooks-10k)")
    return 0
