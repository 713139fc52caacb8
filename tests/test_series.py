"""Series notes from goodbooks-10k (`train.series`): known answers, and the shipped dataset carries them."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.dataset import Dataset, Works
from train.series import build_table, fill, read_table, read_tables

DATA = Path(__file__).resolve().parent.parent / "data" / "bookcrossing"
HEADER = ["book_id", "isbn", "authors", "original_title", "title", "ratings_count"]
BOOKS = [
    ["1", "671525808", "Douglas Adams", "So Long, and Thanks for All the Fish",
     "So Long, and Thanks for All the Fish (Hitchhiker's Guide to the Galaxy, #4)", "93774"],
    ["2", "582418275", "John Grisham", "The Firm", "The Firm (Penguin Readers, Level 5)", "488269"],
    ["3", "044021145X", "John Grisham", "The Firm", "The Firm", "6962"],
    ["4", "316602906", "James Patterson", "The Big Bad Wolf", "The Big Bad Wolf  (Alex Cross, #9)", "37060"],
    ["5", "345391802", "Douglas Adams", "The Hitchhiker's Guide to the Galaxy",
     "The Hitchhiker's Guide to the Galaxy (Hitchhiker's Guide to the Galaxy, #1)", "1000000"],
    ["6", "441172717", "Frank Herbert", "Dune", "Dune (Dune Chronicles #1)", "500000"],
    ["7", "439023483", "Suzanne Collins", "The Hunger Games", "The Hunger Games", "4780653"],
    ["8", "553250426", "Jean M. Auel", "The Valley of Horses", "The Valley of Horses (Earth's Children, #2)", "157000"],
    ["9", "425213382", "Patricia Cornwell", "Cause of Death", "Cause of Death (Kay Scarpetta, #7)", "35742"],
    ["10", "1234567890", "Tom Smith", "Cause of Death", "Cause of Death (Medical Files, #2)", "100"],
]


def _table(tmp_path):
    path = tmp_path / "books.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(BOOKS)
    return build_table(path)


def _works(rows):
    titles, authors, isbns, series = zip(*rows)
    return Works(list(titles), list(authors), np.zeros(len(rows), np.int32), [""] * len(rows), list(isbns),
                 None, list(series))


def test_works_take_the_series_goodbooks_names_for_them(tmp_path):
    table = _table(tmp_path)
    assert not any(r["series"] == "Penguin Readers, Level" for r in table)  # a graded reader's line is no series
    assert not any(r["title"] == "The Hunger Games" for r in table)  # a book without a series competes with none
    works = _works([
        ("So Long, and Thanks for All the Fish", "Douglas Adams", "0671525808", "Hitchhiker's Trilogy"),
        ("The Firm", "John Grisham", "0582418275|044021145X", "Random House Large Print"),
        ("Big Bad Wolf", "James Patterson", "0316602906", ""),  # its ISBN, not its title, finds it
        ("Dune", "Frank Herbert", "", "Dune Chronicles #1"),  # the editions' own note, with its volume, stays
        ("Life, the Universe and Everything", "Douglas Adams", "", "Hitchhiker's Trilogy"),  # as So Long's editions
        ("Life, the Universe and Everything", "Someone Else", "", "Hitchhiker's Trilogy"),  # not Adams
        ("Valley of the Horses", "Jean M. Auel", "", ""),  # goodbooks' "The Valley of Horses"
        ("Cause of Death", "Patricia Daniels Cornwell", "0425134091", ""),  # the author's name in another form
        ("Cause of Death", "Jane Smith", "", ""),  # another writer's book of that title
    ])
    changed = fill(works, table)
    assert works.series == ["Hitchhiker's Guide to the Galaxy", "Random House Large Print", "Alex Cross",
                            "Dune Chronicles #1", "Hitchhiker's Guide to the Galaxy", "Hitchhiker's Trilogy",
                            "Earth's Children", "Kay Scarpetta", ""]
    assert changed == 5
    assert fill(works, table) == 0  # filled once, nothing more to fill


def test_the_shipped_dataset_carries_the_shipped_series():
    works = Dataset.load(DATA).works
    before = list(works.series)
    assert fill(works, read_tables()) == 0, "run `python -m train.series fill data/bookcrossing`"
    assert works.series == before
    titles = {t: i for i, t in enumerate(works.title)}
    assert works.series[titles["The Big Bad Wolf"]] == "Alex Cross"
    assert works.series[titles["Quidditch Through the Ages"]] == "Harry Potter"  # the team's row (universes.tsv)


def test_the_teams_rows_name_a_world_no_title_names(tmp_path):
    """`universes.tsv`: a book of a series' world takes the series, over goodbooks' row for its title."""
    team = [row for row in read_tables() if row["title"] == "Fantastic Beasts and Where to Find Them"]
    assert team and all(row["source"] for row in team)
    goodbooks = [{"isbn": "", "title": "Fantastic Beasts and Where to Find Them", "author": "J.K. Rowling",
                  "series": "", "ratings": "185928"}]
    works = _works([("Fantastic Beasts and Where to Find Them", "J. K. Rowling", "", ""),
                    ("Fantastic Beasts and Where to Find Them", "Someone Else", "", "")])
    assert fill(works, goodbooks) == 0
    assert fill(works, goodbooks + team) == 1
    assert works.series == ["Harry Potter", ""]
