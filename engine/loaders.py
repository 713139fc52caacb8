"""Readers for raw interaction dumps: Book-Crossing, goodbooks-10k, generic CSVs (readers' own
library exports are `engine.imports`).

Every reader returns a `RawData` of editions and ratings; `engine.dataset.build_dataset`
merges editions into works. Readers never raise on a single bad row: they count it in
`RawData.skipped` so that `rarereads prepare` can report it.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import DataFormatError
from .normalize import clean_isbn, isbn13, normalize_title

_YEAR = re.compile(r"\d{1,4}")


@dataclass
class Edition:
    """One book as a raw file lists it (an ISBN or a source-specific id)."""

    book_id: str
    title: str
    author: str
    year: int = 0
    cover_url: str = ""
    isbns: tuple[str, ...] = ()
    publisher: str = ""


@dataclass
class RawData:
    """Editions and ratings read from one source, before editions are merged into works."""

    source: str
    rating_scale: int  # ratings run 1..rating_scale; 0 means implicit (no score)
    editions: list[Edition]
    ratings: list[tuple[str, str, float]]  # (user, book_id, rating)
    skipped: Counter = field(default_factory=Counter)


def _open_text(path: Path, encoding: str = "utf-8") -> io.TextIOBase:
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path} does not exist")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding, errors="replace", newline="")
    return open(path, encoding=encoding, errors="replace", newline="")


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def parse_year(text: str) -> int:
    """Year of publication, or 0 when missing or implausible (BX has 0 and years like 2050)."""
    text = (text or "").strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not _YEAR.fullmatch(text):
        return 0
    year = int(text)
    return year if 1000 <= year <= 2030 else 0


# --- Book-Crossing -------------------------------------------------------------------

def _bx_rows(path: Path, width: int, skipped: Counter, label: str) -> Iterator[list[str]]:
    with _open_text(path, encoding="latin-1") as handle:
        reader = csv.reader(handle, delimiter=";", quotechar='"', escapechar="\\", doublequote=False)
        header = next(reader, None)
        if header is None:
            raise DataFormatError(f"{path} is empty")
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                skipped[label] += 1
                continue
            if len(row) != width:
                skipped[label] += 1
                continue
            yield row


def load_bookcrossing(folder: str | Path) -> RawData:
    """Read `BX-Books.csv[.gz]` and `BX-Book-Ratings.csv[.gz]` from `folder`.

    Ratings of 0 are implicit (no score). A rating's ISBN finds its book in either form,
    ISBN-10 or ISBN-13, also with a leading zero lost ("441172660"); ratings whose ISBN
    is not in the book list are skipped, since nothing can be shown for them.
    """
    folder = Path(folder)
    books_path, ratings_path = _find(folder, "BX-Books.csv"), _find(folder, "BX-Book-Ratings.csv")
    if not books_path or not ratings_path:
        raise DataFormatError(f"{folder} lacks BX-Books.csv and BX-Book-Ratings.csv (optionally .gz)")
    skipped: Counter = Counter()
    editions = []
    for row in _bx_rows(books_path, 8, skipped, "book rows"):
        isbn = clean_isbn(row[0])
        if not isbn or not row[1].strip():
            skipped["book rows"] += 1
            continue
        editions.append(Edition(isbn, row[1], row[2], parse_year(row[3]), row[6] or row[5], (isbn,), row[4]))
    known = {e.book_id for e in editions}
    by_isbn13 = {isbn13(e.book_id): e.book_id for e in editions}
    ratings = []
    for row in _bx_rows(ratings_path, 3, skipped, "rating rows"):
        isbn = clean_isbn(row[1])
        try:
            rating = float(row[2])
        except ValueError:
            skipped["rating rows"] += 1
            continue
        if isbn not in known:
            isbn = by_isbn13.get(isbn13(isbn), "")
            if not isbn:
                skipped["ratings of unknown ISBNs"] += 1
                continue
        ratings.append((row[0].strip(), isbn, rating))
    return RawData("book-crossing", 10, editions, ratings, skipped)


# --- goodbooks-10k -------------------------------------------------------------------

def load_goodbooks(folder: str | Path) -> RawData:
    """Read goodbooks-10k: `books.csv`, `ratings.csv` (or `ratings-first50k.csv`), `to_read.csv`.

    To-read entries become implicit interactions (rating 0), which are never likes.
    """
    folder = Path(folder)
    books_path = _find(folder, "books.csv")
    ratings_path = _find(folder, "ratings.csv") or _find(folder, "ratings-first50k.csv")
    if not books_path or not ratings_path:
        raise DataFormatError(f"{folder} lacks goodbooks-10k books.csv and ratings.csv")
    skipped: Counter = Counter()
    editions = []
    with _open_text(books_path) as handle:
        for row in csv.DictReader(handle):
            try:
                isbns = tuple(i for i in (clean_isbn(row.get("isbn", "")), _exact_isbn13(row.get("isbn13", ""))) if i)
                title = row.get("original_title") or ""
                if not normalize_title(title):  # empty, or in a script that folds away
                    title = row["title"]
                editions.append(Edition(row["book_id"], title, row["authors"],
                                        parse_year(row.get("original_publication_year", "")),
                                        row.get("image_url", ""), isbns))
            except (KeyError, TypeError):
                skipped["book rows"] += 1
    ratings = list(_rating_rows(ratings_path, ("user_id", "book_id", "rating"), skipped))
    to_read = _find(folder, "to_read.csv") or _find(folder / "samples", "to_read.csv")
    if to_read:
        with _open_text(to_read) as handle:
            for row in csv.DictReader(handle):
                if row.get("user_id") and row.get("book_id"):
                    ratings.append((row["user_id"], row["book_id"], 0.0))
                else:
                    skipped["to-read rows"] += 1
    return RawData("goodbooks-10k", 5, editions, ratings, skipped)


def _exact_isbn13(text: str) -> str:
    """goodbooks stores ISBN-13 as a float ("9.78043902348e+12"), which lost digits; keep exact ones only."""
    text = (text or "").strip()
    return text if text.isdigit() and len(text) == 13 else ""


def _rating_rows(path: Path, columns: tuple[str, str, str], skipped: Counter) -> Iterator[tuple[str, str, float]]:
    user_col, book_col, rating_col = columns
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {user_col, book_col} <= set(reader.fieldnames):
            raise DataFormatError(f"{path} needs columns {user_col},{book_col}[,{rating_col}]")
        for row in reader:
            try:
                rating = float(row.get(rating_col) or 0)
                user, book = row[user_col].strip(), row[book_col].strip()
            except (TypeError, ValueError, AttributeError):
                skipped["rating rows"] += 1
                continue
            if not user or not book:
                skipped["rating rows"] += 1
                continue
            yield user, book, rating


# --- generic CSV pair ----------------------------------------------------------------

def load_generic(interactions: str | Path, books: str | Path, rating_scale: int = 5) -> RawData:
    """Read interactions `user,book,rating` and books `book,title,author[,year,cover_url,isbn,publisher]`."""
    skipped: Counter = Counter()
    editions = []
    with _open_text(Path(books)) as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"book", "title", "author"} <= set(reader.fieldnames):
            raise DataFormatError(f"{books} needs columns book,title,author[,year,cover_url]")
        for row in reader:
            if not (row.get("book") or "").strip() or not (row.get("title") or "").strip():
                skipped["book rows"] += 1
                continue
            isbn = clean_isbn(row.get("isbn") or "")
            editions.append(Edition(row["book"].strip(), row["title"], row.get("author") or "",
                                    parse_year(row.get("year") or ""), row.get("cover_url") or "",
                                    (isbn,) if isbn else (), row.get("publisher") or ""))
    ratings = list(_rating_rows(Path(interactions), ("user", "book", "rating"), skipped))
    return RawData("generic", rating_scale, editions, ratings, skipped)
