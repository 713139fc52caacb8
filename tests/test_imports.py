"""Library imports from real-format Goodreads and StoryGraph exports, bad files, and `rarereads import`.

The files below are written the way the two sites write them: Goodreads' full header,
`="0441172660"` ISBN cells, a byte-order mark, CRLF line ends, reviews with quoted
newlines; StoryGraph's header, several authors in one cell, quarter stars, ISBN-13s.
"""
from __future__ import annotations

import codecs
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.imports import DNF, READ, READING, WANT, ExportError, isbn_forms, read_export
from engine.shelf import open_shelves

ROOT = Path(__file__).resolve().parent.parent
R = "local:importer"
GOODREADS_HEADER = ("Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,Publisher,"
                    "Binding,Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,"
                    "Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies")
GOODREADS_ROWS = [
    '234225,"Dune (Dune, #1)",Frank Herbert,"Herbert, Frank",,"=""0441172660""","=""9780441172665""",5,4.25,Ace,'
    'Paperback,604,1990,1965,2020/01/02,2019/12/01,,,read,"Loved it.\r\nThe spice, the sand,\r\n""the worms"".",,,1,0',
    '11,Solaris,Stanislaw Lem,"Lem, Stanislaw",,"=""""","=""""",4,4.01,,,,,1961,,2021/01/01,,,read,,,,1,0',
    '12,Roadside Picnic,Arkady Strugatsky,"Strugatsky, Arkady",Boris Strugatsky,"=""""","=""9781613743416""",0,4.2,,,,,'
    '1972,,2021/01/01,to-read,to-read (#1),to-read,,,,0,0',
    '13,Stoner,John Williams,"Williams, John",,"=""1590171993""","=""""",0,4.3,,,,,1965,,2021/01/02,currently-reading,'
    'currently-reading (#1),currently-reading,,,,0,0',
    '14,"Dune",Frank Herbert,"Herbert, Frank",,"=""""","=""""",5,4.25,,,,,1965,,2021/01/03,,,read,,,,1,0',  # twice
    '15,A Book Nobody Has Heard Of,Zed Unknown,"Unknown, Zed",,"=""""","=""""",3,3.0,,,,,2001,,2021/01/04,,,read,,,,1,0',
]
STORYGRAPH_HEADER = ("Title,Authors,Contributors,ISBN/UID,Format,Read Status,Date Added,Last Date Read,Dates Read,"
                     "Read Count,Moods,Pace,Character- or Plot-Driven?,Strong Character Development?,Loveable Characters?,"
                     "Diverse Characters?,Flawed Characters?,Star Rating,Review,Content Warnings,"
                     "Content Warning Description,Tags,Owned?")
STORYGRAPH_ROWS = [
    'The Dispossessed,Ursula K. Le Guin,,9780061054884,paperback,read,2023/01/05,2023/02/01,2023/01/05-2023/02/01,1,'
    '"reflective, challenging",slow,Character,Yes,Yes,Yes,Yes,4.5,"Anarres.\nUrras.",,,"sf, classics",Yes',
    '"Roadside Picnic","Arkady Strugatsky, Boris Strugatsky",Olena Bormashenko,9781613743416,digital,read,2023/03/01,'
    ',,,,,,,,,,3.75,,,,,No',
    'Pavane,Keith Roberts,,,paperback,to-read,2023/04/01,,,0,,,,,,,,,,,,,No',
    'Dhalgren,Samuel R. Delany,,0375706682,paperback,did-not-finish,2023/04/02,,,0,,,,,,,,1.25,,,,,No',
]


def export_bytes(header: str, rows: list[str], bom: bool = True, newline: str = "\r\n") -> bytes:
    return ((codecs.BOM_UTF8 if bom else b"") + newline.join([header, *rows, ""]).encode("utf-8"))


@pytest.fixture
def engine(tiny_engine):
    return tiny_engine


@pytest.fixture
def service(tiny_service):
    return tiny_service


def _shelf(service, shelf=READ):
    return [(e.title, e.rating) for e in service.shelves.entries(R, shelf=shelf)]


# --- parsing --------------------------------------------------------------------------------

