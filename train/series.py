"""Series notes from goodbooks-10k: which series a well-known book belongs to.

Book-Crossing's editions name a series in parentheses only now and then ("Dune (Dune
Chronicles)"), and as often a publisher's line ("Mmp", "Random House Large Print"), so the
list rules (`engine.rules`) could not tell that *So Long, and Thanks for All the Fish* is
*The Hitchhiker's Guide to the Galaxy*'s own series, or *The Big Bad Wolf* *Four Blind
Mice*'s. goodbooks-10k's titles name it for 10,000 well-known books ("The Big Bad Wolf
(Alex Cross, #9)").

`python -m train.series build GOODBOOKS` writes `data/labels/series.tsv` (isbn, title,
author, series: one row per goodbooks book whose title names a series), the table the
project ships; `data/labels/universes.tsv` adds the team's rows, with their source: books of a series' world
that no title names (*Quidditch Through the Ages* is Harry Potter's). `fill` gives a dataset's
works those series: a work matches the most-rated
goodbooks book of its main title and author (the author's name in any form of one person:
"Patricia Daniels Cornwell" is goodbooks' "Patricia Cornwell"), articles ignored (so *The Firm* does not take
the graded reader "The Firm (Penguin Readers, Level 5)"'s line), else a book by one of its
ISBNs. A matched work's note becomes the series' name, without a volume: a volume would make
the `later_volume` rule pass over *The Da Vinci Code* (Robert Langdon, #2) for every reader;
a note of the work's own editions that names the same series is kept, with its volume; a
work of the same author whose editions name that other note (*Restaurnt End Univ*,
"Hitchhiker's Trilogy" like *So Long*'s) takes the series too. `prepare` fills every
dataset it builds; `python -m train.series fill DATASET` fills a prepared one (its
fingerprint, over ratings and titles, is unchanged).
"""
from __future__ import annotations

import argparse
import csv
import gzip
import logging
import re
import sys
from collections import Counter
from pathlib import Path

from engine.dataset import Dataset, Works
from engine.editions import name_tokens, same_person
from engine.normalize import ARTICLES, normalize_author, normalize_title, series_key, series_note, split_subtitle

TABLE = Path(__file__).resolve().parent.parent / "data" / "labels" / "series.tsv"
# The team's rows: books of a series' world that no title names (the Hogwarts Library is Harry
# Potter's), each with its source; they win over goodbooks' rows for their title.
UNIVERSES = TABLE.with_name("universes.tsv")
COLUMNS = ("isbn", "title", "author", "series", "ratings")
GRADED = re.compile(r"\b(level|stage)$", re.IGNORECASE)


def build_table(books_csv: Path) -> list[dict[str, str]]:
    """The rows of `series.tsv` from goodbooks-10k's `books.csv(.gz)`: every book, its series ("" when
    its title names none) and its ratings count (what the title match prefers)."""
    opener = gzip.open if str(books_csv).endswith(".gz") else open
    rows = []
    with opener(books_csv, "rt", encoding="utf-8", newline="") as handle:
        for book in csv.DictReader(handle):
            # only "(Series, #N)" names a series; of "(Discworld, #23; Witches)" the first
            note = series_note(book["title"].split(";")[0] + (")" if ";" in book["title"] else ""))
            name = note.rsplit(" #", 1)[0] if " #" in note else ""
            if GRADED.search(name):
                name = ""  # "The Firm (Penguin Readers, Level 5)": a graded reader's line, goodbooks' best edition
            title = book["title"][:book["title"].find("(")].strip() if "(" in book["title"] else book["title"].strip()
            isbn = book["isbn"].strip().upper()
            isbn = isbn.zfill(10) if isbn and isbn != "NAN" and len(isbn) <= 10 else ""  # the CSV lost leading zeros
            author = book["authors"].split(",")[0].strip()
            count = int(float(book["ratings_count"] or 0))
            for shown in dict.fromkeys(t for t in (title, (book["original_title"] or "").strip()) if t):
                rows.append({"isbn": isbn, "title": shown, "author": author, "series": name, "ratings": str(count)})
                isbn = ""  # one row holds the ISBN; the original title is a second way to find the book
    named = {_title_key(r["title"], r["author"]) for r in rows if r["series"]}
    # a book without a series is kept where it competes with one for a title (the main *The Firm*)
    return [r for r in rows if r["series"] or _title_key(r["title"], r["author"]) in named]


