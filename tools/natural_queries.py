"""Natural queries for `rarereads bench` and the tests: well-known titles typed the way people type them.

Written by hand (not generated from the catalogue): what a reader types in a chat for a
book they know, with "and" for "&", apostrophes left out, words run together, the
leading article dropped or added, a surname after the title, lowercase throughout. Each
names its work by display title and a word of the author's name; `expected_works` finds
it in a catalogue (the most liked work with that title key and author word).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.matcher import fold_many
from engine.normalize import drop_article, fold, normalize_title

# (query, expected title, a word of the author's name, kind)
NATURAL_QUERIES: tuple[tuple[str, str, str, str], ...] = (
    ("crime and punishment", "Crime and Punishment", "Dostoyevsky", "plain"),
    ("jonathan strange and mr norrell", "Jonathan Strange & Mr. Norrell", "Clarke", "& as and"),
    ("pride & prejudice", "Pride and Prejudice", "Austen", "and as &"),
    ("angels and demons", "Angels & Demons", "Brown", "& as and"),
    ("romeo + juliet", "Romeo and Juliet", "Shakespeare", "+ as and"),
    ("angelas ashes", "Angela's Ashes", "McCourt", "no apostrophe"),
    ("bridget jones diary", "Bridget Jones's Diary", "Fielding", "no apostrophe"),
    ("the handmaids tale", "The Handmaid's Tale", "Atwood", "no apostrophe"),
    ("hitchhikers guide to the galaxy", "The Hitchhiker's Guide to the Galaxy", "Adams", "no apostrophe"),
    ("snowcrash", "Snow Crash", "Stephenson", "joined words"),
    ("watership down", "Watership Down", "Adams", "plain"),
    ("slaughterhouse five", "Slaughterhouse Five", "Vonnegut", "split words"),
    ("hobbit", "The Hobbit", "Tolkien", "article dropped"),
    ("da vinci code", "The Da Vinci Code", "Brown", "article dropped"),
    ("lord of the rings", "The Lord of the Rings", "Tolkien", "article dropped"),
    ("catcher in the rye", "The Catcher in the Rye", "Salinger", "article dropped"),
    ("great gatsby", "The Great Gatsby", "Fitzgerald", "article dropped"),
    ("the alchemist", "The Alchemist", "Coelho", "article kept"),
    ("the memoirs of a geisha", "Memoirs of a Geisha", "Golden", "article added"),
    ("the fahrenheit 451", "Fahrenheit 451", "Bradbury", "article added"),
    ("of mice and men", "Of Mice and Men", "Steinbeck", "plain"),
    ("the lovely bones", "The Lovely Bones", "Sebold", "plain"),
    ("to kill a mockingbird", "To Kill a Mockingbird", "Lee", "plain"),
    ("1984", "1984", "Orwell", "plain"),
    ("life of pi", "Life of Pi", "Martel", "plain"),
    ("the secret life of bees", "The Secret Life of Bees", "Kidd", "plain"),
    ("the red tent", "The Red Tent", "Diamant", "plain"),
    ("wild animus", "Wild Animus", "Shapero", "plain"),
    ("the five people you meet in heaven", "The Five People You Meet in Heaven", "Albom", "plain"),
    ("tuesdays with morrie", "Tuesdays with Morrie: An Old Man, a Young Man, and Life's Greatest Lesson", "Albom",
     "subtitle left out"),
    ("girl with a pearl earring", "Girl with a Pearl Earring", "Chevalier", "plain"),
    ("the poisonwood bible", "The Poisonwood Bible", "Kingsolver", "plain"),
    ("harry potter and the sorcerers stone", "Harry Potter and the Sorcerer's Stone", "Rowling", "no apostrophe"),
    ("harry potter prisoner of azkaban", "Harry Potter and the Prisoner of Azkaban", "Rowling", "missing words"),
    ("the time travelers wife", "The Time Traveler's Wife", "Niffenegger", "no apostrophe"),
    ("dune", "Dune", "Herbert", "plain"),
    ("brave new world", "Brave New World", "Huxley", "plain"),
    ("east of eden", "East of Eden", "Steinbeck", "plain"),
    ("the color purple", "The Color Purple", "Walker", "plain"),
    ("gone with the wind", "Gone with the Wind", "Mitchell", "plain"),
    ("a tale of two cities", "A Tale of Two Cities", "Dickens", "plain"),
    ("jane eyre", "Jane Eyre", "Bronte", "plain"),
    ("wuthering heights", "Wuthering Heights", "Bronte", "plain"),
    ("the bell jar", "The Bell Jar", "Plath", "plain"),
    ("into thin air", "Into Thin Air", "Krakauer", "plain"),
    ("the stand by stephen king", "The Stand", "King", "title by author"),
    ("the shining king", "The Shining", "King", "surname after"),
    ("the firm grisham", "The Firm", "Grisham", "surname after"),
    ("interview with the vampire", "Interview with the Vampire", "Rice", "plain"),
    ("solaris lem", "Solaris", "Lem", "surname after"),
    ("cien anos de soledad", "Cien años de soledad", "Marquez", "no accents"),
    ("one hundred years of solitude", "One Hundred Years of Solitude", "Marquez", "plain"),
    ("lord of the flies", "Lord of the Flies", "Golding", "plain"),
    ("the hours", "The Hours", "Cunningham", "plain"),
    ("hyperion simmons", "Hyperion", "Simmons", "surname after"),
    ("neuromancer", "Neuromancer", "Gibson", "plain"),
)


def expected_works(titles: Sequence[str], authors: Sequence[str], likes: np.ndarray | Sequence[int],
                   queries: Sequence[tuple[str, str, str, str]] = NATURAL_QUERIES) -> list[int | None]:
    """For each query, the most liked work with its title key and a word of its author's name; None if absent.

    `titles` are display titles (a catalogue's), so their title key is their folded form
    without its leading article.
    """
    wanted = {normalize_title(title) for _, title, _, _ in queries}
    by_key: dict[str, list[int]] = {}
    for i, folded in enumerate(fold_many(titles)):
        key = drop_article(folded)
        if key in wanted:
            by_key.setdefault(key, []).append(i)
    found = []
    for _, title, author_word, _ in queries:
        word = fold(author_word)
        ids = [i for i in by_key.get(normalize_title(title), []) if word in fold(authors[i]).split()]
        found.append(max(ids, key=lambda i: likes[i]) if ids else None)
    return found


def natural_queries(titles: Sequence[str], authors: Sequence[str], likes: np.ndarray | Sequence[int]) -> tuple[list[dict], int]:
    """The natural queries whose work a catalogue holds, as `rarereads bench` query dicts, and how many it lacks."""
    found = expected_works(titles, authors, likes)
    queries = [{"text": text, "work": work, "kind": kind, "with_author": kind in ("title by author", "surname after"),
                "natural": True} for (text, _, _, kind), work in zip(NATURAL_QUERIES, found) if work is not None]
    return queries, len(found) - len(queries)


def short_title_lookups(engine, n: int = 200) -> tuple[int, list[tuple[str, str, str]]]:
    """How many of the `n` most-liked works a reader finds by their short title, and the misses.

    The short title is the title before its subtitle or alternate title ("Wicked" for
    "Wicked: The Life and Times of the Wicked Witch of the West"). A work is found when
    `engine.lookup` answers with it, or answers with a more-liked work and names it on the
    "also:" line ("The Hobbit" answers *The Hobbit* and names *The Hobbit: The Enchanting
    Prelude to The Lord of the Rings*, an edition the catalogue lists apart). Misses are (query, what came back, the work wanted).
    """
    from engine.errors import AmbiguousTitle, BookNotFound
    from engine.normalize import split_alternate

    order = np.argsort(-np.asarray(engine.likes), kind="stable")[:n]
    found, misses = 0, []
    for i in order.tolist():
        work = engine.work(i)
        query = split_alternate(work.title)[0]
        try:
            answer = engine.lookup(query)
        except (AmbiguousTitle, BookNotFound) as exc:
            misses.append((query, type(exc).__name__, work.label))
            continue
        if answer.work.id == i or (answer.work.likes >= work.likes and i in {w.id for w in answer.also}):
            found += 1
        else:
            misses.append((query, answer.work.label, work.label))
    return found, misses
