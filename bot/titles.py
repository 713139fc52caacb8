"""What a typed title names: whether a catalogue match is sure enough to act on, and shelf entries.

The engine's `lookup` finds the best work for any text with letters in it; these rules
decide, for a conversation, when that best work is only a guess to ask about: `' OR 1=1 --`
is not a way to name *Either/Or*, nor `a` a way to name a title the catalogue holds garbled.
"""
from __future__ import annotations

from rapidfuzz import fuzz, process

from engine.lookup import FAMOUS_LIKES
from engine.normalize import fold, holds_words, normalize_author, normalize_title, split_alternate, split_subtitle
from engine.results import Work
from engine.shelf import ShelfEntry

LOST = "\ufffd"  # a character the catalogue lost (its title was read in the wrong encoding)
MIN_TYPED = 3  # letters and digits a title needs unless it is the whole title
MIN_COVER = 0.5  # share of a work's title (before any subtitle) a shorter text must cover
MIN_COMMON_NAME = 5  # letters and digits of a famous book's common name ("' OR 1=1 --" has four)


def bare_title(title: str) -> str:
    """A title as it names a book: normalised (no leading article), the part before a subtitle."""
    return normalize_title(split_subtitle(title)[0])


def _alnum(text: str) -> int:
    return sum(c.isalnum() for c in text)


def weak_match(text: str, work: Work) -> bool:
    """Whether `text` names `work` only by chance: too little of it, or too little of its title.

    A text naming the work's whole title (as `bare_title` reads both) is never weak, however
    short ("Q", "It"), nor are whole words of a famous book's main title, `MIN_COMMON_NAME`
    letters or more ("catcher", "mockingbird": the look-up's common names). Otherwise a text
    needs `MIN_TYPED` letters or digits, and as many as `MIN_COVER` of the title's short form,
    before a subtitle or an alternate title ("dnue" covers all of Dune, "Wicked" all of "Wicked:
    The Life and Times..."; `' OR 1=1 --` is four of "Either/Or 1"'s nine). A title with
    characters the catalogue lost is never named whole: those characters are the ones a reader
    cannot type.
    """
    title = split_alternate(work.title)[0]
    if LOST not in title and bare_title(text) == bare_title(work.title):
        return False
    if _alnum(text) >= MIN_COMMON_NAME and work.likes >= FAMOUS_LIKES and holds_words(title, fold(text)):
        return False  # a famous book's common name: "catcher" for *The Catcher in the Rye*
    typed = _alnum(normalize_title(text))
    return typed < MIN_TYPED or typed < MIN_COVER * (_alnum(bare_title(title)) + title.count(LOST))


def named_entries(entries: list[ShelfEntry], text: str) -> list[ShelfEntry]:
    """Shelf entries `text` names: their title (with or without a leading article or subtitle),
    or title and author ("Dune by Herbert", "Dune - Herbert"). "Dune" never names Dune Messiah."""
    wanted = normalize_title(text)
    found = [e for e in entries if normalize_title(e.title) == wanted]
    if found:
        return found
    found = [e for e in entries if bare_title(e.title) == bare_title(text)]
    if found:
        return found
    for separator in (" by ", " - ", " — "):
        title, sep, author = text.rpartition(separator)
        if not sep:
            continue
        wanted_author = normalize_author(author)
        surname = wanted_author.split()[-1] if wanted_author else ""
        found = [e for e in entries if bare_title(e.title) == bare_title(title)
                 and (normalize_author(e.author) == wanted_author or surname in normalize_author(e.author).split())]
        if found:
            return found
    return []


def closest_entries(entries: list[ShelfEntry], text: str, limit: int = 5) -> list[ShelfEntry]:
    """The shelf's books nearest to `text` (for "did you mean"), best first."""
    names = [f"{e.title} {e.author}" for e in entries]
    hits = process.extract(text, names, scorer=fuzz.WRatio, processor=str.lower, limit=limit, score_cutoff=70)
    return [entries[i] for _, _, i in hits]
