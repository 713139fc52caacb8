"""engine.kinds: what a work is, read off its title, author and publisher."""
from __future__ import annotations

import numpy as np
import pytest

from engine.kinds import AID, BOOK, CHILDREN, KINDS, kind_codes, work_kind


@pytest.mark.parametrize("title, author, publisher", [
    ("Of Mice and Men", "John Milne", "Cliffs Notes"),
    ("Of Mice and Men: Study Guide", "Anon", ""),
    ("Hamlet", "Cliffs Notes", ""),
    ("Pride and Prejudice (York Notes)", "Jane Austen", ""),
    ("The Anxiety and Phobia Workbook", "Edmund J. Bourne", "New Harbinger"),
    ("Collins Gem Thesaurus", "Collins", ""),
    ("Merriam-Webster's Collegiate Dictionary", "Merriam-Webster", ""),
    ("Windows 95 for Dummies", "Andy Rathbone", ""),
    ("The Joy of Cooking Cookbook", "Irma S. Rombauer", ""),
    ("Cracking the SAT", "Adam Robinson", "Princeton Review"),
])
def test_study_aids(title, author, publisher):
    assert KINDS[work_kind(title, author, publisher)] == "aid"


@pytest.mark.parametrize("title, publisher", [
    ("Dinosaur Board Books: Stegosaurus", ""),
    ("Where's Spot? (Lift-the-Flap Book)", ""),
    ("The Poky Little Puppy", "Golden Books"),
])
def test_childrens_books(title, publisher):
    assert work_kind(title, "", publisher) == CHILDREN


@pytest.mark.parametrize("title, author, publisher", [
    ("Of Mice and Men", "John Steinbeck", "Penguin Books"),
    ("Atlas Shrugged", "Ayn Rand", "Signet"),
    ("Cloud Atlas", "David Mitchell", "Random House"),
    ("The Handmaid's Tale", "Margaret Atwood", "Anchor"),
    ("Hamlet", "William Shakespeare", ""),
    ("The Picture of Dorian Gray", "Oscar Wilde", ""),
])
def test_novels_stay_books(title, author, publisher):
    assert work_kind(title, author, publisher) == BOOK


def test_kind_codes_is_one_code_per_work():
    codes = kind_codes(["Dune", "Dune Study Guide", "My First Book of Colors"], ["Frank Herbert", "x", "y"])
    assert codes.dtype == np.uint8 and codes.tolist() == [BOOK, AID, CHILDREN]