def test_a_real_goodreads_export_parses_row_by_row():
    export = read_export(export_bytes(GOODREADS_HEADER, GOODREADS_ROWS))
    assert export.source == "Goodreads" and len(export.rows) == 6
    dune = export.rows[0]
    assert (dune.title, dune.author, dune.rating, dune.status) == ("Dune (Dune, #1)", "Frank Herbert", 5, READ)
    assert dune.isbns == ("0441172660", "9780441172665")  # ="..." cells, both forms
    assert [r.status for r in export.rows] == [READ, READ, WANT, READING, READ, READ]
    assert export.rows[2].isbns == ("9781613743416", "1613743416")  # ISBN-13 only: the ISBN-10 too


def test_a_real_storygraph_export_is_detected_beside_goodreads():
    export = read_export(export_bytes(STORYGRAPH_HEADER, STORYGRAPH_ROWS, bom=False, newline="\n"))
    assert export.source == "StoryGraph"
    rows = {r.title: r for r in export.rows}
    assert rows["Roadside Picnic"].author == "Arkady Strugatsky"  # the first of several authors
    assert (rows["The Dispossessed"].rating, rows["Roadside Picnic"].rating, rows["Dhalgren"].rating) == (5, 4, 1)
    assert (rows["Pavane"].status, rows["Dhalgren"].status) == (WANT, DNF)


def test_utf16_and_windows_1252_files_are_decoded():
    text = "\r\n".join([GOODREADS_HEADER, *GOODREADS_ROWS[:2], '16,Pedro Páramo,Juan Rulfo,"Rulfo, Juan",,"=""""",'
                        '"=""""",5,4,,,,,1955,,2021/01/01,,,read,,,,1,0', ""])
    for data in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("cp1252")):
        export = read_export(data)
        assert [r.title for r in export.rows][-1] == "Pedro Páramo"


@pytest.mark.parametrize("data,says", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image"),
    (b"PK\x03\x04" + b"\0" * 100, "spreadsheet"),
    (b"\x00\x01\x02binary\xff\x00" * 50, "not text"),
    (b"user,book,rating\n1,2,3\n", "no Title and Author columns"),
    (export_bytes(GOODREADS_HEADER, []), "no books"),
    (export_bytes(GOODREADS_HEADER, ['1,Dune,Frank Herbert,,,,,1e309,,,,,,,,,,,read,,,,1,0']), "1e309"),
    (export_bytes(GOODREADS_HEADER, ['1,Dune,Frank Herbert,,,,,7,,,,,,,,,,,read,,,,1,0']), "not 0 to 5"),
    (export_bytes(GOODREADS_HEADER, ['1,Dune,Frank Herbert,,,,,5,,,,,,,,,,,read,"' + "x" * 200_000 + '",,,1,0']),
     "longer than"),
    (b"\x81\x8d\x8f\x90 not text in any encoding we read\n", "neither UTF-8"),
])
def test_a_bad_file_is_refused_in_one_line(data, says):
    with pytest.raises(ExportError) as caught:
        read_export(data)
    message = str(caught.value)
    assert says in message and "\n" not in message and len(message) < 300


def test_isbn_10_and_13_are_one_identifier():
    assert isbn_forms("0441013597") == ("0441013597", "9780441013593")
    assert isbn_forms("978-0-441-01359-3") == ("9780441013593", "0441013597")
    assert isbn_forms("080442957X") == ("080442957X", "9780804429573")
    assert isbn_forms("not an isbn") == ()


# --- importing into a shelf -------------------------------------------------------------------

def test_a_goodreads_import_fills_both_shelves_and_says_what_did_not_match(service):
    reply = service.shelf_import(R, export_bytes(GOODREADS_HEADER, GOODREADS_ROWS))
    assert _shelf(service) == [("Dune (Dune, #1)", 5), ("Solaris", 4)]  # Dune twice: once
    assert _shelf(service, WANT) == [("Roadside Picnic", None)]
    assert "Imported 3 books from your Goodreads export (2 books read, 1 to read)" in reply.text
    assert "A Book Nobody Has Heard Of" in reply.text and "1 listed twice" in reply.text
    assert "1 being read" in reply.text
    row, why = reply.report.unmatched[0]
    assert row.title == "A Book Nobody Has Heard Of" and "no ISBN" in why
    again = service.shelf_import(R, export_bytes(GOODREADS_HEADER, GOODREADS_ROWS))
    assert "0 new, 3 already on your shelf" in again.text and service.shelves.count(R) == 2


