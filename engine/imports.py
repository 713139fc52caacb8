"""Readers' own library exports: Goodreads' "Export Library" CSV and StoryGraph's export.

`read_export(data)` detects the format from the header and returns one `ExportRow` per
book: title, author, ISBNs, the reader's stars and a status (read, want to read, reading,
did not finish). A file that is not such an export (another encoding we cannot decode, a
binary file, a field past the CSV module's limit, an impossible rating, the wrong columns,
too many rows) raises `ExportError` with one line saying what is wrong: nothing of it is
used then. `match_export(engine, export)` then finds each row's work in a model's
catalogue (by ISBN, else by title and author) and says, row by row, how it went.

Real exports have quirks this reads as they come: Goodreads writes ISBNs as `="0441013597"`
(a spreadsheet formula keeping leading zeros), files may start with a byte-order mark,
reviews hold quoted newlines, StoryGraph lists several authors in one cell and rates in
quarter stars.
"""
from __future__ import annotations

import codecs
import csv
import io
import math
from dataclasses import dataclass, field

from .errors import DataFormatError
from .normalize import clean_isbn, work_key
from .shelf import READ as READ_SHELF, WANT as WANT_SHELF, printable

READ, WANT, READING, DNF = "read", "want", "reading", "dnf"
STATUSES = (READ, WANT, READING, DNF)
MAX_ROWS = 20_000  # books one import may hold by default (RAREREADS_IMPORT_MAX_ROWS)
MATCH_SCORE = 80  # a row without a known ISBN needs a title match this good
# Magic numbers of files people send by mistake instead of the CSV.
_NOT_CSV = ((b"PK\x03\x04", "a spreadsheet or zip file"), (b"%PDF", "a PDF"), (b"\x89PNG", "an image"),
            (b"\xff\xd8\xff", "an image"), (b"GIF8", "an image"), (b"SQLite format 3", "a database"),
            (b"\xd0\xcf\x11\xe0", "an old Excel or Word file"))
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class ExportError(DataFormatError):
    """The file is not a library export we can read; the message is one line for the reader."""


@dataclass(frozen=True)
class ExportRow:
    """One book of an export.

    Attributes:
        row: Its row number in the file (the header is row 1).
        title: As the reader's library spells it.
        author: The first author.
        isbns: ISBN-10 and ISBN-13 as given (digits and X).
        rating: The reader's stars, 1..5, or 0 for none.
        status: READ, WANT (to read), READING or DNF (did not finish).
    """

    row: int
    title: str
    author: str
    isbns: tuple[str, ...]
    rating: int
    status: str


@dataclass
class Export:
    """A parsed export: its `source` ("Goodreads" or "StoryGraph"), its rows, and rows without a title."""

    source: str
    rows: list[ExportRow] = field(default_factory=list)
    untitled: int = 0
    encoding: str = "utf-8"


