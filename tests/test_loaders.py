"""Loaders on the real files in ../shared/datasets and on small files written here."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from engine import loaders
from engine.dataset import Dataset, Works, build_dataset
from engine.errors import DataFormatError
from engine.normalize import display_title, fix_mojibake, normalize_author, work_key

from conftest import ROOT, SHARED, needs_shared


def test_editions_merge_into_works():
    assert work_key("Dune (Dune Chronicles (Berkley Paperback))", "Frank Herbert") == work_key("Dune", "FRANK HERBERT")
    assert work_key("Dune Messiah", "Frank Herbert") != work_key("Dune", "Frank Herbert")
    assert work_key("The Hobbit", "J.R.R. Tolkien") == work_key("The Hobbit", "J. R. R. Tolkien")
    assert work_key("Cien años de soledad", "Gabriel García Márquez") == work_key("Cien Anos de Soledad", "Gabriel Garcia Marquez")
    assert work_key("Dune", "Herbert, Frank") == work_key("Dune", "Frank Herbert")
    assert display_title("Dune (Remembering Tomorrow)") == "Dune"


def test_first_author_only():
    assert normalize_author("Terry Pratchett & Neil Gaiman") == normalize_author("Terry Pratchett")
    assert normalize_author("Ed J Smith") == "ed j smith"


def test_mojibake_repaired():
    assert fix_mojibake("Der KÃ?Â¶nig in Gelb.") == "Der König in Gelb."
    assert fix_mojibake("Cien AÃ±os de Soledad") == "Cien Años de Soledad"
    assert fix_mojibake("Plain title") == "Plain title"


def _write_bx(folder: Path) -> None:
    books = [
        '"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";"Publisher";"Image-URL-S";"Image-URL-M";"Image-URL-L"',
        '"0441172660";"Dune (Dune Chronicles (Berkley Paperback))";"Frank Herbert";"1987";"Ace";"s";"m1";"l"',
        '"0425080021";"Dune";"Frank Herbert";"1984";"Berkley";"s";"m2";"l"',
        '"0441172695";"Dune Messiah";"Frank Herbert";"0";"Ace";"s";"m3";"l"',
        '"0000000001";"Broken \\"row";"only three fields"',
        '"0000000002";"Title with \\"quotes\\"";"A. Writer";"2050";"P";"s";"";"l"',
    ]
    ratings = ['"User-ID";"ISBN";"Book-Rating"', '"1";"0441172660";"9"', '"1";"0425080021";"5"',
               '"2";"0425080021";"8"', '"2";"0441172695";"0"', '"3";"9999999999";"10"', '"3";"0000000002";"7"',
               '"3";"0441172695";"not a number"']
    for name, lines in (("BX-Books.csv.gz", books), ("BX-Book-Ratings.csv.gz", ratings)):
        with gzip.open(folder / name, "wt", encoding="latin-1", newline="") as handle:
            handle.write("\r\n".join(lines) + "\r\n")


def test_bookcrossing_small_file_tolerates_broken_rows(tmp_path):
    _write_bx(tmp_path)
    raw = loaders.load_bookcrossing(tmp_path)
    assert raw.skipped["book rows"] == 1
    assert raw.skipped["ratings of unknown ISBNs"] == 1
    assert raw.skipped["rating rows"] == 1
    ds = build_dataset(raw)
    titles = sorted(ds.works.title)
    assert titles == ["Dune", "Title with \"quotes\""]  # Dune Messiah had only an implicit rating
    dune = ds.works.title.index("Dune")
    assert set(ds.works.isbns[dune].split("|")) == {"0441172660", "0425080021"}
    assert ds.works.year[dune] == 1984
    assert ds.works.year[ds.works.title.index('Title with "quotes"')] == 0  # 2050 is not a year
    users, works = ds.likes()
    # reader 1 rated two editions of Dune (9 and 5): the best rating counts, once
    assert len(users) == 3 and sorted(np.bincount(works).tolist()) == [1, 2]


def test_ratings_find_their_book_by_isbn_10_or_13(tmp_path):
    """A rating written as ISBN-13, or as an ISBN-10 that lost its leading zero, still counts."""
    _write_bx(tmp_path)
    with gzip.open(tmp_path / "BX-Book-Ratings.csv.gz", "at", encoding="latin-1", newline="") as handle:
        handle.write('"4";"978-0441172665";"10"\r\n"5";"441172660";"9"\r\n"6";"9780000000000";"9"\r\n')
    raw = loaders.load_bookcrossing(tmp_path)
    assert ("4", "0441172660", 10.0) in raw.ratings and ("5", "0441172660", 9.0) in raw.ratings
    assert raw.skipped["ratings of unknown ISBNs"] == 2


def test_publishers_and_https_covers(tmp_path):
    _write_bx(tmp_path)
    ds = build_dataset(loaders.load_bookcrossing(tmp_path))
    dune = ds.works.title.index("Dune")
    assert ds.works.publisher[dune] in {"Ace", "Berkley"}
    (tmp_path / "books.csv").write_text("book,title,author,cover_url,publisher\nb1,Kindred,Octavia E. Butler,http://x.org/k.jpg,Beacon\n")
    (tmp_path / "likes.csv").write_text("user,book,rating\nu1,b1,5\n")
    ds = build_dataset(loaders.load_generic(tmp_path / "likes.csv", tmp_path / "books.csv"))
    assert ds.works.cover_url == ["https://x.org/k.jpg"] and ds.works.publisher == ["Beacon"]


def test_catalogues_without_a_publisher_column_still_load(tmp_path):
    with gzip.open(tmp_path / "works.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write("title\tauthor\tyear\tcover_url\tisbns\tlikes\nDune\tFrank Herbert\t1965\t\t0441172660\t3\n")
    works, extra = Works.read_tsv(tmp_path / "works.tsv.gz")
    assert works.publisher == [""] and extra["likes"].tolist() == [3]
    works.subset(np.array([0])).write_tsv(tmp_path / "again.tsv.gz")
    again, _ = Works.read_tsv(tmp_path / "again.tsv.gz", compact=True)
    assert list(again.publisher) == [""] and list(again.title) == ["Dune"]


def test_dataset_round_trip(tmp_path):
    _write_bx(tmp_path)
    ds = build_dataset(loaders.load_bookcrossing(tmp_path))
    ds.save(tmp_path / "ds")
    back = Dataset.load(tmp_path / "ds")
    assert back.works.title == ds.works.title and back.fingerprint() == ds.fingerprint()
    assert back.works.publisher == ds.works.publisher
    assert np.array_equal(back.rating, ds.rating) and back.rating_scale == 10


def test_dataset_load_refuses_other_folders(tmp_path):
    with pytest.raises(DataFormatError, match="rarereads prepare"):
        Dataset.load(tmp_path)


def test_generic_csvs_and_thresholds(tmp_path):
    (tmp_path / "books.csv").write_text("book,title,author,year\nb1,Kindred,Octavia E. Butler,1979\nb2,Dawn,Octavia E. Butler,1987\n,No id,X,1\n")
    (tmp_path / "likes.csv").write_text("user,book,rating\nu1,b1,5\nu1,b2,3\nu2,b2,4\nu3,b9,5\n")
    ds = build_dataset(loaders.load_generic(tmp_path / "likes.csv", tmp_path / "books.csv", rating_scale=5))
    assert len(ds.likes()[0]) == 2  # >= 4 of 5
    assert len(ds.likes(threshold=3)[0]) == 3
    with pytest.raises(DataFormatError):
        loaders.load_generic(tmp_path / "books.csv", tmp_path / "likes.csv")





def test_real_bookcrossing_dump(bookcrossing_raw, bookcrossing_dataset):
    raw, ds = bookcrossing_raw, bookcrossing_dataset
    assert len(raw.editions) == 271_379
    assert raw.skipped["ratings of unknown ISBNs"] > 100_000  # the dump rates many ISBNs it does not list
    users, works = ds.likes()
    assert 280_000 < len(users) < 300_000  # ~289k likes
    assert 95_000 < len(np.unique(works)) < 105_000  # ~100k liked works, editions merged
    dune = [i for i, (t, a) in enumerate(zip(ds.works.title, ds.works.author)) if t == "Dune" and "Herbert" in a]
    assert len(dune) == 1 and len(ds.works.isbns[dune[0]].split("|")) >= 5
    assert ds.works.publisher[dune[0]] and sum(map(bool, ds.works.publisher)) > 0.99 * len(ds.works)


@needs_shared
def test_real_goodbooks():
    raw = loaders.load_goodbooks(SHARED / "goodbooks-10k")
    assert len(raw.editions) == 10_000 and raw.rating_scale == 5
    assert any(r[2] == 0 for r in raw.ratings)  # to-read entries are implicit
    ds = build_dataset(raw)
    assert 25_000 < len(ds.likes()[0]) < 40_000
    gatsby = ds.works.title.index("The Great Gatsby")
    assert ds.works.author[gatsby] == "F. Scott Fitzgerald" and ds.works.year[gatsby] == 1925


def test_shipped_snapshot_is_small_and_loads():
    folder = ROOT / "data" / "bookcrossing"
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 25 * 2**20
    ds = Dataset.load(folder)
    assert len(ds.likes()[0]) == 289_455
    dune = ds.works.title.index("Dune")
    assert ds.works.publisher[dune] == "Berkley Publishing Group" and ds.works.series[dune] == "Dune Chronicles"


def test_display_names_prefer_ordinary_case(tmp_path):
    (tmp_path / "books.csv").write_text("book,title,author\nb1,THE UPLIFT WAR,DAVID BRIN\nb2,The Uplift War,David Brin\n"
                                        "b3,The Uplift War,DAVID BRIN\nb4,A HOVERING OF VULTURES,ROBERT BARNARD\n")
    (tmp_path / "likes.csv").write_text("user,book,rating\nu1,b1,5\nu2,b2,5\nu3,b3,5\nu4,b4,5\n")
    ds = build_dataset(loaders.load_generic(tmp_path / "likes.csv", tmp_path / "books.csv"))
    assert sorted(zip(ds.works.title, ds.works.author)) == [("A Hovering of Vultures", "Robert Barnard"),
                                                            ("The Uplift War", "David Brin")]