def write_table(rows: list[dict[str, str]], path: Path = TABLE) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_table(path: Path = TABLE) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def read_tables() -> list[dict[str, str]]:
    """goodbooks' rows and the team's (`UNIVERSES`), the team's counted as the most rated: the rows `fill` reads."""
    return read_table() + [{**row, "ratings": str(sys.maxsize)} for row in read_table(UNIVERSES)]


def _title_key(title: str, author: str) -> tuple[str, str]:
    """A main title's words without articles anywhere ("Valley of the Horses" is goodbooks' "The Valley of
    Horses"), and the author."""
    words = normalize_title(split_subtitle(title)[0]).split()
    return " ".join(w for w in words if w not in ARTICLES), normalize_author(author)


def _titled(by_title, title: str, author: str) -> tuple[int, str] | None:
    """(ratings, series) of the most-rated goodbooks book of this main title by this author, the name
    in any form of one person (`same_person`: "Patricia Daniels Cornwell" is goodbooks' "Patricia
    Cornwell"), or None."""
    person = name_tokens(author)
    return next(((ratings, series) for ratings, series, theirs in by_title.get(_title_key(title, author)[0], ())
                 if same_person(person, theirs)), None)


def fill(works: Works, rows: list[dict[str, str]] | None = None) -> int:
    """Give `works` the series the table names for them (module docstring); returns how many changed."""
    rows = read_tables() if rows is None else rows
    by_isbn = {r["isbn"]: r["series"] for r in rows if r["isbn"] and r["series"]}
    # Books by main title: (ratings, series, the author's name tokens), for `_titled`.
    by_title: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
    for r in rows:
        title = _title_key(r["title"], r["author"])[0]
        if title:
            by_title.setdefault(title, []).append((int(r["ratings"]), r["series"], name_tokens(r["author"])))
    for books in by_title.values():
        books.sort(key=lambda book: -book[0])
    series = list(works.series)
    named: dict[int, str] = {}
    matched: set[int] = set()
    aliases: dict[tuple[str, str], Counter] = {}  # (the editions' series key, author) -> the series goodbooks names
    for i, isbns in enumerate(works.isbns):
        titled = _titled(by_title, works.title[i], works.author[i])
        name = titled[1] if titled else next((by_isbn[x] for x in isbns.split("|") if x in by_isbn), "")
        if titled or name:
            matched.add(i)  # goodbooks knows this book: no other book's alias applies to it
        if not name or series_key(series[i]) == series_key(name):
            continue  # no series, or the editions' own note names it (and may give its volume)
        named[i] = name
        if series_key(series[i]):
            aliases.setdefault((series_key(series[i]), normalize_author(works.author[i])), Counter())[name] += 1
    for i, note in enumerate(series):  # "Restaurnt End Univ", "Hitchhiker's Trilogy" like *So Long ...*'s editions
        if i not in matched and (key := series_key(note)):
            counts = aliases.get((key, normalize_author(works.author[i])))
            alias = counts.most_common(1)[0][0] if counts else ""
            if alias and series_key(alias) != key:
                named[i] = alias
    for i, name in named.items():
        series[i] = name
    works.series = series
    return len(named)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.series", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write data/labels/series.tsv from goodbooks-10k")
    build.add_argument("goodbooks", type=Path, help="the goodbooks-10k folder (books.csv or books.csv.gz)")
    apply = sub.add_parser("fill", help="give a prepared dataset's works their series")
    apply.add_argument("dataset", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "build":
        books = next((p for p in (args.goodbooks / "books.csv.gz", args.goodbooks / "books.csv") if p.exists()), None)
        if books is None:
            print(f"no books.csv(.gz) in {args.goodbooks}", file=sys.stderr)
            return 2
        rows = build_table(books)
        write_table(rows)
        print(f"{TABLE}: {len(rows):,} rows, {sum(1 for r in rows if r['series']):,} naming a series")
        return 0
    dataset = Dataset.load(args.dataset)
    changed = fill(dataset.works)
    dataset.works.write_tsv(args.dataset / "works.tsv.gz")
    print(f"{args.dataset}: {changed:,} works took a series from {TABLE.name} and {UNIVERSES.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
