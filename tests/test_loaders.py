"""Loaders on the real files in ../shared/datasets and on small files written here."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from engine import loaders
from engine.dataset import Dataset, build_dataset
from engine.errors import DataFormatError
from engine.normalize import display_title, fix_mojibake, normalize_author, work_key

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent (the shared datasets folder sits beside the project)")


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


def test_dataset_round_trip(tmp_path):
    _write_bx(tmp_path)
    ds = build_dataset(loaders.load_bookcrossing(tmp_path))
    ds.save(tmp_path / "ds")
    back = Dataset.load(tmp_path / "ds")
    assert back.works.title == ds.works.title and back.fingerprint() == ds.fingerprint()
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





@needs_shared
def test_real_bookcrossing_dump():
    raw = loaders.load_bookcrossing(SHARED / "book-crossing")
    assert len(raw.editions) == 271_379
    assert raw.skipped["ratings of unknown ISBNs"] > 100_000  # the dump rates many ISBNs it does not list
    ds = build_dataset(raw)
    users, works = ds.likes()
    assert 280_000 < len(users) < 300_000  # ~289k likes
    assert 100_000 < len(np.unique(works)) < 110_000  # ~105k liked works
    dune = [i for i, (t, a) in enumerate(zip(ds.works.title, ds.works.author)) if t == "Dune" and "Herbert" in a]
    assert len(dune) == 1 and len(ds.works.isbns[dune[0]].split("|")) >= 5


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
    assert len(ds.likes()[0]) == 289_289


def test_display_names_prefer_ordinary_case(tmp_path):
    (tmp_path / "books.csv").write_text("book,title,author\nb1,THE UPLIFT WAR,DAVID BRIN\nb2,The Uplift War,David Brin\n"
                                        "b3,The Uplift War,DAVID BRIN\nb4,A HOVERING OF VULTURES,ROBERT BARNARD\n")
    (tmp_path / "likes.csv").write_text("user,book,rating\nu1,b1,5\nu2,b2,5\nu3,b3,5\nu4,b4,5\n")
    ds = build_dataset(loaders.load_generic(tmp_path / "likes.csv", tmp_path / "books.csv"))
    assert sorted(zip(ds.works.title, ds.works.author)) == [("A Hovering of Vultures", "Robert Barnard"),
                                                            ("The Uplift War", "David Brin")]