def isbn_forms(isbn: str) -> tuple[str, ...]:
    """The ISBN as given and its other form: ISBN-10 <-> ISBN-13 (978 prefix), so either edition matches."""
    isbn = clean_isbn(isbn)
    if len(isbn) == 10 and isbn[:9].isdigit():
        core = "978" + isbn[:9]
        check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(core)) % 10) % 10
        return isbn, core + str(check)
    if len(isbn) == 13 and isbn.isdigit() and isbn.startswith("978"):
        core = isbn[3:12]
        check = (11 - sum(int(d) * (10 - i) for i, d in enumerate(core)) % 11) % 11
        return isbn, core + ("X" if check == 10 else str(check))
    return (isbn,) if len(isbn) in (10, 13) else ()


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) of an export's bytes; raises ExportError for what is not text we can read.

    UTF-8 (with or without a byte-order mark) is what both sites write; UTF-16 and UTF-32
    come from spreadsheets ("Unicode text"), Windows-1252 from older ones.
    """
    if not data.strip():
        raise ExportError("That file is empty")
    for magic, what in _NOT_CSV:
        if data.startswith(magic):
            raise ExportError(f"That is {what}, not a CSV export: export your library again and send the .csv file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding.removesuffix("-sig")
            except UnicodeDecodeError:
                raise ExportError(f"That file says it is {encoding.upper()} but is not; "
                                  "save it as CSV UTF-8 and send it again") from None
    sample = data[:4096]
    if sample.count(b"\0") > len(sample) // 4:  # UTF-16 without a byte-order mark: every other byte is 0
        encoding = "utf-16-le" if sample[1::2].count(b"\0") > sample[0::2].count(b"\0") else "utf-16-be"
        try:
            return data.decode(encoding), "utf-16"
        except UnicodeDecodeError:
            raise ExportError("That file is not text (it looks binary), not a CSV export") from None
    if b"\0" in data:
        raise ExportError("That file is not text (it holds NUL bytes), not a CSV export")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ExportError("That file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8 and send it again")


def _columns(header: list[str]) -> dict[str, int]:
    return {name.strip().lower(): i for i, name in enumerate(header)}


def _format(columns: dict[str, int]) -> str:
    if "title" in columns and "author" in columns:
        return "Goodreads"
    if "title" in columns and "authors" in columns:
        return "StoryGraph"
    shown = ", ".join(list(columns)[:6]) or "none"
    raise ExportError("That is not a Goodreads or StoryGraph export: it has no Title and Author columns "
                      f"(its columns: {printable(shown)[:120]})")


def _stars(text: str, row: int, column: str) -> int:
    """A rating cell as whole stars 0..5 (StoryGraph's quarter stars rounded half up)."""
    text = text.strip()
    if not text:
        return 0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 5:
        raise ExportError(f"Row {row}: {column} is {printable(text)[:20]!r}, not 0 to 5 stars")
    return max(1, math.floor(value + 0.5)) if value > 0 else 0


def _goodreads_status(shelf: str) -> str:
    shelf = shelf.strip().lower()
    if shelf == "to-read":
        return WANT
    if shelf == "currently-reading":
        return READING
    if "not-finish" in shelf or shelf in ("dnf", "abandoned"):
        return DNF
    return READ  # "read", and exclusive shelves readers made themselves


def _storygraph_status(status: str) -> str:
    status = status.strip().lower()
    return {"to-read": WANT, "currently-reading": READING, "did-not-finish": DNF, "paused": READING}.get(status, READ)


def read_export(data: bytes, max_rows: int | None = None) -> Export:
    """Parse a Goodreads or StoryGraph export (the file's bytes).

    Args:
        data: The file as uploaded.
        max_rows: Refuse files with more book rows than this (None: no limit).

    Raises:
        ExportError: with one line saying what is wrong; then no row is returned at all.
    """
    text, encoding = decode(bytes(data))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            raise ExportError("That file has no header row, so it is not a library export")
        columns = _columns(header)
        export = Export(_format(columns), encoding=encoding)
        get = lambda cells, name: cells[columns[name]] if name in columns and columns[name] < len(cells) else ""  # noqa: E731
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if max_rows is not None and len(export.rows) + export.untitled >= max_rows:
                raise ExportError(f"That export has more than {max_rows:,} books; I import at most {max_rows:,} "
                                  "at a time")
            row = reader.line_num
            title = " ".join(printable(get(cells, "title")).split())
            if not title:
                export.untitled += 1
                continue
            if export.source == "Goodreads":
                author = get(cells, "author")
                isbns = [get(cells, "isbn"), get(cells, "isbn13")]
                rating = _stars(get(cells, "my rating"), row, "My Rating")
                status = _goodreads_status(get(cells, "exclusive shelf") or "read")
            else:
                author = get(cells, "authors").split(",")[0]
                isbns = [get(cells, "isbn/uid")]
                rating = _stars(get(cells, "star rating"), row, "Star Rating")
                status = _storygraph_status(get(cells, "read status") or "read")
            forms = tuple(dict.fromkeys(f for isbn in isbns for f in isbn_forms(isbn)))
            export.rows.append(ExportRow(row, title, " ".join(printable(author).split()), forms, rating, status))
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field larger than field limit" in str(exc):
            raise ExportError(f"Row {reader.line_num} has a field longer than {limit:,} characters, "
                              "which no library export has") from None
        raise ExportError(f"Row {reader.line_num} is not valid CSV ({exc})") from None
    if not export.rows:
        raise ExportError(f"That {export.source} export has no books in it")
    return export


@dataclass
class ImportReport:
    """How each row of an export went.

    Attributes:
        stored: (row, work, shelf, how) for every book to put on a shelf, each work once; `how`
            is "ISBN", "title" (the catalogue's title and author) or "close title" (the matcher's).
        unmatched: (row, why) for books the catalogue does not have.
        duplicates: Rows naming a work an earlier row named.
        reading: Rows of books being read (neither liked yet nor wanted).
        dnf: Rows of books not finished.
    """

    stored: list = field(default_factory=list)
    unmatched: list = field(default_factory=list)
    duplicates: int = 0
    reading: int = 0
    dnf: int = 0


def match_export(engine, export: Export) -> ImportReport:
    """Find each export row's work in `engine`'s catalogue: by ISBN (either form) first, then
    by "title by author".

    Read and rated books go to the read shelf (stars kept), to-read ones to the want shelf;
    books being read or not finished are counted, not stored; a work named twice is stored once.
    """
    report, seen = ImportReport(), {}
    for row in export.rows:
        if row.status == DNF:
            report.dnf += 1
            continue
        if row.status == READING and not row.rating:
            report.reading += 1
            continue
        work = next((w for w in map(engine.work_by_isbn, row.isbns) if w is not None), None)
        why, how = "", "ISBN"
        if work is None:  # the same title and author as the catalogue's (its key), else the matcher
            how = "title"
            work = engine.work_by_key(work_key(row.title, row.author)) if row.author else None
        if work is None:
            query = f"{row.title} by {row.author}" if row.author else row.title
            best = engine.match_title(query[:300], limit=1)
            if best and best[0].score >= MATCH_SCORE:
                work, how = best[0].work, "close title"
            else:
                isbn = "no ISBN of it in my catalogue" if row.isbns else "no ISBN"
                near = f"closest title {best[0].work.label} ({best[0].score:.0f}%)" if best else "no similar title"
                why = f"{isbn}; {near}"
        if work is None:
            report.unmatched.append((row, why))
            continue
        shelf = WANT_SHELF if row.status == WANT and not row.rating else READ_SHELF
        if work.key in seen:
            report.duplicates += 1
            earlier = seen[work.key]
            if shelf == READ_SHELF and report.stored[earlier][2] == WANT_SHELF:  # read wins over want
                report.stored[earlier] = (row, work, READ_SHELF, how)
            continue
        seen[work.key] = len(report.stored)
        report.stored.append((row, work, shelf, how))
    return report