def test_a_storygraph_import(service):
    reply = service.shelf_import(R, export_bytes(STORYGRAPH_HEADER, STORYGRAPH_ROWS, bom=False, newline="\n"))
    assert "StoryGraph" in reply.text
    assert _shelf(service) == [("The Dispossessed", 5), ("Roadside Picnic", 4)]
    assert _shelf(service, WANT) == [("Pavane", None)] and "1 not finished" in reply.text


def test_want_to_read_books_are_shown_apart_and_never_recommended(service):
    service.shelf_import(R, export_bytes(STORYGRAPH_HEADER, STORYGRAPH_ROWS, bom=False))
    want = service.handle_text(R, "/shelf want")
    assert want.kind == "shelf" and "Pavane" in want.text and "Dispossessed" not in want.text
    picks = service.handle_text(R, "/recommend k=25 rarity=any").recommendations.picks
    assert "Pavane" not in {p.work.title for p in picks}
    assert {w.title for w in service.handle_text(R, "/recommend").recommendations.query} == {
        "The Dispossessed", "Roadside Picnic"}  # the want list is not a like


def test_a_bad_or_oversized_file_writes_nothing(service):
    service.shelf_add(R, "Solaris")
    rows = GOODREADS_ROWS[:2] + ['20,Dune,Frank Herbert,,,,,1e309,,,,,,,,,,,read,,,,1,0']
    for data in (export_bytes(GOODREADS_HEADER, rows), export_bytes(GOODREADS_HEADER, GOODREADS_ROWS[:1] * 51)):
        reply = service.shelf_import(R, data)
        assert reply.kind == "error" and "Nothing was changed" in reply.text
        assert _shelf(service) == [("Solaris", None)], reply.text
    assert "at most 50" in reply.text


def test_an_import_is_one_transaction(tmp_path, engine):
    store = open_shelves(tmp_path / "s.sqlite")
    dune, solaris = engine.resolve("Dune"), engine.resolve("Solaris")
    with pytest.raises(ValueError):
        store.add_many(R, [(dune, "Dune", 5, READ), (solaris, "Solaris", 9, READ)])  # the second cannot be stored
    assert store.count(R) == 0
    store.close()


def test_rarereads_import_prints_what_matched_what_did_not_and_why(engine, tmp_path):
    path = tmp_path / "goodreads_library_export.csv"
    path.write_bytes(export_bytes(GOODREADS_HEADER, GOODREADS_ROWS))
    db = tmp_path / "cli.sqlite"
    run = subprocess.run([sys.executable, "-m", "rarereads", "import", str(path), "--db", str(db), "--reader", "ana",
                          "--model", str(engine.folder.path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert "Dune (Dune, #1) -> Dune — Frank Herbert (1965) [ISBN]" in run.stdout
    assert "Solaris -> Solaris — Stanislaw Lem (1961) [title]" in run.stdout
    assert "A Book Nobody Has Heard Of: not found (no ISBN; closest title" in run.stdout
    store = open_shelves(db)
    assert store.count("local:ana") == 2 and store.count("local:ana", shelf=WANT) == 1
    store.close()
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    run = subprocess.run([sys.executable, "-m", "rarereads", "import", str(bad), "--db", str(db),
                          "--model", str(engine.folder.path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1 and "image" in run.stderr


def test_rarereads_import_keeps_to_import_max_rows(engine, tmp_path):
    """`rarereads import` ignored RAREREADS_IMPORT_MAX_ROWS: the bots refused a file it took whole."""
    path = tmp_path / "goodreads_library_export.csv"
    path.write_bytes(export_bytes(GOODREADS_HEADER, GOODREADS_ROWS))  # six books
    db = tmp_path / "cli.sqlite"
    run = subprocess.run([sys.executable, "-m", "rarereads", "import", str(path), "--db", str(db),
                          "--model", str(engine.folder.path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "RAREREADS_IMPORT_MAX_ROWS": "2"})
    assert run.returncode == 1 and "at most 2" in run.stderr, run.stderr
    store = open_shelves(db)
    assert store.n_readers() == 0  # nothing imported
    store.close()


def test_an_empty_file_is_said_to_be_empty_and_no_file_gets_the_how_to(service):
    from bot.commands import command
    from bot.grammar import Call

    empty = service.run(R, Call(command("shelf import"), {"file": b""}))
    assert empty.kind == "error" and "empty" in empty.text and "Nothing was changed" in empty.text
    none = service.handle_text(R, "/import")
    assert none.kind == "info" and "as a file" in none.text
